"""The audit trail: an append-only, hash-chained log of every action and every view of biometric data."""
