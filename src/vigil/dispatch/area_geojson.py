"""Reading an operator's area from GeoJSON (RFC 7946), with an error that says what is wrong and where.

Accepted:

* a ``Polygon`` geometry, or a ``Feature`` whose geometry is one (its properties are ignored);
* a circle: a ``Feature`` whose geometry is a ``Point`` (the centre) and whose ``properties.radius_m`` is the
  radius in metres, as map libraries export drawn circles.

Positions have two numbers (longitude, latitude) or three (an altitude, ignored). Members RFC 7946 allows
beside these (``bbox``, foreign members) are ignored. A ``MultiPolygon`` is refused: a dispatch area is one
polygon or one circle.
"""

import math
from collections.abc import Mapping

from vigil.dispatch.area import Area, CircleArea, PolygonArea, check_limits
from vigil.dispatch.errors import AreaCoordinateInvalid, AreaSizeOutOfLimits, Lonlat, MalformedArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import AreaLimits

_EXPECTED = "a Polygon, or a Feature of a Polygon or of a Point with properties.radius_m"


def parse_area(geojson: object, *, limits: AreaLimits) -> Area:
    """Read an area from parsed GeoJSON and check it against the deployment's limits.

    Args:
        geojson: the parsed JSON document (a dict).
        limits: the deployment's size limits.

    Returns:
        A :class:`~vigil.dispatch.area.CircleArea` or :class:`~vigil.dispatch.area.PolygonArea`.

    Raises:
        InvalidArea: the document is not an area Vigil accepts; the subclass and message say why and where.
    """
    document = _mapping(geojson, "area")
    kind = document.get("type")
    if kind == "Feature":
        geometry = _mapping(document.get("geometry"), "geometry")
        properties = document.get("properties")
        properties = {} if properties is None else _mapping(properties, "properties")
        area = _from_geometry(geometry, "geometry", properties, limits)
    else:
        area = _from_geometry(document, "area", None, limits)
    check_limits(area, limits=limits)
    return area


def _from_geometry(
    geometry: Mapping[str, object], where: str, properties: Mapping[str, object] | None, limits: AreaLimits
) -> Area:
    kind = geometry.get("type")
    match kind:
        case "Polygon":
            return _polygon(geometry, where, limits)
        case "Point" if properties is not None:
            return _circle(geometry, where, properties)
        case "Point":
            raise MalformedArea(
                f"{where}.type",
                "a Point alone has no radius: send a Feature with a Point geometry and properties.radius_m",
            )
        case "MultiPolygon":
            raise MalformedArea(
                f"{where}.type", "a MultiPolygon is not accepted: a dispatch area is one polygon or a circle"
            )
        case _:
            raise MalformedArea(f"{where}.type", f"expected {_EXPECTED}; got {kind!r}")


def _polygon(geometry: Mapping[str, object], where: str, limits: AreaLimits) -> PolygonArea:
    coordinates = _sequence(geometry.get("coordinates"), f"{where}.coordinates")
    rings = [_sequence(ring, f"{where}.coordinates[{index}]") for index, ring in enumerate(coordinates)]
    count = sum(len(ring) for ring in rings)
    if count > limits.max_positions:  # before any geometry work on it
        raise AreaSizeOutOfLimits(
            f"the polygon has {count:,} positions; the limit is {limits.max_positions:,}",
            measure="positions",
            value=count,
            limit=limits.max_positions,
        )
    parsed = []
    for index, positions in enumerate(rings):
        ring_where = f"{where}.coordinates[{index}]"
        parsed.append(
            tuple(_position(position, f"{ring_where}[{number}]") for number, position in enumerate(positions))
        )
    return PolygonArea(rings=tuple(parsed))


def _circle(geometry: Mapping[str, object], where: str, properties: Mapping[str, object]) -> CircleArea:
    lon, lat = _position(geometry.get("coordinates"), f"{where}.coordinates")
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise AreaCoordinateInvalid("centre", "latitude", lat)
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise AreaCoordinateInvalid("centre", "longitude", lon)
    if "radius_m" not in properties:
        raise MalformedArea("properties.radius_m", "a circle needs its radius in metres")
    return CircleArea(
        centre=GeoPoint(lat=lat, lon=lon), radius_m=_number(properties["radius_m"], "properties.radius_m")
    )


def _position(value: object, where: str) -> Lonlat:
    numbers = _sequence(value, where)
    if len(numbers) not in (2, 3):
        raise MalformedArea(
            where, f"a position is [longitude, latitude] (or with an altitude); got {len(numbers)} numbers"
        )
    return _number(numbers[0], f"{where}[0]"), _number(numbers[1], f"{where}[1]")


def _number(value: object, where: str) -> float:
    # bool is an int in Python, but `true` is not a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedArea(where, f"expected a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise MalformedArea(where, f"the number {value} is too large") from None


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise MalformedArea(where, f"expected a JSON object ({_EXPECTED}), got {type(value).__name__}")
    return value


def _sequence(value: object, where: str) -> list[object]:
    if not isinstance(value, list | tuple):
        raise MalformedArea(where, f"expected an array, got {type(value).__name__}")
    return list(value)
