"""What the command centre sends devices (review decisions, new watchlists): stored first, then published."""
