"""Units: call signs, status, latest position and track."""
