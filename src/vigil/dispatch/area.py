"""Areas an operator marks on the map: a circle (centre, radius) or a polygon, and what lies inside them.

**Circles** are geodesic: a point is inside when its great-circle distance to the centre
(:func:`~vigil.dispatch.geodesy.haversine_m`) is at most the radius, so a circle is round on the ground, not an
ellipse in degrees. Devices receive a circle as a 64-sided polygon drawn *around* it, its corners at
``radius × 1.001 / cos(π/64)``: the edges of a polygon touching the circle from outside would cut into it
slightly, as an edge straight in longitude/latitude sags toward the equator (by L² tan φ / 8R, 0.13 m for a
20 km circle at 60°), and the extra 0.1 % keeps them out for any circle up to 100 km radius below 85°.

**Polygons** follow RFC 7946: positions are (longitude, latitude), rings are closed (the last position repeats
the first), the first ring is the outer boundary and any others are holes, and an edge is the straight line
between its ends in longitude/latitude. Either orientation is accepted; GeoJSON written out has its outer ring
counter-clockwise and its holes clockwise (§3.1.6). Consecutive repeated positions are harmless and kept.
A great circle between the same corners bows away from the straight edge by about L² tan φ / 8R (0.2 m for a
3 km edge in London), so at city scale the two readings agree; the straight edge is what PostGIS's
``geometry`` type and Shapely compute, so their answers are the same as Vigil's.

**Boundaries are inside**: a point exactly on a circle (distance = radius) or on a polygon's edge or corner
(outer ring or hole) is in the area.

**Refused shapes**, each with a specific :class:`~vigil.dispatch.errors.InvalidArea`:

* positions that are not finite numbers, or out of −90…90 / −180…180;
* rings with fewer than 4 positions or 3 distinct corners, rings that are not closed, corners all on one line;
* polygons that cross or touch themselves, holes outside the outer ring or inside one another (OGC validity);
* anything reaching beyond 85° N or S: the operators' map (Web Mercator) ends at 85.05°, and straight edges
  in longitude/latitude grow far from the ground's near a pole;
* anything reaching across the anti-meridian (180°): RFC 7946 §3.1.9 has such shapes cut in two, and a dispatch
  area is one polygon. A polygon whose edge spans more than 180° of longitude was drawn across it; a circle is
  refused when its polygon would reach past ±180°. Draw the area on one side of 180°.

Size limits (:class:`~vigil.dispatch.settings.AreaLimits`) are the deployment's choice and checked by
:func:`check_limits`.
"""

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.polygon import orient

from vigil.dispatch.errors import (
    AreaCoordinateInvalid,
    AreaCrossesAntimeridian,
    AreaNearPole,
    AreaSizeOutOfLimits,
    DegenerateArea,
    InvalidArea,
    Lonlat,
    MalformedArea,
    RingNotClosed,
    SelfIntersectingArea,
    format_degrees,
    format_lonlat,
)
from vigil.dispatch.geodesy import EARTH_RADIUS_M, METRES_PER_DEGREE, FloatArray, GeoPoint, destinations, haversine_m
from vigil.dispatch.settings import AreaLimits

MAX_ABS_LATITUDE_DEG = 85.0
"""Areas lie between 85° S and 85° N."""

CIRCLE_POLYGON_CORNERS = 64
"""Corners of the polygon a circle is sent to devices as."""

_CIRCLE_POLYGON_ALLOWANCE = 1.001
"""How much further out than touching the circle the polygon's corners are (see the module docstring)."""

_BOUNDS_SLACK_DEG = 1e-7
"""Added around a circle's computed bounds (about 1 cm) so that rounding never leaves an inside point out."""

_VALIDITY_REASON = re.compile(r"^(?P<reason>.*?)\s*\[(?P<x>\S+) (?P<y>\S+)\]$")

GeoJson = dict[str, Any]


@dataclass(frozen=True)
class Bounds:
    """A box in longitude/latitude, degrees, that holds everything inside an area."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True)
class CircleArea:
    """Every point within ``radius_m`` metres (great-circle distance) of ``centre``.

    Raises:
        DegenerateArea: the radius is 0 or negative.
        MalformedArea: the radius is not a finite number.
        AreaNearPole: the circle reaches beyond 85° N or S.
        AreaCrossesAntimeridian: the circle's polygon reaches across 180° longitude.
    """

    centre: GeoPoint
    radius_m: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.radius_m):
            raise MalformedArea("radius_m", f"{self.radius_m} is not a finite number of metres")
        if self.radius_m <= 0:
            raise DegenerateArea(f"the circle's radius is {self.radius_m:g} m; it must be more than 0")
        near = (self.centre.lon, self.centre.lat)
        half_height, half_width = _circle_extent_deg(self.centre, self.polygon_radius_m)
        if abs(self.centre.lat) + half_height > MAX_ABS_LATITUDE_DEG:
            reach = math.copysign(min(abs(self.centre.lat) + half_height, 90.0), self.centre.lat)
            raise AreaNearPole(
                f"the circle around {format_lonlat(near)} with radius {_metres(self.radius_m)} reaches latitude "
                f"{format_degrees(reach)}; areas must lie between 85° S and 85° N, where the map ends",
                latitude=reach,
                near=near,
            )
        if abs(self.centre.lon) + half_width > 180.0:
            raise AreaCrossesAntimeridian(
                f"the circle around {format_lonlat(near)} with radius {_metres(self.radius_m)} reaches across the "
                "anti-meridian (180° longitude); a dispatch area must lie on one side of it: make the radius "
                f"at most {_metres(_radius_to_antimeridian_m(self.centre))}, or draw a polygon on one side",
                near=near,
            )

    @property
    def polygon_radius_m(self) -> float:
        """Distance from the centre to the corners of the polygon sent to devices, metres."""
        return self.radius_m * _CIRCLE_POLYGON_ALLOWANCE / math.cos(math.pi / CIRCLE_POLYGON_CORNERS)

    @property
    def span_m(self) -> float:
        """The circle's diameter, metres."""
        return 2 * self.radius_m

    @property
    def area_m2(self) -> float:
        """The spherical cap's area, square metres."""
        return 2 * math.pi * EARTH_RADIUS_M**2 * (1 - math.cos(self.radius_m / EARTH_RADIUS_M))

    def bounds(self) -> Bounds:
        """A box holding the whole circle."""
        half_height, half_width = _circle_extent_deg(self.centre, self.radius_m)
        return Bounds(
            min_lon=max(self.centre.lon - half_width - _BOUNDS_SLACK_DEG, -180.0),
            min_lat=max(self.centre.lat - half_height - _BOUNDS_SLACK_DEG, -90.0),
            max_lon=min(self.centre.lon + half_width + _BOUNDS_SLACK_DEG, 180.0),
            max_lat=min(self.centre.lat + half_height + _BOUNDS_SLACK_DEG, 90.0),
        )

    def contains(self, point: GeoPoint) -> bool:
        """Whether a point is in the circle (on its edge counts)."""
        return bool(self.contains_many(np.array([point.lat]), np.array([point.lon]))[0])

    def contains_many(self, lat_deg: FloatArray, lon_deg: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether each point is in the circle, shape (n,) from latitudes and longitudes of shape (n,)."""
        inside: npt.NDArray[np.bool_] = haversine_m(lat_deg, lon_deg, to=self.centre) <= self.radius_m
        return inside

    def to_geojson(self) -> GeoJson:
        """The circle as a GeoJSON Feature: a Point geometry with ``properties.radius_m``."""
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self.centre.lon, self.centre.lat]},
            "properties": {"radius_m": self.radius_m},
        }

    def polygon_geojson(self) -> GeoJson:
        """A GeoJSON Polygon of 64 corners drawn just around the circle, counter-clockwise."""
        bearings = np.linspace(360.0, 0.0, CIRCLE_POLYGON_CORNERS, endpoint=False)  # anticlockwise
        lat, lon = destinations(self.centre, bearings_deg=bearings, distance_m=self.polygon_radius_m)
        ring = [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@dataclass(frozen=True)
class PolygonArea:
    """A polygon in RFC 7946's terms: an outer ring, then any holes, each a closed list of (lon, lat).

    Raises:
        AreaCoordinateInvalid: a position out of range, or not a finite number.
        DegenerateArea: no rings, a ring with fewer than 4 positions or 3 distinct corners, or corners on a line.
        RingNotClosed: a ring's last position differs from its first.
        AreaNearPole: a corner beyond 85° N or S.
        AreaCrossesAntimeridian: an edge spans more than 180° of longitude.
        SelfIntersectingArea: the polygon crosses or touches itself, or a hole is out of place.
    """

    rings: tuple[tuple[Lonlat, ...], ...]
    _shape: shapely.Polygon = field(init=False, repr=False, compare=False)
    _bounds: Bounds = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rings:
            raise DegenerateArea("the polygon has no rings; give at least the outer ring")
        for index, ring in enumerate(self.rings):
            _check_ring(index, ring)
        shape = shapely.Polygon(self.rings[0], self.rings[1:])
        _check_valid(shape)
        shape = orient(shape, sign=1.0)
        shapely.prepare(shape)
        object.__setattr__(self, "_shape", shape)
        min_lon, min_lat, max_lon, max_lat = shape.bounds
        object.__setattr__(self, "_bounds", Bounds(min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat))

    @property
    def span_m(self) -> float:
        """The largest distance between two of the polygon's corners, metres."""
        hull = np.asarray(shapely.get_coordinates(shapely.convex_hull(self._shape)))
        return max(float(np.max(haversine_m(hull[:, 1], hull[:, 0], to=GeoPoint(lat=y, lon=x)))) for x, y in hull)

    @property
    def area_m2(self) -> float:
        """Area less holes, square metres (on a plane tangent at the polygon's middle latitude: fine below 100 km)."""
        _, min_lat, _, max_lat = self._shape.bounds
        x_scale = METRES_PER_DEGREE * math.cos(math.radians((min_lat + max_lat) / 2))
        flat = shapely.transform(self._shape, lambda xy: xy * np.array([x_scale, METRES_PER_DEGREE]))
        return float(flat.area)

    @property
    def position_count(self) -> int:
        """Positions in all rings."""
        return sum(len(ring) for ring in self.rings)

    def bounds(self) -> Bounds:
        """The box of the polygon's corners."""
        return self._bounds

    def contains(self, point: GeoPoint) -> bool:
        """Whether a point is in the polygon (on an edge or corner, of the outer ring or a hole, counts)."""
        return bool(self.contains_many(np.array([point.lat]), np.array([point.lon]))[0])

    def contains_many(self, lat_deg: FloatArray, lon_deg: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether each point is in the polygon, shape (n,) from latitudes and longitudes of shape (n,)."""
        inside: npt.NDArray[np.bool_] = shapely.intersects_xy(self._shape, lon_deg, lat_deg)
        return inside

    def to_geojson(self) -> GeoJson:
        """The polygon as a GeoJSON Polygon geometry, outer ring counter-clockwise, holes clockwise."""
        rings = [self._shape.exterior, *self._shape.interiors]
        return {"type": "Polygon", "coordinates": [[[x, y] for x, y in ring.coords] for ring in rings]}

    def polygon_geojson(self) -> GeoJson:
        """The polygon as a GeoJSON Polygon geometry (as :meth:`to_geojson`)."""
        return self.to_geojson()


Area = CircleArea | PolygonArea


def default_circle(position: GeoPoint, *, limits: AreaLimits) -> CircleArea:
    """The circle drawn around an alert's position until the operator draws another area.

    Raises:
        AreaNearPole, AreaCrossesAntimeridian: the position is too near a pole or the anti-meridian for the
            default radius; the operator draws a smaller area there.
    """
    return CircleArea(centre=position, radius_m=limits.default_radius_m)


def check_limits(area: Area, *, limits: AreaLimits) -> None:
    """Check an area against the deployment's size limits.

    Raises:
        AreaSizeOutOfLimits: the radius, span, area or number of positions is over or under its limit.
    """
    match area:
        case CircleArea(radius_m=radius):
            if radius > limits.max_radius_m:
                raise AreaSizeOutOfLimits(
                    f"radius {_metres(radius)} is over the {_metres(limits.max_radius_m)} limit",
                    measure="radius",
                    value=radius,
                    limit=limits.max_radius_m,
                )
            if radius < limits.min_radius_m:
                raise AreaSizeOutOfLimits(
                    f"radius {_metres(radius)} is under the {_metres(limits.min_radius_m)} minimum",
                    measure="radius",
                    value=radius,
                    limit=limits.min_radius_m,
                )
        case PolygonArea():
            if area.position_count > limits.max_positions:
                raise AreaSizeOutOfLimits(
                    f"the polygon has {area.position_count:,} positions; the limit is {limits.max_positions:,}",
                    measure="positions",
                    value=area.position_count,
                    limit=limits.max_positions,
                )
            span = area.span_m
            if span > limits.max_span_m:
                raise AreaSizeOutOfLimits(
                    f"the polygon spans {_metres(span)} from corner to corner; the limit is "
                    f"{_metres(limits.max_span_m)}",
                    measure="span",
                    value=span,
                    limit=limits.max_span_m,
                )
            size = area.area_m2
            if size < limits.min_area_m2:
                raise AreaSizeOutOfLimits(
                    f"the polygon's area is {size:,.0f} m²; the minimum is {limits.min_area_m2:,.0f} m²",
                    measure="area",
                    value=size,
                    limit=limits.min_area_m2,
                )


def _check_ring(index: int, ring: tuple[Lonlat, ...]) -> None:
    for number, (lon, lat) in enumerate(ring):
        where = f"ring {index}, position {number}"
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise AreaCoordinateInvalid(where, "latitude", lat)
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise AreaCoordinateInvalid(where, "longitude", lon)
        if abs(lat) > MAX_ABS_LATITUDE_DEG:
            raise AreaNearPole(
                f"{where}: latitude {format_degrees(lat)} is beyond {MAX_ABS_LATITUDE_DEG:g}° "
                f"{'N' if lat > 0 else 'S'}; areas must lie between 85° S and 85° N, where the map ends",
                latitude=lat,
                near=(lon, lat),
            )
    if len(ring) < 4:
        raise DegenerateArea(
            f"ring {index} has {len(ring)} positions; a ring needs at least 4 (3 corners and the first again)"
        )
    if ring[0] != ring[-1]:
        raise RingNotClosed(index, ring[0], ring[-1])
    for start, end in itertools.pairwise(ring):
        if abs(end[0] - start[0]) > 180:
            raise AreaCrossesAntimeridian(
                f"ring {index}: the edge from {format_lonlat(start)} to {format_lonlat(end)} spans "
                f"{format_degrees(abs(end[0] - start[0]))}° of longitude, so the polygon was drawn across the "
                "anti-meridian (180°); RFC 7946 has such shapes cut in two there, and a dispatch area is one "
                "polygon: draw it on one side of 180°",
                near=start,
            )
    corners = set(ring)
    if len(corners) < 3:
        raise DegenerateArea(f"ring {index} has {len(corners)} distinct corners; a ring needs at least 3")
    if shapely.convex_hull(shapely.multipoints(list(corners))).area == 0:
        raise DegenerateArea(f"ring {index} has no area: its corners lie on one line", near=ring[0])


def _check_valid(shape: shapely.Polygon) -> None:
    reason = shapely.is_valid_reason(shape)
    if reason == "Valid Geometry":
        return
    match = _VALIDITY_REASON.match(reason)
    if match is None:
        raise InvalidArea(f"the polygon is not valid: {reason}")
    what, near = match["reason"], (float(match["x"]), float(match["y"]))
    where = format_lonlat(near)
    messages = {
        "Self-intersection": f"the polygon crosses itself near {where}",
        "Ring Self-intersection": f"the polygon's boundary touches itself near {where}; draw it as one loop",
        "Hole lies outside shell": f"a hole lies outside the outer ring, near {where}",
        "Holes are nested": f"a hole lies inside another hole, near {where}",
        "Interior is disconnected": f"the holes cut the polygon in pieces near {where}",
        "Nested shells": f"the polygon's rings are nested near {where}",
    }
    raise SelfIntersectingArea(messages.get(what, f"the polygon is not valid ({what}) near {where}"), near=near)


def _circle_extent_deg(centre: GeoPoint, radius_m: float) -> tuple[float, float]:
    """Half the height and half the width of a circle's bounding box, degrees (the width is inf at a pole)."""
    angle = radius_m / EARTH_RADIUS_M
    lat = math.radians(centre.lat)
    if abs(lat) + angle >= math.pi / 2:
        return math.degrees(angle), math.inf
    return math.degrees(angle), math.degrees(math.asin(math.sin(angle) / math.cos(lat)))


def _radius_to_antimeridian_m(centre: GeoPoint) -> float:
    """The largest radius whose polygon stays on the centre's side of 180°, metres (rounded down to 1 m)."""
    gap = math.radians(180.0 - abs(centre.lon))
    angle = math.asin(min(1.0, math.sin(gap) * math.cos(math.radians(centre.lat))))
    return math.floor(angle * EARTH_RADIUS_M * math.cos(math.pi / CIRCLE_POLYGON_CORNERS) / _CIRCLE_POLYGON_ALLOWANCE)


def _metres(value: float) -> str:
    """A distance for messages: '850 m', '20 km', '2.5 km'."""
    if value >= 1_000:
        return f"{value / 1_000:,.3f}".rstrip("0").rstrip(".") + " km"
    return f"{value:,.1f}".rstrip("0").rstrip(".") + " m"
