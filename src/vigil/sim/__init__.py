"""Simulated city for the demo and load tests: officers on patrol, cameras replaying video, suspects."""
