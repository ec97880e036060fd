"""The human review of every alert: the queue, the reviewer's view, the decision, escalation."""
