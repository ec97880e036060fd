"""The public reports: a period's, and each deployment's (its authorisation and its figures at every step)."""
