"""Units' answers to dispatch orders."""
