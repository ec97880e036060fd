"""Retention: biometric images deleted on schedule, every deletion audited, the records kept for the report."""
