"""Vigil: watchlist face recognition for body-worn cameras, with a human-in-the-loop command centre."""

__version__ = "0.1.0"
