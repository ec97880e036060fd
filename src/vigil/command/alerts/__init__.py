"""Alerts raised by body cameras: stored with their face crops, listed for review."""
