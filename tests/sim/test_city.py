"""The city: a checked street map of central London, shortest routes along its streets, seeded patrol loops."""

import itertools
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.road_network import RoadNetworkEta, load_road_network
from vigil.dispatch.settings import RankingSettings
from vigil.dispatch.unit import UnitKind, UnitStatus
from vigil.edge.route import Point, haversine_m
from vigil.sim.city import City, StreetLine, StreetMap, StreetRoute
from vigil.sim.errors import InvalidStreetMap, OffTheStreets
from vigil.sim.london import central_london


@pytest.fixture(scope="module")
def london() -> City:
    return City(central_london())


def _distance_to_segment_m(p: Point, a: Point, b: Point) -> float:
    """Distance from p to segment a–b on a local plane, metres."""
    scale = math.cos(math.radians(a[0]))
    px, py = (p[1] - a[1]) * scale, p[0] - a[0]
    bx, by = (b[1] - a[1]) * scale, b[0] - a[0]
    t = min(1.0, max(0.0, (px * bx + py * by) / (bx * bx + by * by)))
    return math.hypot(px - t * bx, py - t * by) * 111_195.0


def _segments(city: City, *, vehicles: bool) -> list[tuple[Point, Point, str]]:
    points = city.street_map.points
    return [
        (points[a], points[b], street.name)
        for street in city.street_map.streets
        if not (vehicles and street.foot_only)
        for a, b in itertools.pairwise(street.points)
    ]


def _streets_under(city: City, a: Point, b: Point, *, vehicles: bool) -> list[str]:
    """The streets on which both ends of the leg a–b lie (a leg along the streets lies on one)."""
    return [
        name
        for start, end, name in _segments(city, vehicles=vehicles)
        if _distance_to_segment_m(a, start, end) < 0.05 and _distance_to_segment_m(b, start, end) < 0.05
    ]


def _assert_along_streets(city: City, route: StreetRoute, *, vehicles: bool) -> None:
    for a, b in itertools.pairwise(route.points):
        assert _streets_under(city, a, b, vehicles=vehicles), f"the leg {a} → {b} leaves the streets"


# --- the map ---------------------------------------------------------------------------------------------------


def test_central_london_is_one_network_on_foot_and_by_car_in_the_real_centre(london: City) -> None:
    junctions = london.junctions()
    assert len(junctions) == len(central_london().points)
    assert set(london.junctions(UnitKind.CAR)) < set(junctions)  # pedestrian-only corners are out of cars' reach
    (south, west), (north, east) = london.bounds
    assert 51.49 < south < north < 51.52
    assert -0.15 < west < east < -0.11
    span_m = haversine_m((south, west), (north, east))
    assert 1_500 < span_m < 3_000
    nelson = (51.50772, -0.12803)  # Nelson's Column
    assert haversine_m(london.centre, nelson) < 500


@pytest.mark.parametrize(
    ("points", "streets", "message"),
    [
        (
            {"a": (51.50, -0.13), "b": (51.51, -0.12), "c": (51.50, -0.12), "d": (51.51, -0.13)},
            (StreetLine("Diagonal", ("a", "b")), StreetLine("Other diagonal", ("c", "d"))),
            "Diagonal .*Other diagonal .*cross without a shared point",
        ),
        (
            {"a": (51.50, -0.13), "b": (51.50, -0.12), "c": (51.51, -0.13), "d": (51.51, -0.12)},
            (StreetLine("South", ("a", "b")), StreetLine("North", ("c", "d"))),
            "cannot be reached on foot",
        ),
        (
            {"a": (51.50, -0.13), "b": (51.50, -0.12), "c": (51.51, -0.12)},
            (StreetLine("Road", ("a", "b")), StreetLine("Lane", ("b", "c"), foot_only=True)),
            None,
        ),
        (
            {"a": (51.50, -0.13), "b": (51.50, -0.12), "c": (51.51, -0.12), "d": (51.51, -0.13)},
            (
                StreetLine("Road", ("a", "b")),
                StreetLine("Lane", ("b", "c"), foot_only=True),
                StreetLine("Far", ("c", "d")),
            ),
            "cannot be reached by car",
        ),
        ({"a": (51.50, -0.13)}, (StreetLine("Road", ("a", "z")),), "Road names the point 'z'"),
        ({"a": (51.50, -0.13)}, (StreetLine("Road", ("a",)),), "at least 2 points"),
        ({"a": (51.50, -0.13), "b": (51.50, -0.13)}, (StreetLine("Road", ("a", "b")),), "the same place"),
        ({"a": (91.0, -0.13), "b": (51.50, -0.13)}, (StreetLine("Road", ("a", "b")),), "lat -90..90"),
    ],
)
def test_a_map_that_cannot_be_routed_on_is_refused_with_what_to_fix(
    points: dict[str, Point], streets: tuple[StreetLine, ...], message: str | None
) -> None:
    street_map = StreetMap(name="Test", points=points, streets=streets)
    if message is None:
        City(street_map)  # a pedestrian lane hanging off a road is fine: cars just never use it
        return
    with pytest.raises(InvalidStreetMap, match=message):
        City(street_map)


# --- routes ----------------------------------------------------------------------------------------------------


def test_whitehall_is_the_way_from_charing_cross_to_parliament_square(london: City) -> None:
    points = london.street_map.points
    route = london.route(points["charing_cross"], points["parliament_square_ne"], kind=UnitKind.FOOT)
    expected = [points[p] for p in ("charing_cross", "whitehall_place", "horse_guards", "downing_street")]
    assert list(route.points[:4]) == expected
    assert route.points[-1] == points["parliament_square_ne"]
    assert 650 < route.length_m < 800  # Whitehall with Parliament Street is about 750 m
    _assert_along_streets(london, route, vehicles=False)


def test_cars_keep_off_pedestrian_streets_and_go_round(london: City) -> None:
    points = london.street_map.points
    on_foot = london.route(points["villiers_top"], points["embankment_station"], kind=UnitKind.FOOT)
    by_car = london.route(points["villiers_top"], points["embankment_station"], kind=UnitKind.CAR)
    assert on_foot.points == (points["villiers_top"], points["embankment_station"])  # down Villiers Street
    assert by_car.length_m > 2.5 * on_foot.length_m
    _assert_along_streets(london, by_car, vehicles=True)


@pytest.mark.parametrize("seed", range(6))
def test_routes_between_random_points_follow_the_streets_and_are_the_shortest(london: City, seed: int) -> None:
    rng = random.Random(seed)
    for kind in (UnitKind.FOOT, UnitKind.CAR):
        start, end = london.random_point(rng, kind=kind), london.random_point(rng, kind=kind)
        route = london.route(start, end, kind=kind)
        assert route.points[0] == pytest.approx(start, abs=1e-9)
        assert route.points[-1] == pytest.approx(end, abs=1e-9)
        _assert_along_streets(london, route, vehicles=kind is not UnitKind.FOOT)
        legs = sum(haversine_m(a, b) for a, b in itertools.pairwise(route.points))
        assert route.length_m == pytest.approx(legs, rel=2e-3)
        assert route.length_m >= haversine_m(start, end) * (1 - 2e-3)


def test_route_lengths_agree_with_dispatch_arrival_estimates_along_the_same_street_file(
    london: City, tmp_path: Path
) -> None:
    """Two shortest-path implementations over one network: ours, and dispatch's over the GeoJSON we write."""
    street_file = tmp_path / "london.geojson"
    street_file.write_text(json.dumps(london.street_geojson()))
    settings = RankingSettings()
    eta = RoadNetworkEta(load_road_network(street_file), settings)
    rng = random.Random(4)
    junctions = {kind: sorted(london.junctions(kind).values()) for kind in (UnitKind.FOOT, UnitKind.CAR)}
    for kind in (UnitKind.FOOT, UnitKind.CAR):
        for _ in range(12):
            start, end = rng.sample(junctions[kind], 2)
            unit = UnitInArea(
                "u", "U", None, kind, UnitStatus.AVAILABLE, start[0], start[1], 0.0, None, 0.0, stale=False
            )
            (estimate,) = eta.estimate([unit], target=GeoPoint(lat=end[0], lon=end[1]))
            ours = london.route(start, end, kind=kind).length_m
            assert ours == pytest.approx(estimate.route_m, rel=2e-3), f"{kind} {start} → {end}"


def test_off_the_street_someone_on_foot_walks_the_last_metres_and_a_car_stops_on_the_street(london: City) -> None:
    points = london.street_map.points
    # In St James's Park, 40 m south of the middle of the Mall (about 34 m from it: the Mall runs south-west).
    a, b = points["mall_duke_of_york"], points["mall_marlborough_road"]
    park = ((a[0] + b[0]) / 2 - 40 / 111_195, (a[1] + b[1]) / 2)
    on_foot = london.route(points["charing_cross"], park, kind=UnitKind.FOOT)
    by_car = london.route(points["charing_cross"], park, kind=UnitKind.CAR)
    assert on_foot.points[-1] == park
    assert haversine_m(by_car.points[-1], park) == pytest.approx(34, abs=3)
    assert _streets_under(london, by_car.points[-2], by_car.points[-1], vehicles=True) == ["The Mall"]


@pytest.mark.parametrize(
    ("point", "message"),
    [((48.8584, 2.2945), "from the nearest street of Central London"), ((math.nan, 0.0), "not a point on the Earth")],
)
def test_a_point_far_from_the_streets_cannot_be_routed_to(london: City, point: Point, message: str) -> None:
    with pytest.raises(OffTheStreets, match=message) as caught:
        london.route(london.centre, point, kind=UnitKind.FOOT)
    assert caught.value.point == point


def test_a_route_to_where_one_stands_is_one_point(london: City) -> None:
    here = london.street_map.points["cenotaph"]
    route = london.route(here, here, kind=UnitKind.CAR)
    assert route == StreetRoute(points=(here,), length_m=0.0)


# --- patrols and random points ---------------------------------------------------------------------------------


def test_patrol_loops_are_closed_along_the_streets_and_the_same_for_the_same_seed(london: City) -> None:
    start = london.street_map.points["trafalgar_se"]
    loops = {seed: london.patrol_loop(start, kind=UnitKind.CAR, rng=random.Random(seed), stops=4) for seed in (1, 1, 2)}
    again = london.patrol_loop(start, kind=UnitKind.CAR, rng=random.Random(1), stops=4)
    assert again == loops[1]
    assert loops[2] != loops[1]
    for loop in loops.values():
        assert loop.points[0] == loop.points[-1] == start
        assert loop.length_m > 500
        _assert_along_streets(london, loop, vehicles=True)
        visited = set(loop.points) & set(london.junctions(UnitKind.CAR).values())
        assert len(visited) >= 4


def test_random_points_lie_on_streets_the_traveller_may_use(london: City) -> None:
    rng = random.Random(0)
    for kind in (UnitKind.FOOT, UnitKind.CAR):
        for _ in range(50):
            point = london.random_point(rng, kind=kind)
            distances = [
                _distance_to_segment_m(point, a, b) for a, b, _ in _segments(london, vehicles=kind is UnitKind.CAR)
            ]
            assert min(distances) < 0.05
    spread = np.array([london.random_point(rng, kind=UnitKind.FOOT) for _ in range(200)])
    assert spread[:, 0].std() > 0.002
    assert spread[:, 1].std() > 0.004


def test_the_street_file_is_geojson_with_pedestrian_streets_marked(london: City) -> None:
    document = london.street_geojson()
    assert document["type"] == "FeatureCollection"
    names = {f["properties"]["name"]: f["properties"]["highway"] for f in document["features"]}
    assert names["Villiers Street"] == "pedestrian"
    assert names["Whitehall"] == "unclassified"
    lon, lat = document["features"][0]["geometry"]["coordinates"][0]
    assert (lat, lon) == london.street_map.points["trafalgar_nw"]
