"""Benchmarks behind ``vigil bench``: performance targets are measured here, never in tests."""
