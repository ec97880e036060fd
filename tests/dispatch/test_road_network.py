"""Arrival estimates along the streets, on a small street grid in Manchester that the tests draw themselves."""

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.errors import RoadNetworkError
from vigil.dispatch.eta import EtaBasis
from vigil.dispatch.geodesy import GeoPoint, distance_m
from vigil.dispatch.road_network import RoadNetworkEta, load_road_network
from vigil.dispatch.settings import RankingSettings, SpeedProfile
from vigil.dispatch.unit import UnitKind, UnitStatus

SOUTH, WEST = 53.4800, -2.2450  # the grid's south-west corner, near Piccadilly Gardens
ROW_DEG, COLUMN_DEG = 0.001, 0.0015  # 111.2 m and 99.2 m
SETTINGS = RankingSettings(
    foot=SpeedProfile(speed_mps=1.5, detour_factor=1.3),
    car=SpeedProfile(speed_mps=8.0, detour_factor=1.4, start_s=30.0),
    motorcycle=SpeedProfile(speed_mps=10.0, detour_factor=1.3),
    max_snap_m=150.0,
)


def corner(row: float, column: float) -> GeoPoint:
    return GeoPoint(lat=SOUTH + row * ROW_DEG, lon=WEST + column * COLUMN_DEG)


def street(*corners: tuple[int, int], **properties: Any) -> dict[str, Any]:
    coordinates = [[corner(r, c).lon, corner(r, c).lat] for r, c in corners]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coordinates}, "properties": properties}


def grid_file(path: Path, *extra: dict[str, Any], row_0: dict[str, Any] | None = None) -> Path:
    """Five streets east–west and five north–south, crossing at shared corners; row 0 as ``row_0`` says."""
    features = [street(*[(r, c) for c in range(5)], **(row_0 if r == 0 and row_0 else {})) for r in range(5)]
    features += [street(*[(r, c) for r in range(5)]) for c in range(5)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [*features, *extra]}))
    return path


def at(point: GeoPoint, kind: UnitKind = UnitKind.FOOT, unit_id: str = "A") -> UnitInArea:
    return UnitInArea(
        unit_id,
        unit_id,
        None,
        kind,
        UnitStatus.AVAILABLE,
        point.lat,
        point.lon,
        distance_m(point, corner(2, 2)),
        None,
        1.0,
        False,
    )


def metres(*corners: tuple[int, int]) -> float:
    """Length of a route through these corners, block by block along a row or column (diagonals in one go)."""
    stops = [corners[0]]
    for (r0, c0), (r1, c1) in itertools.pairwise(corners):
        if r0 == r1 or c0 == c1:
            steps = max(abs(r1 - r0), abs(c1 - c0))
            stops += [(r0 + (r1 - r0) * k // steps, c0 + (c1 - c0) * k // steps) for k in range(1, steps + 1)]
        else:
            stops.append((r1, c1))
    return sum(distance_m(corner(*a), corner(*b)) for a, b in itertools.pairwise(stops))


def test_on_foot_the_estimate_follows_the_streets(tmp_path: Path) -> None:
    model = RoadNetworkEta(load_road_network(grid_file(tmp_path / "grid.geojson")), SETTINGS)
    (eta,) = model.estimate([at(corner(0, 0))], target=corner(2, 2))
    route = metres((0, 0), (2, 0), (2, 2))  # north first: a block east–west is shorter further north
    assert eta.basis is EtaBasis.ROAD
    assert eta.route_m == pytest.approx(route)
    assert eta.seconds == pytest.approx(route / 1.5)
    assert route == pytest.approx(421.0, abs=1.0)


def test_vehicles_keep_to_one_way_streets_and_officers_on_foot_do_not(tmp_path: Path) -> None:
    # Row 0 is drawn west to east but runs east to west only.
    model = RoadNetworkEta(load_road_network(grid_file(tmp_path / "grid.geojson", row_0={"oneway": "-1"})), SETTINGS)
    units = [at(corner(0, 0), UnitKind.FOOT, "foot"), at(corner(0, 0), UnitKind.CAR, "car")]
    foot, car = model.estimate(units, target=corner(0, 2))
    assert foot.route_m == pytest.approx(metres((0, 0), (0, 2)))
    assert car.route_m == pytest.approx(metres((0, 0), (1, 0), (1, 2), (0, 2)))
    assert car.seconds == pytest.approx(30.0 + car.route_m / 8.0)
    (back,) = model.estimate([at(corner(0, 2), UnitKind.CAR)], target=corner(0, 0))
    assert back.route_m == pytest.approx(metres((0, 2), (0, 0)))


def test_footpaths_are_for_officers_on_foot_and_motorways_for_vehicles(tmp_path: Path) -> None:
    path = grid_file(
        tmp_path / "grid.geojson",
        street((0, 0), (2, 2), highway="footway"),
        street((4, 0), (2, 2), highway=["motorway_link", "motorway"], speed_kph=72),
    )
    model = RoadNetworkEta(load_road_network(path), SETTINGS)
    units = [
        at(corner(0, 0), UnitKind.FOOT, "foot-sw"),
        at(corner(0, 0), UnitKind.MOTORCYCLE, "moto-sw"),
        at(corner(4, 0), UnitKind.FOOT, "foot-nw"),
        at(corner(4, 0), UnitKind.CAR, "car-nw"),
    ]
    foot_sw, moto_sw, foot_nw, car_nw = model.estimate(units, target=corner(2, 2))
    assert foot_sw.route_m == pytest.approx(metres((0, 0), (2, 2)))  # the diagonal footpath
    assert moto_sw.route_m == pytest.approx(metres((0, 0), (2, 0), (2, 2)))
    assert foot_nw.route_m == pytest.approx(metres((4, 0), (4, 2), (2, 2)))
    assert car_nw.route_m == pytest.approx(metres((4, 0), (2, 2)))  # the motorway, at 20 m/s
    assert car_nw.seconds == pytest.approx(30.0 + car_nw.route_m / 20.0)


def test_units_and_targets_off_the_streets_walk_to_the_nearest_corner(tmp_path: Path) -> None:
    model = RoadNetworkEta(load_road_network(grid_file(tmp_path / "grid.geojson")), SETTINGS)
    off_street = corner(0.3, 0.5)  # in the middle of a block
    (eta,) = model.estimate([at(off_street)], target=corner(2.2, 2))
    legs = distance_m(off_street, corner(0, 0)) + distance_m(corner(2.2, 2), corner(2, 2))
    assert eta.basis is EtaBasis.ROAD
    assert eta.route_m == pytest.approx(legs + metres((0, 0), (2, 0), (2, 2)))


def test_the_straight_line_answers_where_the_streets_cannot(tmp_path: Path) -> None:
    island = street((40, 40), (40, 41))  # a street of its own, 4 km away: no route to the grid
    model = RoadNetworkEta(load_road_network(grid_file(tmp_path / "grid.geojson", island)), SETTINGS)
    far_away, on_island = corner(20, 20), corner(40, 40)
    estimates = model.estimate(
        [at(far_away, unit_id="far"), at(on_island, unit_id="island"), at(corner(0, 0))], target=corner(2, 2)
    )
    assert [eta.basis for eta in estimates] == [EtaBasis.STRAIGHT_LINE, EtaBasis.STRAIGHT_LINE, EtaBasis.ROAD]
    assert estimates[0].route_m == pytest.approx(distance_m(far_away, corner(2, 2)) * 1.3)
    target_off_map = corner(30, 0)
    assert {eta.basis for eta in model.estimate([at(corner(0, 0))], target=target_off_map)} == {EtaBasis.STRAIGHT_LINE}


def test_multilinestrings_and_altitudes_are_read(tmp_path: Path) -> None:
    two_lines = {
        "type": "Feature",
        "properties": {"oneway": True, "speed_kph": 36},
        "geometry": {
            "type": "MultiLineString",
            "coordinates": [
                [[corner(0, 0).lon, corner(0, 0).lat, 40.0], [corner(0, 1).lon, corner(0, 1).lat, 41.0]],
                [[corner(0, 1).lon, corner(0, 1).lat], [corner(0, 2).lon, corner(0, 2).lat]],
            ],
        },
    }
    path = tmp_path / "streets.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [two_lines]}))
    network = load_road_network(path)
    assert network.lat_deg.size == 3
    assert [(s.start, s.end, s.direction, s.speed_mps) for s in network.streets] == [(0, 1, 1, 10.0), (1, 2, 1, 10.0)]
    assert network.nearest_node(corner(0, 1.1), within_m=50) == (
        1,
        pytest.approx(distance_m(corner(0, 1.1), corner(0, 1))),
    )
    assert network.nearest_node(corner(3, 3), within_m=50) is None


def feature(geometry: object, **properties: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


LINE = {"type": "LineString", "coordinates": [[-2.24, 53.48], [-2.23, 53.48]]}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "is not JSON"),
        (json.dumps({"type": "Feature"}), "expected a GeoJSON FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": []}), "has no features"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [feature(LINE), feature({"type": "Point", "coordinates": [0, 0]})],
                }
            ),
            "feature 1: a Point is not a street",
        ),
        (
            json.dumps({"type": "FeatureCollection", "features": [feature(LINE, oneway="sometimes")]}),
            "feature 0: oneway 'sometimes' is not one of",
        ),
        (
            json.dumps({"type": "FeatureCollection", "features": [feature(LINE, speed_kph="30 mph")]}),
            "feature 0: speed_kph '30 mph' is not a speed in km/h",
        ),
        (json.dumps({"type": "FeatureCollection", "features": [feature(LINE, speed_kph=0)]}), "speed_kph 0 is not"),
        (
            json.dumps(
                {"type": "FeatureCollection", "features": [feature({"type": "LineString", "coordinates": [[0, 0]]})]}
            ),
            "a line needs at least 2 positions",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [feature({"type": "LineString", "coordinates": [[0, 0], [0, 95]]})],
                }
            ),
            "is out of range",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [feature({"type": "LineString", "coordinates": [[0, 0], ["a", 1]]})],
                }
            ),
            "is not a position",
        ),
        (json.dumps({"type": "FeatureCollection", "features": ["street"]}), "feature 0: not a Feature with a geometry"),
    ],
)
def test_a_bad_street_file_is_refused_naming_the_feature(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "streets.geojson"
    path.write_text(content)
    with pytest.raises(RoadNetworkError, match=match) as caught:
        load_road_network(path)
    assert caught.value.path == str(path)
