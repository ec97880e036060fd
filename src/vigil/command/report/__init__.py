"""The public report: faces processed, alerts, confirmed and dismissed, per device, deployment and version."""
