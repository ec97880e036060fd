"""Repeat a piece of work and report the median time: this machine is shared and noisy, so one run says little."""

import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field


class Timing(BaseModel):
    """How long one piece of work took over several runs."""

    median_ms: float = Field(description="Median wall-clock time, milliseconds.")
    p95_ms: float = Field(description="95th percentile wall-clock time, milliseconds.")
    runs: int = Field(description="Timed runs (after the warm-up runs).")


def measure(work: Callable[[], object], *, runs: int, warmup: int = 1) -> Timing:
    """Time ``work`` ``runs`` times after ``warmup`` untimed calls.

    Args:
        work: the call to time; its result is discarded.
        runs: how many timed calls (at least 1).
        warmup: untimed calls first, so caches and lazy initialisation do not count.

    Returns:
        The median and 95th percentile in milliseconds.

    Raises:
        ValueError: ``runs`` is below 1.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for _ in range(warmup):
        work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000.0)
    return Timing(median_ms=float(np.median(samples)), p95_ms=float(np.percentile(samples, 95)), runs=runs)
