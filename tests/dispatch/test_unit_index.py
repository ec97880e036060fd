"""The live unit index: its answers are exactly those of checking every unit, however units move."""

import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from vigil.bench.dispatch import scatter_over_london, star_polygon
from vigil.dispatch import unit_index
from vigil.dispatch.area import Area, CircleArea, PolygonArea
from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.errors import InvalidCoordinate, UnknownUnit
from vigil.dispatch.geodesy import GeoPoint, destinations, distance_m, haversine_m
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import LiveUnit, UnitKind, UnitStatus
from vigil.dispatch.unit_index import UnitIndex

AGES = PositionAges(stale_after_s=60, max_age_s=600)
NOW = datetime(2026, 5, 1, 21, 0, tzinfo=UTC)
TRAFALGAR_SQUARE = GeoPoint(lat=51.50809, lon=-0.12804)


def unit(
    unit_id: str,
    point: GeoPoint = TRAFALGAR_SQUARE,
    *,
    age_s: float = 5.0,
    status: UnitStatus = UnitStatus.AVAILABLE,
    kind: UnitKind = UnitKind.FOOT,
    accuracy_m: float | None = 8.0,
) -> LiveUnit:
    return LiveUnit(
        unit_id=unit_id,
        call_sign=f"{unit_id}-call",
        radio_id=f"radio-{unit_id}",
        kind=kind,
        status=status,
        position=point,
        accuracy_m=accuracy_m,
        position_at=NOW - timedelta(microseconds=round(age_s * 1e6)),
    )


def check_every_unit(units: dict[str, LiveUnit], area: Area, target: GeoPoint, now: datetime) -> list[UnitInArea]:
    """The answer worked out over every unit, with no index: what the index must say."""
    held = list(units.values())
    lat = np.array([u.position.lat for u in held])
    lon = np.array([u.position.lon for u in held])
    inside = area.contains_many(lat, lon).tolist()
    distance = haversine_m(lat, lon, to=target).tolist()
    rows = []
    for u, is_inside, metres in zip(held, inside, distance, strict=True):
        age = max(now.timestamp() - u.position_at.timestamp(), 0.0)
        if is_inside and u.status is not UnitStatus.OFF_DUTY and age <= AGES.max_age_s:
            rows.append(
                UnitInArea(
                    unit_id=u.unit_id,
                    call_sign=u.call_sign,
                    radio_id=u.radio_id,
                    kind=u.kind,
                    status=u.status,
                    lat=u.position.lat,
                    lon=u.position.lon,
                    distance_m=metres,
                    accuracy_m=u.accuracy_m,
                    position_age_s=age,
                    stale=age > AGES.stale_after_s,
                )
            )
    return sorted(rows, key=lambda row: (row.distance_m, row.unit_id))


def random_areas(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray) -> list[tuple[Area, GeoPoint]]:
    """Circles and polygons (stars, with and without a hole) of 50 m to 5 km around random units."""
    areas: list[tuple[Area, GeoPoint]] = []
    for size in (50.0, 300.0, 1_000.0, 5_000.0):
        for _ in range(3):
            k = int(rng.integers(0, lat.size))
            centre = GeoPoint(lat=float(lat[k]), lon=float(lon[k]))
            off_centre = GeoPoint(lat=centre.lat + 0.001, lon=centre.lon - 0.002)
            star = star_polygon(centre, size, rng=rng)
            hole_lat, hole_lon = destinations(
                centre, bearings_deg=np.array([0.0, 240.0, 120.0, 0.0]), distance_m=size / 3
            )
            holed = PolygonArea(rings=(star.rings[0], tuple(zip(hole_lon.tolist(), hole_lat.tolist(), strict=True))))
            areas += [
                (CircleArea(centre=centre, radius_m=size), centre),
                (CircleArea(centre=centre, radius_m=size), off_centre),
                (star, centre),
                (holed, off_centre),
            ]
    return areas


@pytest.mark.parametrize("margin_m", [5.0, 100.0, 2_000.0])
def test_answers_equal_checking_every_unit_as_units_move_come_and_go(margin_m: float) -> None:
    rng = np.random.default_rng(int(margin_m))
    lat, lon = scatter_over_london(2_000, rng=rng)
    statuses, kinds = list(UnitStatus), list(UnitKind)
    everyone = {
        f"U{i:04d}": unit(
            f"U{i:04d}",
            GeoPoint(lat=float(lat[i]), lon=float(lon[i])),
            age_s=float(rng.choice([1.0, 59.0, 61.0, 300.0, 650.0])),
            status=statuses[int(rng.integers(0, len(statuses)))],
            kind=kinds[int(rng.integers(0, len(kinds)))],
            accuracy_m=None if i % 5 == 0 else float(i % 30),
        )
        for i in range(lat.size)
    }
    present = dict(everyone)
    index = UnitIndex(ages=AGES, margin_m=margin_m)
    index.upsert_many(present.values())
    now = NOW
    for step in range(5):
        for area, target in random_areas(rng, lat, lon):
            assert index.units_in_area(area, target=target, now=now).rows() == check_every_unit(
                present, area, target, now
            )
        now += timedelta(seconds=7)
        for i in rng.choice(lat.size, 400, replace=False).tolist():  # a fifth move, some far; the gone come back
            unit_id = f"U{i:04d}"
            step_m = float(rng.choice([3.0, 40.0, 400.0, 4_000.0]))
            reached = destinations(everyone[unit_id].position, bearings_deg=rng.uniform(0, 360, 1), distance_m=step_m)
            lat[i], lon[i] = reached[0][0], reached[1][0]
            position = GeoPoint(lat=float(lat[i]), lon=float(lon[i]))
            everyone[unit_id] = LiveUnit(**{**vars(everyone[unit_id]), "position": position, "position_at": now})
            if unit_id in present:
                assert index.move(unit_id, position=position, accuracy_m=everyone[unit_id].accuracy_m, at=now)
            else:
                assert index.upsert(everyone[unit_id])
            present[unit_id] = everyone[unit_id]
        for i in rng.choice(lat.size, 30, replace=False).tolist():  # some leave, some go off duty
            unit_id = f"U{i:04d}"
            if step % 2:
                assert index.remove(unit_id) == (unit_id in present)
                present.pop(unit_id, None)
            elif unit_id in present:
                index.set_status(unit_id, UnitStatus.OFF_DUTY)
                everyone[unit_id] = present[unit_id] = LiveUnit(
                    **{**vars(everyone[unit_id]), "status": UnitStatus.OFF_DUTY}
                )
    assert len(index) == len(present)


def test_units_on_the_boundary_are_inside_and_equal_distances_go_by_unit_id() -> None:
    edge = GeoPoint(lat=51.5101, lon=-0.1340)
    radius = distance_m(TRAFALGAR_SQUARE, edge)
    index = UnitIndex(ages=AGES)
    index.upsert_many(
        [unit("B", edge), unit("A", edge), unit("C", GeoPoint(lat=edge.lat, lon=math.nextafter(edge.lon, -180)))]
    )
    on_the_edge = CircleArea(centre=TRAFALGAR_SQUARE, radius_m=radius)
    assert [row.unit_id for row in index.units_in_area(on_the_edge, target=TRAFALGAR_SQUARE, now=NOW).rows()] == [
        "A",
        "B",
    ]
    just_short = CircleArea(centre=TRAFALGAR_SQUARE, radius_m=math.nextafter(radius, 0))
    assert len(index.units_in_area(just_short, target=TRAFALGAR_SQUARE, now=NOW)) == 0
    square = PolygonArea(
        rings=(((-0.134, 51.5101), (-0.120, 51.5101), (-0.120, 51.52), (-0.134, 51.52), (-0.134, 51.5101)),)
    )
    assert [row.unit_id for row in index.units_in_area(square, target=TRAFALGAR_SQUARE, now=NOW).rows()] == ["A", "B"]


@pytest.mark.parametrize(
    ("age_s", "status", "found", "stale"),
    [
        (0.0, UnitStatus.AVAILABLE, True, False),
        (-30.0, UnitStatus.AVAILABLE, True, False),  # stamped ahead of the server's clock: age 0
        (60.0, UnitStatus.BUSY, True, False),
        (60.000001, UnitStatus.DISPATCHED, True, True),
        (600.0, UnitStatus.EN_ROUTE, True, True),
        (600.000001, UnitStatus.AVAILABLE, False, None),
        (5.0, UnitStatus.ON_SCENE, True, False),
        (5.0, UnitStatus.OFF_DUTY, False, None),
    ],
)
def test_stale_positions_are_flagged_old_ones_and_off_duty_units_left_out(
    age_s: float, status: UnitStatus, found: bool, stale: bool | None
) -> None:
    index = UnitIndex(ages=AGES)
    index.upsert(unit("A-12", age_s=age_s, status=status))
    rows = index.units_in_area(
        CircleArea(centre=TRAFALGAR_SQUARE, radius_m=100), target=TRAFALGAR_SQUARE, now=NOW
    ).rows()
    assert len(rows) == found
    if found:
        assert (rows[0].status, rows[0].stale, rows[0].position_age_s) == (status, stale, pytest.approx(max(age_s, 0)))


def test_an_answer_says_who_each_unit_is_and_how_far_it_is() -> None:
    charing_cross = GeoPoint(lat=51.50744, lon=-0.12479)
    index = UnitIndex(ages=AGES)
    index.upsert_many(
        [
            unit("A-12", charing_cross, kind=UnitKind.CAR, accuracy_m=None),
            LiveUnit(**{**vars(unit("B-3", TRAFALGAR_SQUARE)), "radio_id": None}),
        ]
    )
    answer = index.units_in_area(CircleArea(centre=TRAFALGAR_SQUARE, radius_m=500), target=TRAFALGAR_SQUARE, now=NOW)
    first, second = answer.rows()
    assert first == UnitInArea(
        "B-3", "B-3-call", None, UnitKind.FOOT, UnitStatus.AVAILABLE, 51.50809, -0.12804, 0.0, 8.0, 5.0, False
    )
    assert (second.unit_id, second.kind, second.radio_id, second.accuracy_m) == (
        "A-12",
        UnitKind.CAR,
        "radio-A-12",
        None,
    )
    assert second.distance_m == pytest.approx(236.3, abs=0.1)  # 225 m east and 72 m south
    assert np.isnan(answer.accuracy_m[1])


def test_an_answer_keeps_what_units_were_doing_when_it_was_given() -> None:
    index = UnitIndex(ages=AGES)
    index.upsert_many([unit("A-12", TRAFALGAR_SQUARE), unit("B-3", TRAFALGAR_SQUARE)])
    area = CircleArea(centre=TRAFALGAR_SQUARE, radius_m=100)
    before = index.units_in_area(area, target=TRAFALGAR_SQUARE, now=NOW)

    index.set_status("A-12", UnitStatus.EN_ROUTE)
    index.remove("B-3")
    index.upsert(unit("C-7", TRAFALGAR_SQUARE))  # may take B-3's place in the index

    assert [(row.unit_id, row.status) for row in before.rows()] == [
        ("A-12", UnitStatus.AVAILABLE),
        ("B-3", UnitStatus.AVAILABLE),
    ]
    after = index.units_in_area(area, target=TRAFALGAR_SQUARE, now=NOW)
    assert [(row.unit_id, row.status) for row in after.rows()] == [
        ("A-12", UnitStatus.EN_ROUTE),
        ("C-7", UnitStatus.AVAILABLE),
    ]


def test_a_late_position_never_moves_a_unit_back_but_its_status_is_taken() -> None:
    index = UnitIndex(ages=AGES)
    index.upsert(unit("A-12", TRAFALGAR_SQUARE, age_s=10))
    older = unit("A-12", GeoPoint(lat=51.6, lon=-0.2), age_s=60, status=UnitStatus.BUSY)
    assert index.upsert(older) is False
    assert index.get("A-12").position == TRAFALGAR_SQUARE
    assert index.get("A-12").status is UnitStatus.BUSY
    assert (
        index.move("A-12", position=GeoPoint(lat=51.6, lon=-0.2), accuracy_m=3.0, at=NOW - timedelta(seconds=11))
        is False
    )
    assert index.move("A-12", position=GeoPoint(lat=51.6, lon=-0.2), accuracy_m=3.0, at=NOW) is True
    assert index.get("A-12") == LiveUnit(
        unit_id="A-12",
        call_sign="A-12-call",
        radio_id="radio-A-12",
        kind=UnitKind.FOOT,
        status=UnitStatus.BUSY,
        position=GeoPoint(lat=51.6, lon=-0.2),
        accuracy_m=3.0,
        position_at=NOW,
    )


def test_an_unknown_unit_is_a_clear_error() -> None:
    index = UnitIndex(ages=AGES)
    for call in (
        lambda: index.get("ghost"),
        lambda: index.set_status("ghost", UnitStatus.BUSY),
        lambda: index.move("ghost", position=TRAFALGAR_SQUARE, accuracy_m=None, at=NOW),
    ):
        with pytest.raises(UnknownUnit, match="no unit 'ghost' in the live index") as caught:
            call()
        assert caught.value.unit_id == "ghost"
    assert index.remove("ghost") is False
    assert "ghost" not in index
    area = CircleArea(centre=TRAFALGAR_SQUARE, radius_m=1_000)
    assert index.units_in_area(area, target=TRAFALGAR_SQUARE, now=NOW).rows() == []


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"unit_id": ""}, ValueError, "a unit id has 1 to 64 characters, got 0"),
        ({"unit_id": "x" * 65}, ValueError, "got 65"),
        ({"accuracy_m": -1.0}, ValueError, "accuracy_m must be a finite number ≥ 0 or None, got -1.0"),
        ({"accuracy_m": math.inf}, ValueError, "got inf"),
        ({"position_at": datetime(2026, 5, 1, 21, 0)}, ValueError, "position_at must carry a timezone"),
    ],
)
def test_a_unit_with_bad_fields_is_refused(fields: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LiveUnit(**{**vars(unit("A-12")), **fields})


def test_a_unit_position_out_of_range_is_refused_before_it_reaches_the_index() -> None:
    with pytest.raises(InvalidCoordinate, match="latitude 91"):
        unit("A-12", GeoPoint(lat=91, lon=0))


def test_queries_while_units_move_on_another_thread_are_each_consistent() -> None:
    rng = np.random.default_rng(3)
    lat, lon = scatter_over_london(2_000, rng=rng)
    units = {f"U{i}": unit(f"U{i}", GeoPoint(lat=float(lat[i]), lon=float(lon[i]))) for i in range(lat.size)}
    index = UnitIndex(ages=AGES, margin_m=20)
    index.upsert_many(units.values())
    areas = random_areas(rng, lat, lon)
    stop = threading.Event()
    failures: list[BaseException] = []

    def move_units() -> None:
        mover = np.random.default_rng(4)
        while not stop.is_set():
            i = int(mover.integers(0, lat.size))
            step = mover.normal(0, 0.003, 2)
            index.move(
                f"U{i}",
                position=GeoPoint(lat=float(lat[i] + step[0]), lon=float(lon[i] + step[1])),
                accuracy_m=5.0,
                at=NOW,
            )

    def ask() -> None:
        try:
            for _ in range(5):
                for area, target in areas:
                    rows = index.units_in_area(area, target=target, now=NOW).rows()
                    for row in rows:
                        assert area.contains(GeoPoint(lat=row.lat, lon=row.lon))
                        assert row.distance_m == distance_m(GeoPoint(lat=row.lat, lon=row.lon), target)
                    assert rows == sorted(rows, key=lambda row: (row.distance_m, row.unit_id))
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=move_units)
    readers = [threading.Thread(target=ask) for _ in range(3)]
    writer.start()
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    stop.set()
    writer.join()
    assert failures == []
    final = {unit_id: index.get(unit_id) for unit_id in units}
    for area, target in areas:
        assert index.units_in_area(area, target=target, now=NOW).rows() == check_every_unit(final, area, target, NOW)


def test_units_that_move_leave_or_arrive_while_the_grid_is_rebuilt_are_still_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    west_end = GeoPoint(lat=51.5136, lon=-0.1365)
    north, east = GeoPoint(lat=51.5436, lon=-0.1365), GeoPoint(lat=51.5136, lon=-0.0865)
    units = {f"U{i:03d}": unit(f"U{i:03d}", west_end) for i in range(300)}
    index = UnitIndex(ages=AGES, margin_m=50)
    index.upsert_many(units.values())
    build = unit_index.CellGrid

    def build_while_units_change(*args: Any) -> unit_index.CellGrid:
        # Runs in rebuild() with the lock released, as a concurrent writer would.
        for unit_id, to in (("U000", north), ("U002", east)):
            index.move(unit_id, position=to, accuracy_m=8.0, at=NOW)
            units[unit_id] = LiveUnit(**{**vars(units[unit_id]), "position": to, "position_at": NOW})
        index.remove("U001")
        del units["U001"]
        return build(*args)

    monkeypatch.setattr(unit_index, "CellGrid", build_while_units_change)
    index.rebuild()
    monkeypatch.setattr(unit_index, "CellGrid", build)
    for centre, found in ((west_end, 297), (north, 1), (east, 1)):
        area = CircleArea(centre=centre, radius_m=200)
        rows = index.units_in_area(area, target=centre, now=NOW).rows()
        assert rows == check_every_unit(units, area, centre, NOW)
        assert len(rows) == found
