"""Areas: circles and polygons read from GeoJSON, what is inside them, and every shape that is refused."""

import math
from typing import Any

import numpy as np
import pytest
import shapely

from vigil.dispatch.area import CIRCLE_POLYGON_CORNERS, CircleArea, PolygonArea, check_limits, default_circle
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import (
    AreaCoordinateInvalid,
    AreaCrossesAntimeridian,
    AreaNearPole,
    AreaSizeOutOfLimits,
    DegenerateArea,
    InvalidArea,
    InvalidCoordinate,
    MalformedArea,
    RingNotClosed,
    SelfIntersectingArea,
)
from vigil.dispatch.geodesy import GeoPoint, destinations, distance_m
from vigil.dispatch.settings import AreaLimits

LIMITS = AreaLimits()
TRAFALGAR_SQUARE = GeoPoint(lat=51.50809, lon=-0.12804)
NELSONS_COLUMN = (-0.12803, 51.50775)
# Around Trafalgar Square (lon, lat): west, south, east, north edges at round numbers.
SQUARE = [(-0.130, 51.507), (-0.126, 51.507), (-0.126, 51.509), (-0.130, 51.509), (-0.130, 51.507)]
# An L around Covent Garden: the notch is the north-east quarter.
ELL = [
    (-0.126, 51.510),
    (-0.120, 51.510),
    (-0.120, 51.513),
    (-0.123, 51.513),
    (-0.123, 51.516),
    (-0.126, 51.516),
    (-0.126, 51.510),
]
HOLE = [(-0.129, 51.5075), (-0.129, 51.5085), (-0.127, 51.5085), (-0.127, 51.5075), (-0.129, 51.5075)]


def polygon(*rings: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(position) for position in ring] for ring in rings]}


def circle(lon: float, lat: float, radius_m: object) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"radius_m": radius_m},
    }


@pytest.mark.parametrize(
    ("document", "inside", "outside"),
    [
        (polygon(SQUARE), [NELSONS_COLUMN, (-0.128, 51.508)], [(-0.131, 51.508), (-0.128, 51.5095)]),
        (polygon(SQUARE[::-1]), [NELSONS_COLUMN], [(-0.131, 51.508)]),  # clockwise is accepted too
        ({"type": "Feature", "geometry": polygon(SQUARE), "properties": {"name": "T"}}, [NELSONS_COLUMN], []),
        (polygon([[*p, 12.5] for p in SQUARE]), [NELSONS_COLUMN], [(-0.131, 51.508)]),  # altitudes ignored
        (polygon([SQUARE[0], SQUARE[0], *SQUARE[1:3], SQUARE[2], *SQUARE[3:]]), [NELSONS_COLUMN], []),  # repeats
        (polygon(ELL), [(-0.125, 51.511), (-0.125, 51.515), (-0.121, 51.511)], [(-0.121, 51.515)]),
        (polygon(SQUARE, HOLE), [(-0.1295, 51.508), (-0.128, 51.5075)], [(-0.128, 51.508)]),
        ({**polygon(SQUARE), "bbox": [-0.13, 51.507, -0.126, 51.509], "foreign": 1}, [NELSONS_COLUMN], []),
        (circle(-0.12804, 51.50809, 250), [NELSONS_COLUMN, (-0.1250, 51.5090)], [(-0.1240, 51.5081)]),
    ],
)
def test_an_area_holds_the_points_inside_it(
    document: dict[str, Any], inside: list[tuple[float, float]], outside: list[tuple[float, float]]
) -> None:
    area = parse_area(document, limits=LIMITS)
    for lon, lat in inside:
        assert area.contains(GeoPoint(lat=lat, lon=lon)), (lon, lat)
    for lon, lat in outside:
        assert not area.contains(GeoPoint(lat=lat, lon=lon)), (lon, lat)
    points = inside + outside
    many = area.contains_many(np.array([p[1] for p in points]), np.array([p[0] for p in points]))
    assert many.tolist() == [True] * len(inside) + [False] * len(outside)


@pytest.mark.parametrize(
    ("document", "error", "match"),
    [
        ("a string", MalformedArea, "area: expected a JSON object"),
        ({"type": "Point", "coordinates": [0, 51]}, MalformedArea, "a Point alone has no radius"),
        ({"type": "MultiPolygon", "coordinates": []}, MalformedArea, "a MultiPolygon is not accepted"),
        ({"type": "Feature", "geometry": {"type": "LineString"}}, MalformedArea, "got 'LineString'"),
        ({"type": "Feature", "geometry": None}, MalformedArea, "geometry: expected a JSON object"),
        ({"type": "Polygon"}, MalformedArea, "area.coordinates: expected an array, got NoneType"),
        (polygon([(-0.13,), *SQUARE[1:]]), MalformedArea, r"coordinates\[0\]\[0\]: a position is .* got 1 numbers"),
        (polygon([(-0.13, "51.5"), *SQUARE[1:]]), MalformedArea, r"\[0\]\[0\]\[1\]: expected a number, got str"),
        (polygon([(True, 51.5), *SQUARE[1:]]), MalformedArea, "expected a number, got bool"),
        (polygon([(-0.13, 10**400), *SQUARE[1:]]), MalformedArea, "too large"),
        (
            polygon([(-0.13, 91), *SQUARE[1:]]),
            AreaCoordinateInvalid,
            "ring 0, position 0: latitude 91 is outside −90…90",
        ),
        (
            polygon([*SQUARE[:2], (181, 51.5), *SQUARE[3:]]),
            AreaCoordinateInvalid,
            "position 2: longitude 181 is outside",
        ),
        (polygon([*SQUARE[:2], (math.nan, 51.5), *SQUARE[3:]]), AreaCoordinateInvalid, "longitude nan is not a finite"),
        (polygon([*SQUARE[:2], (-0.13, -math.inf), *SQUARE[3:]]), AreaCoordinateInvalid, "latitude -inf is not a"),
        (
            polygon(SQUARE[:-1]),
            RingNotClosed,
            r"ring 0 is not closed: first point \(-0\.13, 51\.507\) differs from last ",
        ),
        (polygon(SQUARE, HOLE[:-1]), RingNotClosed, "ring 1 is not closed"),
        (polygon([SQUARE[0], SQUARE[1], SQUARE[0]]), DegenerateArea, "ring 0 has 3 positions; a ring needs at least 4"),
        (polygon([SQUARE[0], SQUARE[1], SQUARE[1], SQUARE[0]]), DegenerateArea, "ring 0 has 2 distinct corners"),
        (polygon([(0.1, 51.5), (0.2, 51.5), (0.3, 51.5), (0.1, 51.5)]), DegenerateArea, "its corners lie on one line"),
        (
            polygon([(-0.13, 51.5), (-0.12, 51.51), (-0.12, 51.5), (-0.13, 51.51), (-0.13, 51.5)]),
            SelfIntersectingArea,
            r"the polygon crosses itself near \(-0\.125, 51\.505\)",
        ),
        (
            polygon([(0, 51.5), (0.02, 51.5), (0.02, 51.52), (0.01, 51.5), (0, 51.52), (0, 51.5)]),
            SelfIntersectingArea,
            r"boundary touches itself near \(0\.01, 51\.5\)",
        ),
        (
            polygon(SQUARE, [(-0.12, 51.5), (-0.11, 51.5), (-0.11, 51.51), (-0.12, 51.5)]),
            SelfIntersectingArea,
            "a hole lies outside the outer ring",
        ),
        (
            polygon(SQUARE, HOLE, [(-0.1285, 51.5078), (-0.1275, 51.5078), (-0.1275, 51.5082), (-0.1285, 51.5078)]),
            SelfIntersectingArea,
            "a hole lies inside another hole",
        ),
        (
            polygon([(179.99, -16.8), (-179.99, -16.8), (-179.99, -16.7), (179.99, -16.8)]),
            AreaCrossesAntimeridian,
            r"the edge from \(179\.99, -16\.8\) to \(-179\.99, -16\.8\) spans 359\.98° of longitude",
        ),
        (polygon([(10, 84.9), (10.1, 84.9), (10.1, 85.1), (10, 84.9)]), AreaNearPole, "latitude 85.1 is beyond 85° N"),
        (polygon([(10, -85.5), (10.1, -84.9), (10, -84.9), (10, -85.5)]), AreaNearPole, "beyond 85° S"),
        (circle(-0.12804, 51.50809, 80_000), AreaSizeOutOfLimits, "radius 80 km is over the 20 km limit"),
        (circle(-0.12804, 51.50809, 5), AreaSizeOutOfLimits, "radius 5 m is under the 10 m minimum"),
        (circle(-0.12804, 51.50809, 0), DegenerateArea, "the circle's radius is 0 m"),
        (circle(-0.12804, 51.50809, -20), DegenerateArea, "the circle's radius is -20 m"),
        (circle(-0.12804, 51.50809, math.nan), MalformedArea, "radius_m: nan is not a finite number of metres"),
        (circle(-0.12804, 51.50809, "250"), MalformedArea, "properties.radius_m: expected a number, got str"),
        ({**circle(-0.12804, 51.50809, 1), "properties": {}}, MalformedArea, "a circle needs its radius in metres"),
        (circle(-0.12804, 95, 250), AreaCoordinateInvalid, "centre: latitude 95 is outside"),
        (circle(math.inf, 51.5, 250), AreaCoordinateInvalid, "centre: longitude inf is not a finite number"),
        (circle(179.95, -16.8, 8_000), AreaCrossesAntimeridian, r"make the radius at most 5\.31 km"),
        (circle(-179.99, 65.0, 1_000), AreaCrossesAntimeridian, "reaches across the anti-meridian"),
        (circle(10, 84.95, 8_000), AreaNearPole, "reaches latitude 85.022"),
        (circle(10, -84.99, 2_000), AreaNearPole, "reaches latitude -85.008"),
        (
            polygon([(-0.1, 51.0), (0.3, 51.0), (0.3, 51.4), (-0.1, 51.0)]),
            AreaSizeOutOfLimits,
            r"the polygon spans 52\.488 km from corner to corner; the limit is 40 km",
        ),
        (
            polygon([(-0.1, 51.5), (-0.09995, 51.5), (-0.09995, 51.50005), (-0.1, 51.5)]),
            AreaSizeOutOfLimits,
            "the polygon's area is 10 m²; the minimum is 100 m²",
        ),
    ],
)
def test_a_bad_area_is_refused_with_what_is_wrong_and_where(
    document: object, error: type[InvalidArea], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_area(document, limits=LIMITS)


def test_errors_carry_what_and_where() -> None:
    with pytest.raises(RingNotClosed) as unclosed:
        parse_area(polygon(SQUARE[:-1]), limits=LIMITS)
    assert (unclosed.value.ring, unclosed.value.first, unclosed.value.last) == (0, SQUARE[0], SQUARE[-2])
    with pytest.raises(SelfIntersectingArea) as crossing:
        parse_area(
            polygon([(-0.13, 51.5), (-0.12, 51.51), (-0.12, 51.5), (-0.13, 51.51), (-0.13, 51.5)]), limits=LIMITS
        )
    assert crossing.value.near == pytest.approx((-0.125, 51.505))
    with pytest.raises(AreaSizeOutOfLimits) as large:
        parse_area(circle(0, 51.5, 80_000), limits=LIMITS)
    assert (large.value.measure, large.value.value, large.value.limit) == ("radius", 80_000, 20_000)
    with pytest.raises(AreaCoordinateInvalid) as bad:
        parse_area(polygon([(-0.13, 91), *SQUARE[1:]]), limits=LIMITS)
    assert (bad.value.where, bad.value.axis, bad.value.value) == ("ring 0, position 0", "latitude", 91)
    with pytest.raises(AreaNearPole) as polar:
        parse_area(circle(10, 84.95, 8_000), limits=LIMITS)
    assert polar.value.latitude == pytest.approx(85.022, abs=1e-3)


def test_too_many_positions_are_refused_before_any_geometry_is_built() -> None:
    limits = AreaLimits(max_positions=10)
    ring = [(-0.13 + 0.0001 * i, 51.507 + 0.0001 * (i % 2)) for i in range(10_000)]  # a zigzag, never checked
    with pytest.raises(AreaSizeOutOfLimits, match="the polygon has 10,000 positions; the limit is 10") as caught:
        parse_area(polygon(ring), limits=limits)
    assert caught.value.measure == "positions"


def test_a_circle_is_round_on_the_ground_not_in_degrees() -> None:
    oslo = GeoPoint(lat=59.9139, lon=10.7522)  # at 60° N a degree of longitude is half a degree of latitude
    area = CircleArea(centre=oslo, radius_m=1_000)
    for bearing in (0.0, 90.0, 135.0, 180.0, 270.0):
        for metres, expected in ((999.0, True), (1_001.0, False)):
            lat, lon = destinations(oslo, bearings_deg=np.array([bearing]), distance_m=metres)
            assert area.contains(GeoPoint(lat=float(lat[0]), lon=float(lon[0]))) is expected, (bearing, metres)


def test_a_point_exactly_on_the_boundary_is_inside() -> None:
    point = GeoPoint(lat=51.5101, lon=-0.1340)
    radius = distance_m(TRAFALGAR_SQUARE, point)
    assert CircleArea(centre=TRAFALGAR_SQUARE, radius_m=radius).contains(point)
    assert not CircleArea(centre=TRAFALGAR_SQUARE, radius_m=math.nextafter(radius, 0)).contains(point)
    square = parse_area(polygon(SQUARE, HOLE), limits=LIMITS)
    on_edges = [(-0.130, 51.507), (-0.128, 51.507), (-0.126, 51.508), (-0.129, 51.508), (-0.128, 51.5085)]
    for lon, lat in on_edges:  # a corner, the south and east edges, a hole's west edge and north edge
        assert square.contains(GeoPoint(lat=lat, lon=lon)), (lon, lat)
    assert not square.contains(GeoPoint(lat=math.nextafter(51.507, 0), lon=-0.128))
    assert not square.contains(GeoPoint(lat=51.508, lon=math.nextafter(-0.129, 0)))  # just inside the hole


def test_a_circle_goes_to_devices_as_a_polygon_drawn_around_it() -> None:
    area = CircleArea(centre=TRAFALGAR_SQUARE, radius_m=500)
    geojson = area.polygon_geojson()
    ring = geojson["coordinates"][0]
    assert geojson["type"] == "Polygon"
    assert len(ring) == CIRCLE_POLYGON_CORNERS + 1
    assert ring[0] == ring[-1]
    assert shapely.LinearRing(ring).is_ccw
    for lon, lat in ring:
        corner = GeoPoint(lat=lat, lon=lon)
        assert distance_m(TRAFALGAR_SQUARE, corner) == pytest.approx(500 * 1.001 / math.cos(math.pi / 64))


@pytest.mark.parametrize(
    ("centre", "radius_m"),
    [
        (TRAFALGAR_SQUARE, 10.0),
        (TRAFALGAR_SQUARE, 500.0),
        (GeoPoint(lat=-33.87, lon=151.21), 20_000.0),
        (GeoPoint(lat=78.22, lon=15.65), 20_000.0),
        (GeoPoint(lat=84.5, lon=0.0), 20_000.0),
    ],
)
def test_the_polygon_sent_to_devices_holds_the_whole_circle(centre: GeoPoint, radius_m: float) -> None:
    ring = CircleArea(centre=centre, radius_m=radius_m).polygon_geojson()["coordinates"][0]
    sent = PolygonArea(rings=(tuple((x, y) for x, y in ring),))
    lat, lon = destinations(centre, bearings_deg=np.linspace(0, 360, 36_000, endpoint=False), distance_m=radius_m)
    assert sent.contains_many(lat, lon).all()


@pytest.mark.parametrize(
    "document",
    [polygon(SQUARE), polygon(SQUARE[::-1], HOLE), polygon(ELL), circle(-0.12804, 51.50809, 750.5)],
)
def test_an_area_written_as_geojson_reads_back_the_same(document: dict[str, Any]) -> None:
    area = parse_area(document, limits=LIMITS)
    again = parse_area(area.to_geojson(), limits=LIMITS)
    assert again.to_geojson() == area.to_geojson()
    if isinstance(area, CircleArea):
        assert again == area


def test_polygons_are_written_outer_ring_anticlockwise_and_holes_clockwise() -> None:
    area = parse_area(polygon(SQUARE[::-1], HOLE[::-1]), limits=LIMITS)
    outer, hole = area.to_geojson()["coordinates"]
    assert shapely.LinearRing(outer).is_ccw
    assert not shapely.LinearRing(hole).is_ccw


@pytest.mark.parametrize(
    ("document", "span_m", "area_m2"),
    [
        # At 51.508° N a degree of longitude is 69.2 km on the ground and a degree of latitude 111.2 km.
        (polygon(SQUARE), 355.1, 277.0 * 222.4),
        (polygon(SQUARE, HOLE), 355.1, 277.0 * 222.4 - 138.5 * 111.2),
        (circle(-0.12804, 51.50809, 1_000), 2_000.0, math.pi * 1_000**2),
    ],
)
def test_sizes_are_measured_in_metres(document: dict[str, Any], span_m: float, area_m2: float) -> None:
    area = parse_area(document, limits=LIMITS)
    assert area.span_m == pytest.approx(span_m, rel=2e-3)
    assert area.area_m2 == pytest.approx(area_m2, rel=2e-3)


@pytest.mark.parametrize(
    ("centre", "radius_m", "error"),
    [
        (GeoPoint(lat=-16.80, lon=179.90), 5_000.0, None),  # Taveuni, Fiji: near 180°, on one side of it
        (GeoPoint(lat=-16.80, lon=179.95), 5_310.0, None),  # the largest radius the message offers
        (GeoPoint(lat=-16.80, lon=179.95), 5_312.0, AreaCrossesAntimeridian),
        (GeoPoint(lat=-16.80, lon=-180.0), 10.0, AreaCrossesAntimeridian),
        (GeoPoint(lat=78.22, lon=15.65), 20_000.0, None),  # Longyearbyen, Svalbard
        (GeoPoint(lat=84.90, lon=0.0), 1_000.0, None),
        (GeoPoint(lat=84.90, lon=0.0), 20_000.0, AreaNearPole),
        (GeoPoint(lat=-84.90, lon=0.0), 20_000.0, AreaNearPole),
        (GeoPoint(lat=90.0, lon=0.0), 10.0, AreaNearPole),
    ],
)
def test_circles_near_the_anti_meridian_and_the_poles(
    centre: GeoPoint, radius_m: float, error: type[InvalidArea] | None
) -> None:
    if error is None:
        area = CircleArea(centre=centre, radius_m=radius_m)
        ring = area.polygon_geojson()["coordinates"][0]
        assert all(-180 <= lon <= 180 and -85 <= lat <= 85 for lon, lat in ring)
        assert PolygonArea(rings=(tuple((lon, lat) for lon, lat in ring),)).contains(centre)
    else:
        with pytest.raises(error):
            CircleArea(centre=centre, radius_m=radius_m)


def test_polygons_near_the_anti_meridian_and_the_poles_on_one_side_are_accepted() -> None:
    taveuni_east = polygon([(179.9, -16.9), (180.0, -16.9), (180.0, -16.7), (179.9, -16.7), (179.9, -16.9)])
    chukotka_west = polygon([(-180.0, 65.0), (-179.9, 65.0), (-179.9, 65.1), (-180.0, 65.0)])
    near_the_pole = polygon([(10.0, 84.9), (10.2, 84.9), (10.2, 85.0), (10.0, 85.0), (10.0, 84.9)])
    for document, inside in (
        (taveuni_east, GeoPoint(lat=-16.8, lon=180.0)),
        (chukotka_west, GeoPoint(lat=65.01, lon=-179.95)),
        (near_the_pole, GeoPoint(lat=84.95, lon=10.1)),
    ):
        assert parse_area(document, limits=LIMITS).contains(inside)


def test_the_default_circle_surrounds_the_alert_with_the_configured_radius() -> None:
    area = default_circle(TRAFALGAR_SQUARE, limits=AreaLimits(default_radius_m=750))
    assert area == CircleArea(centre=TRAFALGAR_SQUARE, radius_m=750)
    check_limits(area, limits=LIMITS)
    with pytest.raises(AreaCrossesAntimeridian):
        default_circle(GeoPoint(lat=-16.8, lon=179.999), limits=LIMITS)


def test_a_circles_centre_out_of_range_is_a_coordinate_error() -> None:
    with pytest.raises(InvalidCoordinate, match="latitude 91"):
        CircleArea(centre=GeoPoint(lat=91, lon=0), radius_m=100)
