"""A deployment's area in words, for a report a person reads on paper (the GeoJSON stays in the JSON report)."""

from vigil.command.watchlists.service import DEPLOYMENT_AREA_LIMITS
from vigil.dispatch.area import CircleArea, PolygonArea
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import InvalidArea
from vigil.dispatch.geodesy import GeoPoint


def describe_area(geojson: object) -> str:
    """A circle's centre and radius, or a polygon's corners, holes and size, in one phrase.

    Args:
        geojson: the area as recorded (parsed GeoJSON).

    Returns:
        E.g. "a circle of radius 500 m around 51.50810° N, 0.12810° W"; for an area that cannot be read (a row
        changed since it was checked), why.
    """
    try:
        area = parse_area(geojson, limits=DEPLOYMENT_AREA_LIMITS)
    except InvalidArea as exc:
        return f"an area that cannot be read ({exc})"
    match area:
        case CircleArea(centre=centre, radius_m=radius_m):
            return f"a circle of radius {radius_m:,.0f} m around {_point(centre)}"
        case PolygonArea(rings=rings):
            outer = rings[0]
            holes = len(rings) - 1
            with_holes = f" and {holes} hole{'s' if holes != 1 else ''}" if holes else ""
            return (
                f"a polygon of {len(outer) - 1} corners{with_holes}, {area.area_m2 / 1e6:,.2f} km², up to "
                f"{area.span_m:,.0f} m across, its first corner at {_point(GeoPoint(lat=outer[0][1], lon=outer[0][0]))}"
            )


def _point(point: GeoPoint) -> str:
    lat = f"{abs(point.lat):.5f}° {'N' if point.lat >= 0 else 'S'}"
    lon = f"{abs(point.lon):.5f}° {'E' if point.lon >= 0 else 'W'}"
    return f"{lat}, {lon}"
