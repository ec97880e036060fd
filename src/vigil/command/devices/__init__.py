"""Registered devices: machine tokens, OsmAnd secrets, revocation and reported statuses."""
