"""Registered devices: machine tokens, revocation and reported statuses."""
