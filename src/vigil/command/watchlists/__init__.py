"""Watchlists governed by the server: proposals, second-person approval, expiry, versions and device packages."""
