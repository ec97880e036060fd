"""How full the device's battery is: the :class:`Battery` seam, the Linux power-supply reading and a simulation.

The status bar shows it and the device status reports it. A device that cannot read its battery says so
(None) rather than guess.
"""

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vigil.edge.errors import EdgeError

POWER_SUPPLY = Path("/sys/class/power_supply")


class InvalidBatterySettings(EdgeError):
    """A simulated battery's charge or drain is out of its range."""


class Battery(Protocol):
    """A battery gauge."""

    def percent(self) -> float | None:
        """The charge left, 0 to 100 %, or None when the device cannot tell."""
        ...


class SysfsBattery:
    """The battery Linux reports under ``/sys/class/power_supply`` (the first supply of type ``Battery``)."""

    def __init__(self, root: Path = POWER_SUPPLY) -> None:
        """Read batteries under ``root``."""
        self._root = root

    def percent(self) -> float | None:
        """See :meth:`Battery.percent`; None with no battery, or one whose ``capacity`` cannot be read."""
        try:
            supplies = sorted(self._root.iterdir())
        except OSError:
            return None
        for supply in supplies:
            try:
                if (supply / "type").read_text().strip() != "Battery":
                    continue
                value = float((supply / "capacity").read_text().strip())
            except (OSError, ValueError):
                continue
            if math.isfinite(value):
                return min(100.0, max(0.0, value))
        return None


class SimulatedBattery:
    """A battery that drains steadily from a starting charge (simulated devices and demos)."""

    def __init__(
        self, *, start_pct: float, drain_pct_per_h: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Start at ``start_pct`` now.

        Args:
            start_pct: the charge at start, 0 to 100 %.
            drain_pct_per_h: percentage points lost per hour, 0 or more.
            clock: monotonic seconds.

        Raises:
            InvalidBatterySettings: a value out of its range.
        """
        if not (0 <= start_pct <= 100):
            raise InvalidBatterySettings(f"start_pct must be 0 to 100 %; got {start_pct!r}")
        if not (math.isfinite(drain_pct_per_h) and drain_pct_per_h >= 0):
            raise InvalidBatterySettings(f"drain_pct_per_h must be 0 or more; got {drain_pct_per_h!r}")
        self._start_pct = start_pct
        self._drain_pct_per_s = drain_pct_per_h / 3600
        self._clock = clock
        self._started = clock()

    def percent(self) -> float:
        """See :meth:`Battery.percent`: never below 0."""
        return max(0.0, self._start_pct - self._drain_pct_per_s * (self._clock() - self._started))
