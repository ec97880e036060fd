"""Ranking units for a target: straight-line estimates per kind, a total order, and the units suggested."""

from pathlib import Path

import pytest

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.errors import RoadNetworkError
from vigil.dispatch.eta import Eta, EtaBasis, StraightLineEta
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.ranking import RankedUnit, build_eta_model, rank_units, suggest_units
from vigil.dispatch.road_network import RoadNetworkEta
from vigil.dispatch.settings import RankingSettings, SpeedProfile
from vigil.dispatch.unit import UnitKind, UnitStatus

TARGET = GeoPoint(lat=53.4808, lon=-2.2426)  # Manchester, Piccadilly Gardens
SETTINGS = RankingSettings(
    foot=SpeedProfile(speed_mps=1.5, detour_factor=1.2),
    car=SpeedProfile(speed_mps=10.0, detour_factor=1.5, start_s=30.0),
    motorcycle=SpeedProfile(speed_mps=12.0, detour_factor=1.25, start_s=10.0),
)


def in_area(
    unit_id: str,
    distance_m: float,
    *,
    kind: UnitKind = UnitKind.FOOT,
    status: UnitStatus = UnitStatus.AVAILABLE,
    stale: bool = False,
) -> UnitInArea:
    return UnitInArea(unit_id, unit_id, None, kind, status, TARGET.lat, TARGET.lon, distance_m, None, 1.0, stale)


@pytest.mark.parametrize(
    ("kind", "distance_m", "seconds", "route_m"),
    [
        (UnitKind.FOOT, 900.0, 900 * 1.2 / 1.5, 1_080.0),
        (UnitKind.CAR, 900.0, 30 + 900 * 1.5 / 10, 1_350.0),
        (UnitKind.MOTORCYCLE, 900.0, 10 + 900 * 1.25 / 12, 1_125.0),
        (UnitKind.CAR, 0.0, 30.0, 0.0),
    ],
)
def test_a_straight_line_estimate_uses_the_kinds_profile(
    kind: UnitKind, distance_m: float, seconds: float, route_m: float
) -> None:
    (eta,) = StraightLineEta(SETTINGS).estimate([in_area("A", distance_m, kind=kind)], target=TARGET)
    assert eta == Eta(seconds=pytest.approx(seconds), route_m=pytest.approx(route_m), basis=EtaBasis.STRAIGHT_LINE)


def test_every_kind_has_a_speed_profile() -> None:
    assert {kind: SETTINGS.profile(kind) for kind in UnitKind} == {
        UnitKind.FOOT: SETTINGS.foot,
        UnitKind.CAR: SETTINGS.car,
        UnitKind.MOTORCYCLE: SETTINGS.motorcycle,
    }


def test_units_rank_by_arrival_then_distance_then_id() -> None:
    units = [
        in_area("walker-far", 1_500.0),  # 1,200 s
        in_area("car", 2_000.0, kind=UnitKind.CAR),  # 330 s
        in_area("walker-b", 300.0),  # 240 s
        in_area("walker-a", 300.0),  # 240 s, same distance: by id
        in_area("car-near", 400.0, kind=UnitKind.CAR),  # 90 s
    ]
    ranked = rank_units(units, target=TARGET, eta_model=StraightLineEta(SETTINGS))
    assert [r.unit.unit_id for r in ranked] == ["car-near", "walker-a", "walker-b", "car", "walker-far"]
    assert [round(r.eta.seconds) for r in ranked] == [90, 240, 240, 330, 1_200]


def test_equal_arrival_goes_to_the_nearer_unit() -> None:
    # 90 s either way: a motorcycle 768 m out (10 s + 768 × 1.25 / 12) and a car 400 m out (30 s + 60 s).
    ranked = rank_units(
        [in_area("moto", 768.0, kind=UnitKind.MOTORCYCLE), in_area("car", 400.0, kind=UnitKind.CAR)],
        target=TARGET,
        eta_model=StraightLineEta(SETTINGS),
    )
    assert [(r.unit.unit_id, r.eta.seconds) for r in ranked] == [("car", 90.0), ("moto", 90.0)]


def ranked(*units: UnitInArea) -> list[RankedUnit]:
    return rank_units(units, target=TARGET, eta_model=StraightLineEta(SETTINGS))


@pytest.mark.parametrize(
    ("count", "exclude", "expected"),
    [
        (3, (), ["a", "c", "stale-near"]),
        (1, (), ["a"]),
        (2, ("a",), ["c", "stale-near"]),
        (5, (), ["a", "c", "stale-near", "stale-far"]),
        (3, ("a", "c", "stale-near", "stale-far"), []),
    ],
)
def test_suggestions_are_available_units_fresh_before_stale(
    count: int, exclude: tuple[str, ...], expected: list[str]
) -> None:
    units = ranked(
        in_area("stale-near", 50.0, stale=True),
        in_area("a", 100.0),
        in_area("busy", 120.0, status=UnitStatus.BUSY),
        in_area("dispatched", 130.0, status=UnitStatus.DISPATCHED),
        in_area("c", 900.0),
        in_area("stale-far", 2_000.0, stale=True),
    )
    assert [r.unit.unit_id for r in suggest_units(units, count=count, exclude=exclude)] == expected


def test_the_eta_model_is_chosen_by_the_settings(tmp_path: Path) -> None:
    assert isinstance(build_eta_model(RankingSettings()), StraightLineEta)
    streets = tmp_path / "streets.geojson"
    streets.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        '"geometry": {"type": "LineString", "coordinates": [[-2.2426, 53.4808], [-2.2400, 53.4808]]}}]}'
    )
    assert isinstance(build_eta_model(RankingSettings(road_network_path=streets)), RoadNetworkEta)
    with pytest.raises(RoadNetworkError, match=r"missing\.geojson: cannot be read"):
        build_eta_model(RankingSettings(road_network_path=tmp_path / "missing.geojson"))
