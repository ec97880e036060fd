"""Where a simulated officer is: a :class:`~vigil.edge.position.PositionSource` that follows street routes.

The edge agent reads it like a GPS receiver. Movement happens in simulated time (:mod:`vigil.sim.clock`): each
route is walked or driven by a :class:`~vigil.edge.route.SimulatedRoute` running on the simulation's clock, and
a new route (a dispatch, a new patrol) replaces the old one from wherever the officer is. The fixes carry the
real time, as a real receiver's would, so the command centre takes them at any simulation speed.
"""

import math
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from vigil.edge.position import PositionFix, SourceAlreadyStarted
from vigil.edge.route import Point, SimulatedRoute
from vigil.events import utc_now
from vigil.sim.city import StreetRoute
from vigil.sim.clock import Clock
from vigil.sim.errors import InvalidSimSettings


class StreetMovement:
    """An officer moving along street routes, or standing still. Safe to share between threads."""

    def __init__(
        self,
        start: Point,
        *,
        clock: Clock,
        wall: Callable[[], datetime] = utc_now,
        accuracy_m: float | None = None,
    ) -> None:
        """Stand at ``start`` until told to move; nothing is reported before :meth:`start`.

        Args:
            start: (lat, lon) degrees.
            clock: simulated time.
            wall: the real time that fixes carry.
            accuracy_m: the accuracy the fixes report, metres; None: exact (a simulation knows where it is).
        """
        self._clock = clock
        self._wall = wall
        self._accuracy_m = accuracy_m
        self._lock = threading.Lock()
        self._standing: Point = start
        self._route: SimulatedRoute | None = None
        self._plan: tuple[StreetRoute, float, bool] | None = None
        self._arrival = math.inf
        self._started = False
        self._stopped = False

    def start(self) -> None:
        """Begin reporting, and set off along the route given before, if any.

        Raises:
            SourceAlreadyStarted: started before.
        """
        with self._lock:
            if self._started:
                raise SourceAlreadyStarted("this StreetMovement was already started; create a new one")
            self._started = True
            if self._plan is not None:
                self._set_off(*self._plan)

    def latest(self) -> PositionFix | None:
        """Where the officer is now; None before :meth:`start` and after :meth:`stop`."""
        with self._lock:
            if not self._started or self._stopped:
                return None
            fix = self._route.latest() if self._route is not None else None
            if fix is None:
                lat, lon = self._standing
                return PositionFix(
                    lat,
                    lon,
                    accuracy_m=self._accuracy_m,
                    heading_deg=None,
                    speed_mps=0.0,
                    at=self._wall(),
                    source="sim",
                )
            return replace(fix, at=self._wall(), accuracy_m=self._accuracy_m)

    def stop(self) -> None:
        """Stop reporting. Safe to call more than once."""
        with self._lock:
            self._stopped = True

    def where(self) -> Point:
        """Where the officer is now, (lat, lon) degrees, started or not."""
        with self._lock:
            return self._where()

    def follow(self, route: StreetRoute, *, speed_mps: float, loop: bool) -> None:
        """Set off along ``route`` now (or at :meth:`start`), from its first point.

        Args:
            route: the way; a route of one point means standing there.
            speed_mps: metres per second of simulated time.
            loop: go round and round (a patrol); otherwise stop at the last point.

        Raises:
            InvalidSimSettings: the speed is not a positive number.
        """
        if not (math.isfinite(speed_mps) and speed_mps > 0):
            raise InvalidSimSettings(f"speed_mps must be a positive number of metres per second; got {speed_mps!r}")
        with self._lock:
            if self._started:
                self._set_off(route, speed_mps, loop)
            else:
                self._plan = (route, speed_mps, loop)
                self._standing = route.points[0]

    def stand(self) -> None:
        """Stop where the officer is now."""
        with self._lock:
            self._standing = self._where()
            self._route, self._plan, self._arrival = None, None, math.inf

    @property
    def arrival(self) -> float:
        """When the officer reaches (or reached) the end of the route last followed, simulated seconds.

        Infinity on a patrol loop, after :meth:`stand`, and before :meth:`start`.
        """
        with self._lock:
            return self._arrival

    def _set_off(self, route: StreetRoute, speed_mps: float, loop: bool) -> None:
        self._plan = None
        if len(route.points) < 2:
            self._standing = route.points[0]
            self._route, self._arrival = None, self._clock.now()
            return
        walk = SimulatedRoute(route.points, speed_mps, clock=self._clock.now, loop=loop)
        walk.start()
        self._route = walk
        self._arrival = math.inf if loop else self._clock.now() + walk.length_m / speed_mps

    def _where(self) -> Point:
        fix = self._route.latest() if self._route is not None else None
        return (fix.lat, fix.lon) if fix is not None else self._standing
