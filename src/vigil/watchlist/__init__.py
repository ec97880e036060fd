"""The watchlist: lawful subjects, their face templates, 1:N search, calibration and signed device packages."""
