"""Errors of dispatch.

Hierarchy::

    VigilError
    └── DispatchError
        ├── InvalidCoordinate           a latitude or longitude that is not a finite number in range
        ├── InvalidArea                 an area that cannot be used; ``problem`` says what, ``near`` where
        │   ├── MalformedArea           not the GeoJSON expected: a wrong type, shape or number
        │   ├── AreaCoordinateInvalid   a corner or centre out of range, or not a finite number
        │   ├── RingNotClosed           a ring's last position differs from its first
        │   ├── DegenerateArea          too few corners, or no area: corners on one line, radius 0
        │   ├── SelfIntersectingArea    the polygon crosses or touches itself, or a hole is out of place
        │   ├── AreaCrossesAntimeridian the area reaches across 180° longitude
        │   ├── AreaNearPole            the area reaches beyond 85° N or S
        │   └── AreaSizeOutOfLimits     too large or too small for the deployment's limits
        ├── UnknownUnit                 the live index holds no unit with this id
        └── RoadNetworkError            the road network file cannot be used
"""

import math

from vigil.errors import VigilError

Lonlat = tuple[float, float]
"""A position as GeoJSON writes it: (longitude, latitude), degrees."""


def format_degrees(value: float) -> str:
    """Degrees with at most 7 decimals (about 1 cm), trailing zeros dropped, for messages."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.7f}".rstrip("0").rstrip(".")


def format_lonlat(position: Lonlat) -> str:
    """``(lon, lat)`` as GeoJSON orders them, for messages."""
    return f"({format_degrees(position[0])}, {format_degrees(position[1])})"


def _out_of_range(axis: str, value: float) -> str:
    if not math.isfinite(value):
        return f"{axis} {value} is not a finite number"
    limit = 90 if axis == "latitude" else 180
    return f"{axis} {format_degrees(value)} is outside −{limit}…{limit}"


class DispatchError(VigilError):
    """Base class of every dispatch error."""


class InvalidCoordinate(DispatchError):
    """A latitude or longitude that is not a finite number within its range.

    Attributes:
        axis: ``"latitude"`` or ``"longitude"``.
        value: the value given.
    """

    def __init__(self, axis: str, value: float) -> None:
        super().__init__(_out_of_range(axis, value))
        self.axis = axis
        self.value = value


class InvalidArea(DispatchError):
    """An area that cannot be used.

    Attributes:
        problem: what is wrong, for a person.
        near: (longitude, latitude) of the place the problem is at, when there is one.
    """

    def __init__(self, problem: str, *, near: Lonlat | None = None) -> None:
        super().__init__(f"invalid area: {problem}")
        self.problem = problem
        self.near = near


class MalformedArea(InvalidArea):
    """Not the GeoJSON expected: a wrong ``type``, nesting or value.

    Attributes:
        where: the path to the bad member, e.g. ``"coordinates[0][3]"``.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where


class AreaCoordinateInvalid(InvalidArea):
    """A corner or centre whose latitude or longitude is out of range, or not a finite number.

    Attributes:
        where: which position, e.g. ``"ring 0, position 3"`` or ``"centre"``.
        axis: ``"latitude"`` or ``"longitude"``.
        value: the value given.
    """

    def __init__(self, where: str, axis: str, value: float) -> None:
        super().__init__(f"{where}: {_out_of_range(axis, value)}")
        self.where = where
        self.axis = axis
        self.value = value


class RingNotClosed(InvalidArea):
    """A linear ring whose last position is not its first (RFC 7946 §3.1.6).

    Attributes:
        ring: the ring's index (0 is the outer ring, then the holes).
        first: its first position (lon, lat).
        last: its last position (lon, lat).
    """

    def __init__(self, ring: int, first: Lonlat, last: Lonlat) -> None:
        super().__init__(
            f"ring {ring} is not closed: first point {format_lonlat(first)} differs from last {format_lonlat(last)}; "
            "repeat the first position at the end",
            near=last,
        )
        self.ring = ring
        self.first = first
        self.last = last


class DegenerateArea(InvalidArea):
    """An area with too few distinct corners, or none of its own: corners on one line, a zero radius."""


class SelfIntersectingArea(InvalidArea):
    """A polygon whose boundary crosses or touches itself, or whose holes lie outside it or inside each other."""


class AreaCrossesAntimeridian(InvalidArea):
    """An area that reaches across the anti-meridian (180° longitude).

    RFC 7946 §3.1.9 has such shapes cut in two at 180°, and a dispatch area is one polygon.
    """


class AreaNearPole(InvalidArea):
    """An area that reaches beyond 85° N or S, where the operators' map (Web Mercator) ends.

    Attributes:
        latitude: the latitude it reaches, degrees.
    """

    def __init__(self, problem: str, *, latitude: float, near: Lonlat | None = None) -> None:
        super().__init__(problem, near=near)
        self.latitude = latitude


class AreaSizeOutOfLimits(InvalidArea):
    """An area larger or smaller than the deployment allows.

    Attributes:
        measure: what was measured: ``"radius"``, ``"span"``, ``"area"`` or ``"positions"``.
        value: its value (metres, square metres or a count).
        limit: the limit it breaks, in the same unit.
    """

    def __init__(self, problem: str, *, measure: str, value: float, limit: float) -> None:
        super().__init__(problem)
        self.measure = measure
        self.value = value
        self.limit = limit


class UnknownUnit(DispatchError):
    """The live unit index holds no unit with this id (it has no position yet, or was removed).

    Attributes:
        unit_id: the id asked for.
    """

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit {unit_id!r} in the live index: it has reported no position yet, or was removed")
        self.unit_id = unit_id


class RoadNetworkError(DispatchError):
    """The road network file cannot be used.

    Attributes:
        path: the file.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"road network {path}: {problem}")
        self.path = path
