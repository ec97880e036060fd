"""The feed of accepted events' effects, for the live view."""
