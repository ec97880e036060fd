"""Where the officer is: the :class:`PositionFix`, the :class:`PositionSource` seam and the errors of its sources.

The sources live beside this module:

* :class:`vigil.edge.gpsd.GpsdSource`: the device's GPS receiver, through the gpsd daemon's JSON protocol (the real
  one).
* :class:`vigil.edge.nmea_replay.NmeaFileSource`: an NMEA 0183 log replayed (tests, demos, field logs), parsed by
  :mod:`vigil.edge.nmea`.
* :class:`vigil.edge.route.SimulatedRoute`: an officer walking a route at a steady speed (the embedded default).

Each keeps its newest fix in a :class:`LatestFix`, which hands it out only while it is fresh.

Hierarchy::

    VigilError
    └── EdgeError
        └── PositionError
            ├── InvalidFix              a coordinate, heading, speed, accuracy or time out of its range
            ├── InvalidRoute            a simulated route that cannot be walked
            ├── InvalidSourceSettings   a source's settings contradict themselves or are out of range
            ├── SourceAlreadyStarted    start() called twice: a source runs once
            └── NmeaLogUnreadable       an NMEA log file is missing or unreadable

(A bad sentence in a log is :class:`vigil.edge.nmea.BadSentence`; a replay skips and counts it.)
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, get_args

from vigil.edge.errors import EdgeError

FixSource = Literal["gps", "network", "sim"]
"""Where a fix came from: a GPS receiver, the phone network (cell/Wi-Fi), or a simulation."""


class PositionError(EdgeError):
    """Base class of every position error."""


class InvalidFix(PositionError):
    """A value of a position fix is outside its range.

    Attributes:
        field: the field concerned (``lat``, ``lon``, ``heading_deg`` …).
        value: the value given.
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        shown = value.isoformat() if isinstance(value, datetime) else repr(value)
        super().__init__(f"{field} must be {expected}; got {shown}")
        self.field = field
        self.value = value


class InvalidRoute(PositionError):
    """A simulated route has too few points, a point off the globe, a zero-length leg or no speed."""


class InvalidSourceSettings(PositionError):
    """A position source's settings are out of range or contradict each other."""


class SourceAlreadyStarted(PositionError):
    """``start()`` was called on a source that has already been started; make a new source instead."""


class NmeaLogUnreadable(PositionError):
    """An NMEA log file does not exist or cannot be read.

    Attributes:
        path: the log file.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read the NMEA log {path}: {reason}")
        self.path = path


def wrap_deg(angle: float) -> float:
    """An angle in degrees brought into [0, 360) (``%`` alone gives 360.0 for a tiny negative angle)."""
    wrapped = angle % 360.0
    return 0.0 if wrapped == 360.0 else wrapped


def _check_range(field: str, value: float, low: float, high: float, unit: str, *, high_open: bool = False) -> None:
    inside = low <= value < high if high_open else low <= value <= high
    if not (math.isfinite(value) and inside):
        upper = "" if high == math.inf else f" and below {high:g}" if high_open else f" and at most {high:g}"
        raise InvalidFix(field, value, f"at least {low:g}{upper} {unit}")


@dataclass(frozen=True)
class PositionFix:
    """Where the device was at one moment.

    Attributes:
        lat: latitude, degrees north (WGS 84), -90 to 90.
        lon: longitude, degrees east (WGS 84), -180 to 180.
        accuracy_m: horizontal error radius at about 95 % confidence, metres; None when unknown.
        heading_deg: course over ground, degrees clockwise from true north, 0 to below 360; None when unknown.
        speed_mps: speed over ground, metres per second; None when unknown.
        at: when the fix was taken, timezone-aware UTC.
        source: ``"gps"``, ``"network"`` or ``"sim"``.

    Raises:
        InvalidFix: a value is out of its range, or ``at`` is not an aware UTC time.
    """

    lat: float
    lon: float
    accuracy_m: float | None
    heading_deg: float | None
    speed_mps: float | None
    at: datetime
    source: FixSource

    def __post_init__(self) -> None:
        _check_range("lat", self.lat, -90.0, 90.0, "degrees (WGS 84)")
        _check_range("lon", self.lon, -180.0, 180.0, "degrees (WGS 84)")
        if self.accuracy_m is not None:
            _check_range("accuracy_m", self.accuracy_m, 0.0, math.inf, "metres")
        if self.heading_deg is not None:
            _check_range("heading_deg", self.heading_deg, 0.0, 360.0, "degrees from true north", high_open=True)
        if self.speed_mps is not None:
            _check_range("speed_mps", self.speed_mps, 0.0, math.inf, "metres per second")
        if self.at.tzinfo is None or self.at.utcoffset() != UTC.utcoffset(None):
            raise InvalidFix("at", self.at, "a timezone-aware UTC datetime (convert with .astimezone(UTC))")
        if self.source not in get_args(FixSource):
            raise InvalidFix("source", self.source, f"one of {', '.join(get_args(FixSource))}")


class PositionSource(Protocol):
    """A feed of position fixes. A source runs once: ``start()``, ``latest()`` as often as needed, ``stop()``."""

    def start(self) -> None:
        """Begin producing fixes (in the background where the source needs to listen).

        Raises:
            SourceAlreadyStarted: the source was started before.
        """
        ...

    def latest(self) -> PositionFix | None:
        """The newest fix; None before the first, after ``stop()``, or when the newest is too old to use."""
        ...

    def stop(self) -> None:
        """Stop producing fixes and release what the source holds. Safe to call more than once."""
        ...


class LatestFix:
    """The newest fix a source has received, handed out only while it is fresh. Safe to share between threads.

    A fix's age is measured on this device's monotonic clock from when it arrived, not from its ``at``: a
    receiver with a wrong clock, or a replayed log, does not make every fix stale.
    """

    def __init__(self, *, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Hold no fix yet.

        Args:
            max_age_s: the oldest fix, seconds since it arrived, that :meth:`get` still returns.
            clock: monotonic seconds.

        Raises:
            InvalidSourceSettings: ``max_age_s`` is not a positive number.
        """
        if not (math.isfinite(max_age_s) and max_age_s > 0):
            raise InvalidSourceSettings(f"max_age_s must be a positive number of seconds; got {max_age_s!r}")
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fix: PositionFix | None = None
        self._arrived = 0.0

    def put(self, fix: PositionFix) -> None:
        """Keep ``fix`` as the newest, arrived now."""
        with self._lock:
            self._fix, self._arrived = fix, self._clock()

    def get(self) -> PositionFix | None:
        """The newest fix, or None when there is none or it arrived more than ``max_age_s`` ago."""
        with self._lock:
            if self._fix is None or self._clock() - self._arrived > self._max_age_s:
                return None
            return self._fix

    def clear(self) -> None:
        """Forget the fix."""
        with self._lock:
            self._fix = None
