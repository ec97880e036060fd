"""The body camera and its handset: video in, faces recognised, alerts out, orders in."""
