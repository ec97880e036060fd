"""A simulated officer walking a route at a steady speed (:class:`SimulatedRoute`), and the geodesy it walks on.

Distances and bearings treat the Earth as a sphere of :data:`EARTH_RADIUS_M`; points are (lat, lon) in degrees.
"""

import math
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import pairwise

from vigil.edge.position import InvalidRoute, PositionFix, SourceAlreadyStarted, wrap_deg

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG). Distances treat the Earth as this sphere: within 0.5 % of WGS 84."""

# Geodesy on the sphere of EARTH_RADIUS_M. Points are (lat, lon) in degrees.
Point = tuple[float, float]


def haversine_m(a: Point, b: Point) -> float:
    """The great-circle distance between two points, metres."""
    phi1, lam1, phi2, lam2 = map(math.radians, (*a, *b))
    h = math.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin((lam2 - lam1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: Point, b: Point) -> float:
    """The initial great-circle bearing from ``a`` towards ``b``, degrees clockwise from true north, [0, 360)."""
    phi1, lam1, phi2, lam2 = map(math.radians, (*a, *b))
    y = math.sin(lam2 - lam1) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(lam2 - lam1)
    return wrap_deg(math.degrees(math.atan2(y, x)))


def _along(a: Point, b: Point, fraction: float) -> Point:
    """The point ``fraction`` of the way from ``a`` to ``b`` along their great circle."""
    phi1, lam1, phi2, lam2 = map(math.radians, (*a, *b))
    delta = haversine_m(a, b) / EARTH_RADIUS_M
    wa, wb = math.sin((1 - fraction) * delta) / math.sin(delta), math.sin(fraction * delta) / math.sin(delta)
    x = wa * math.cos(phi1) * math.cos(lam1) + wb * math.cos(phi2) * math.cos(lam2)
    y = wa * math.cos(phi1) * math.sin(lam1) + wb * math.cos(phi2) * math.sin(lam2)
    z = wa * math.sin(phi1) + wb * math.sin(phi2)
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


class SimulatedRoute:
    """An officer walking (or driving) a route at a steady speed: a position by elapsed time, source ``"sim"``.

    The route follows great circles between the waypoints; the heading is the course from the current position
    towards the end of the current leg. With ``loop`` the route is a circuit: after the last waypoint it goes back
    to the first (along a closing leg unless they are the same point) and round again. Without it the officer
    stops at the last waypoint (speed 0, heading unknown). Accuracy is None: the position is exact, not measured.
    """

    def __init__(
        self,
        waypoints: Sequence[Point],
        speed_mps: float,
        *,
        clock: Callable[[], float] = time.time,
        loop: bool = True,
    ) -> None:
        """Lay out the route; :meth:`start` sets off.

        Args:
            waypoints: (lat, lon) points, degrees (WGS 84), at least two, consecutive ones distinct.
            speed_mps: speed along the route, metres per second.
            clock: seconds since the Unix epoch (UTC); gives the fixes' times and the elapsed time.
            loop: go round the route again and again.

        Raises:
            InvalidRoute: fewer than two points, a point off the globe, two equal consecutive points or no speed.
        """
        points = list(waypoints)
        if len(points) < 2:
            raise InvalidRoute(f"a route needs at least 2 waypoints; got {len(points)}")
        for index, (lat, lon) in enumerate(points):
            if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
                raise InvalidRoute(f"waypoint {index} must be (lat -90..90, lon -180..180) degrees; got {(lat, lon)}")
        if not (math.isfinite(speed_mps) and speed_mps > 0):
            raise InvalidRoute(f"speed_mps must be a positive number of metres per second; got {speed_mps!r}")
        if loop and haversine_m(points[-1], points[0]) > 0:
            points.append(points[0])
        self._legs: list[tuple[Point, Point, float]] = []
        for index, (a, b) in enumerate(pairwise(points)):
            length = haversine_m(a, b)
            if length == 0:
                raise InvalidRoute(f"waypoints {index} and {index + 1} are the same point {a}; remove one")
            self._legs.append((a, b, length))
        self._starts = [0.0]
        for *_, length in self._legs:
            self._starts.append(self._starts[-1] + length)
        self._speed_mps = speed_mps
        self._clock = clock
        self._loop = loop
        self._began: float | None = None
        self._stopped = False

    @property
    def length_m(self) -> float:
        """The length of the route (one lap with ``loop``), metres."""
        return self._starts[-1]

    def start(self) -> None:
        """Set off from the first waypoint now.

        Raises:
            SourceAlreadyStarted: the route was started before.
        """
        if self._began is not None:
            raise SourceAlreadyStarted("this SimulatedRoute was already started; create a new one")
        self._began = self._clock()

    def latest(self) -> PositionFix | None:
        """Where the officer is now; None before :meth:`start` and after :meth:`stop`."""
        if self._began is None or self._stopped:
            return None
        now = self._clock()
        travelled = max(0.0, now - self._began) * self._speed_mps
        at = datetime.fromtimestamp(now, UTC)
        if self._loop:
            travelled %= self.length_m
        elif travelled >= self.length_m:
            lat, lon = self._legs[-1][1]
            return PositionFix(lat, lon, accuracy_m=None, heading_deg=None, speed_mps=0.0, at=at, source="sim")
        leg = bisect_right(self._starts, travelled) - 1
        a, b, length = self._legs[leg]
        lat, lon = _along(a, b, (travelled - self._starts[leg]) / length)
        heading = bearing_deg((lat, lon), b)
        return PositionFix(
            lat, lon, accuracy_m=None, heading_deg=heading, speed_mps=self._speed_mps, at=at, source="sim"
        )

    def stop(self) -> None:
        """Stop walking; :meth:`latest` returns None from now on."""
        self._stopped = True
