"""Ingestion: devices' events over the bus and HTTP, stored exactly once or recorded as rejected."""
