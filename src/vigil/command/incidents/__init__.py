"""Incidents: a confirmed alert, the area around its subject, the units sent, and how it ended."""
