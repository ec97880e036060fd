"""Simulated time: the world of the simulation (officers walking, driving, answering) may run faster than real time.

A :class:`Clock` gives simulated seconds since the Unix epoch. :class:`ScaledClock` starts at the real time and
then runs ``speed`` times faster; :class:`ManualClock` moves only when told (tests step it). Devices still
stamp their events with the real time: the command centre refuses events from the future, and its operators
live in real time. Only the world moves faster, so at ×10 an officer on foot covers 14 m of street per real
second while reporting a walking pace of 1.4 m/s. :meth:`ScaledClock.sim_time_of` maps a real moment (an operator's
confirmation, say) onto simulated time, so intervals between the two worlds can be measured in simulated seconds.
"""

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from vigil.sim.errors import InvalidSimSettings


class Clock(Protocol):
    """Simulated time."""

    def now(self) -> float:
        """Simulated seconds since the Unix epoch (UTC)."""
        ...


class ScaledClock:
    """Simulated time that starts at the real time and runs ``speed`` times as fast. Safe to share between threads."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the clock now.

        Args:
            speed: simulated seconds per real second, from 0.1 to 1,000.
            wall: real seconds since the Unix epoch (read once, at the start).
            monotonic: real monotonic seconds (elapsed real time is measured on it, so wall-clock steps do
                not make the simulation jump).

        Raises:
            InvalidSimSettings: ``speed`` out of range.
        """
        if not (math.isfinite(speed) and 0.1 <= speed <= 1000):
            raise InvalidSimSettings(f"the simulation's speed must be 0.1 to 1,000 times real time; got {speed!r}")
        self.speed = speed
        self._monotonic = monotonic
        self._started_wall = wall()
        self._started_monotonic = monotonic()

    def now(self) -> float:
        """See :meth:`Clock.now`."""
        return self._started_wall + (self._monotonic() - self._started_monotonic) * self.speed

    def sim_time_of(self, moment: datetime) -> float:
        """The simulated time (as :meth:`now` gives it) at a real, timezone-aware moment."""
        return self._started_wall + (moment.timestamp() - self._started_wall) * self.speed

    def real_seconds(self, sim_seconds: float) -> float:
        """How many real seconds ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed


class ManualClock:
    """Simulated time that moves only when :meth:`advance` is called. Safe to share between threads."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        """Start at ``start`` seconds since the Unix epoch."""
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """See :meth:`Clock.now`."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``.

        Returns:
            The new time.

        Raises:
            InvalidSimSettings: a negative or non-finite step.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise InvalidSimSettings(f"a clock moves forward by 0 or more seconds; got {seconds!r}")
        with self._lock:
            self._now += seconds
            return self._now
