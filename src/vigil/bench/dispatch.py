"""``vigil bench dispatch``: how fast the live unit index says which units are inside an area, and that it is right.

Units are scattered over Greater London (a fixed seed): half around ten town centres (Westminster, the City,
Camden, Brixton, Stratford, Croydon, Ealing, Wembley, Romford, Kingston; 1.5 km spread), half evenly over the
city's bounding box. Each has a kind (60 % on foot, 30 % cars, 10 % motorcycles), a status (5 % off duty) and
a position up to two minutes old (2 % older than the ten-minute limit).

For 1,000, 10,000 and 100,000 units the bench loads the index, then simulates ten seconds in which every unit
moves once every five seconds at its kind's pace, in a random direction. Within each simulated second it asks
"which units are inside this area" for circles and polygons (12-cornered stars) of 300 m, 1 km and 3 km around
randomly chosen units, one question after another, then (nothing having moved) checks every answer against the
same question put to every unit without the index (its own copy of where every unit is: haversine, or Shapely's
point-in-polygon, over all of them): ids, order, distances (to the bit), ages and stale flags. Any difference
counts as a mismatch; there must be none. The checks come after the questions because each one sweeps every
unit's arrays, megabytes at 100,000 units, which empties the processor's caches: a question asked right after
one takes about twice as long, which measures the check rather than the index.

Figures: the query's median and 95th percentile (the answer as columns), the time to turn an answer into one
row per unit, the check over all units (for comparison), loading, one position update, a rebuild of the
index's grid, and the first query after each second's position updates, on its own: the updates empty the
processor's caches as a server's ingestion does between an operator's questions, and that query takes several
times longer than the ones after it.

The time from an operator's dispatch call to the order arriving on a device over MQTT is measured by
:mod:`vigil.bench.dispatch_delivery` against a running server, and reported here as ``dispatch_to_device``.
"""

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from vigil.bench.dispatch_delivery import DispatchToDeviceFigures
from vigil.bench.timing import measure
from vigil.dispatch.area import Area, CircleArea, PolygonArea
from vigil.dispatch.area_answer import AreaAnswer
from vigil.dispatch.cell_grid import CELL_DEG
from vigil.dispatch.geodesy import METRES_PER_DEGREE, FloatArray, GeoPoint, destinations, haversine_m
from vigil.dispatch.settings import PositionAges, RankingSettings
from vigil.dispatch.unit import LiveUnit, UnitKind, UnitStatus
from vigil.dispatch.unit_index import DEFAULT_MARGIN_M, UnitIndex

CITY = "Greater London"
CITY_BOUNDS = (51.286, -0.510, 51.692, 0.334)
"""(south, west, north, east), degrees."""
TOWN_CENTRES = (
    (51.4975, -0.1357),  # Westminster
    (51.5155, -0.0922),  # City of London
    (51.5390, -0.1426),  # Camden Town
    (51.4613, -0.1156),  # Brixton
    (51.5413, -0.0032),  # Stratford
    (51.3762, -0.0982),  # Croydon
    (51.5130, -0.3089),  # Ealing
    (51.5560, -0.2796),  # Wembley
    (51.5768, 0.1801),  # Romford
    (51.4123, -0.3007),  # Kingston upon Thames
)
SIZES = (1_000, 10_000, 100_000)
AREA_SIZES_M = (300.0, 1_000.0, 3_000.0)
AIM_QUERY_P95_MS = 0.2
AIM_DISPATCH_TO_DEVICE_S = 1.0
SIMULATED_S = 10
MOVE_EVERY_S = 5
_TOWN_SPREAD_M = 1_500.0
_KINDS = (UnitKind.FOOT, UnitKind.CAR, UnitKind.MOTORCYCLE)
_KIND_SHARES = (0.6, 0.3, 0.1)
_STATUSES = tuple(UnitStatus)
_STATUS_SHARES = (0.75, 0.1, 0.04, 0.03, 0.03, 0.05)  # available, busy, dispatched, en route, on scene, off duty
_T = TypeVar("_T")


class QueryFigures(BaseModel):
    """One kind of area at one number of units."""

    units: int
    shape: str = Field(description="circle, or polygon (a 12-cornered star).")
    size_m: float = Field(description="The circle's radius, or the polygon's largest distance from its middle.")
    queries: int
    median_ms: float = Field(description="Median time of one query (the answer as columns), milliseconds.")
    p95_ms: float = Field(description="95th percentile time of one query, milliseconds.")
    mean_found: float = Field(description="Units in the answer, on average.")
    rows_median_ms: float = Field(description="Median time to turn an answer into one row per unit, milliseconds.")
    all_units_median_ms: float = Field(description="Median time of the same question put to every unit, ms.")
    mismatches: int = Field(description="Answers that differ from the check over every unit (must be 0).")


class IndexFigures(BaseModel):
    """Keeping the index up to date at one number of units."""

    units: int
    load_ms: float = Field(description="Loading every unit into an empty index, milliseconds.")
    update_median_us: float = Field(description="Median time of one position update, microseconds.")
    update_p95_us: float = Field(description="95th percentile of one position update (rebuilds included), µs.")
    rebuild_ms: float = Field(description="Median time to rebuild the grid from every unit, milliseconds.")
    moves: int = Field(description="Position updates applied while the queries ran.")
    first_query_median_ms: float = Field(
        description="Median time of the first query after each simulated second's position updates (a circle of "
        "the smallest size): the updates have emptied the processor's caches, as ingestion does in a server."
    )
    first_query_max_ms: float = Field(description="The slowest of those first queries, milliseconds.")
    first_query_mismatches: int = Field(description="Their answers that differ from the check (must be 0).")


class DispatchBenchReport(BaseModel):
    """What ``vigil bench dispatch`` prints."""

    city: str
    seed: int
    simulated_s: int = Field(description="Simulated seconds of movement the queries are spread over.")
    move_every_s: int = Field(description="Each unit reports a new position this often.")
    margin_m: float = Field(description="How far a unit moves before the index's grid is rebuilt for it, metres.")
    cell_deg: float = Field(description="Side of a cell of the index's grid, degrees.")
    indexes: list[IndexFigures]
    queries: list[QueryFigures]
    mismatches: int = Field(description="All answers that differ from the check over every unit (must be 0).")
    dispatch_to_device: DispatchToDeviceFigures | None = Field(
        None,
        description="Dispatch call → order on a device over MQTT (vigil.bench.dispatch_delivery); null when skipped.",
    )
    aim_query_p95_ms: float = AIM_QUERY_P95_MS
    aim_dispatch_to_device_s: float = AIM_DISPATCH_TO_DEVICE_S
    cpu_cores: int


def scatter_over_london(count: int, *, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Positions over Greater London: half around its town centres, half evenly over it.

    Returns:
        (latitudes, longitudes), degrees, each shape (count,).
    """
    south, west, north, east = CITY_BOUNDS
    around_towns = count // 2
    towns = np.array(TOWN_CENTRES)[rng.integers(0, len(TOWN_CENTRES), around_towns)]
    spread_lat = _TOWN_SPREAD_M / METRES_PER_DEGREE
    spread_lon = spread_lat / np.cos(np.radians(towns[:, 0]))
    lat = np.concatenate(
        [towns[:, 0] + rng.normal(0, 1, around_towns) * spread_lat, rng.uniform(south, north, count - around_towns)]
    )
    lon = np.concatenate(
        [towns[:, 1] + rng.normal(0, 1, around_towns) * spread_lon, rng.uniform(west, east, count - around_towns)]
    )
    return np.clip(lat, south, north), np.clip(lon, west, east)


def star_polygon(centre: GeoPoint, size_m: float, *, rng: np.random.Generator, corners: int = 12) -> PolygonArea:
    """A star-shaped polygon around ``centre``: corners at even bearings, each 0.6 to 1 × ``size_m`` out."""
    ring = []
    for bearing, reach in zip(
        np.linspace(360.0, 0.0, corners, endpoint=False), rng.uniform(0.6, 1.0, corners) * size_m, strict=True
    ):
        lat, lon = destinations(centre, bearings_deg=np.array([bearing]), distance_m=float(reach))
        ring.append((float(lon[0]), float(lat[0])))
    return PolygonArea(rings=((*ring, ring[0]),))


class _City:
    """The bench's own record of every unit, kept beside the index to check its answers."""

    def __init__(self, count: int, *, rng: np.random.Generator, start: datetime) -> None:
        self.ids = np.array([f"U{number:06d}" for number in range(count)])
        self.lat, self.lon = scatter_over_london(count, rng=rng)
        self.kind = rng.choice(len(_KINDS), count, p=_KIND_SHARES)
        self.status = rng.choice(len(_STATUSES), count, p=_STATUS_SHARES)
        age_us = rng.integers(0, 120_000_000, count)
        too_old = rng.random(count) < 0.02
        age_us[too_old] = rng.integers(600_000_000, 900_000_000, int(too_old.sum()))
        self.times = [start - timedelta(microseconds=int(us)) for us in age_us]
        self.at_s = np.array([at.timestamp() for at in self.times])
        self._rng = rng

    def units(self) -> list[LiveUnit]:
        """Every unit as the index takes it."""
        return [
            LiveUnit(
                unit_id=str(self.ids[i]),
                call_sign=f"{self.ids[i]}-C",
                radio_id=f"R{i}" if i % 10 else None,
                kind=_KINDS[self.kind[i]],
                status=_STATUSES[self.status[i]],
                position=GeoPoint(lat=float(self.lat[i]), lon=float(self.lon[i])),
                accuracy_m=float(5 + i % 20) if i % 7 else None,
                position_at=self.times[i],
            )
            for i in range(self.ids.size)
        ]

    def move(self, which: npt.NDArray[np.int64], *, at: datetime) -> None:
        """Move these units one step (``MOVE_EVERY_S`` at their kind's pace) in a random direction."""
        pace = np.array([RankingSettings().profile(kind).speed_mps for kind in _KINDS])[self.kind[which]]
        step = pace * MOVE_EVERY_S
        heading = self._rng.uniform(0, 2 * np.pi, which.size)
        south, west, north, east = CITY_BOUNDS
        lat = self.lat[which] + step * np.cos(heading) / METRES_PER_DEGREE
        lon = self.lon[which] + step * np.sin(heading) / (METRES_PER_DEGREE * np.cos(np.radians(lat)))
        self.lat[which], self.lon[which] = np.clip(lat, south, north), np.clip(lon, west, east)
        self.at_s[which] = at.timestamp()
        for i in which.tolist():
            self.times[i] = at

    def answer(
        self, area: Area, *, target: GeoPoint, now: datetime, ages: PositionAges
    ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        """The question put to every unit: (the units in order, their distances, their ages)."""
        age = np.maximum(now.timestamp() - self.at_s, 0.0)
        keep = (
            area.contains_many(self.lat, self.lon)
            & (age <= ages.max_age_s)
            & (self.status != _STATUSES.index(UnitStatus.OFF_DUTY))
        )
        found = np.flatnonzero(keep)
        distance = haversine_m(self.lat[found], self.lon[found], to=target)
        order = np.lexsort((self.ids[found], distance))
        return found[order], distance[order], age[found[order]]


def _matches(
    answer: AreaAnswer,
    truth: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
    city: _City,
    ages: PositionAges,
) -> bool:
    found, distance, age = truth
    return (
        answer.unit_ids == city.ids[found].tolist()
        and np.array_equal(answer.distance_m, distance)
        and np.array_equal(answer.position_age_s, age)
        and np.array_equal(answer.stale, age > ages.stale_after_s)
    )


def run_dispatch_bench(
    *, sizes: Sequence[int] = SIZES, queries: int = 200, area_sizes_m: Sequence[float] = AREA_SIZES_M, seed: int = 0
) -> DispatchBenchReport:
    """Measure the live unit index at each number of units, checking every answer.

    Args:
        sizes: numbers of units.
        queries: queries per shape and area size (spread over the simulated seconds).
        area_sizes_m: circle radii and polygon sizes, metres.
        seed: the random seed of positions, statuses, movement and areas.

    Returns:
        Figures per number of units, and per shape and area size.
    """
    ages = PositionAges()
    start = datetime(2026, 5, 1, 21, 0, tzinfo=UTC)
    indexes, rows = [], []
    for count in sizes:
        rng = np.random.default_rng(seed)
        city = _City(count, rng=rng, start=start)
        index = UnitIndex(ages=ages)
        units = city.units()
        load_started = time.perf_counter()
        index.upsert_many(units)
        load_ms = (time.perf_counter() - load_started) * 1000
        samples: dict[tuple[str, float], list[_Sample]] = {}
        for shape in ("circle", "polygon"):  # warm-up: first calls pay for imports and caches
            for size_m in area_sizes_m:
                _ask(city, index, shape, size_m, rng=rng, now=start)
        update_us: list[float] = []
        first_samples: list[_Sample] = []
        per_second = -(-queries // SIMULATED_S)
        for second in range(1, SIMULATED_S + 1):
            now = start + timedelta(seconds=second)
            update_us += _move(
                city, index, np.flatnonzero(np.arange(count) % MOVE_EVERY_S == second % MOVE_EVERY_S), now
            )
            first = _ask(city, index, "circle", area_sizes_m[0], rng=rng, now=now)
            asked = [
                ((shape, size_m), _ask(city, index, shape, size_m, rng=rng, now=now))
                for shape in ("circle", "polygon")
                for size_m in area_sizes_m
                for _ in range(min(per_second, queries - (second - 1) * per_second))
            ]
            # Nothing moves until the next second: the checks see what the index saw.
            first_samples.append(_check(first, city, now=now, ages=ages))
            for key, question in asked:
                samples.setdefault(key, []).append(_check(question, city, now=now, ages=ages))
        rebuild = measure(index.rebuild, runs=5)
        indexes.append(
            IndexFigures(
                units=count,
                load_ms=load_ms,
                update_median_us=float(np.median(update_us)),
                update_p95_us=float(np.percentile(update_us, 95)),
                rebuild_ms=rebuild.median_ms,
                moves=len(update_us),
                first_query_median_ms=float(np.median([sample.query_ms for sample in first_samples])),
                first_query_max_ms=max(sample.query_ms for sample in first_samples),
                first_query_mismatches=sum(not sample.matches for sample in first_samples),
            )
        )
        rows += [_figures(done, count, shape, size_m) for (shape, size_m), done in samples.items()]
    return DispatchBenchReport(
        city=CITY,
        seed=seed,
        simulated_s=SIMULATED_S,
        move_every_s=MOVE_EVERY_S,
        margin_m=DEFAULT_MARGIN_M,
        cell_deg=CELL_DEG,
        indexes=indexes,
        queries=rows,
        mismatches=sum(row.mismatches for row in rows) + sum(index.first_query_mismatches for index in indexes),
        cpu_cores=os.cpu_count() or 1,
    )


def _move(city: _City, index: UnitIndex, which: npt.NDArray[np.int64], now: datetime) -> list[float]:
    """Move some units in the city, then tell the index one by one; the time of each update, µs."""
    city.move(which, at=now)
    took = []
    for i in which.tolist():
        position = GeoPoint(lat=float(city.lat[i]), lon=float(city.lon[i]))
        started = time.perf_counter()
        index.move(str(city.ids[i]), position=position, accuracy_m=5.0, at=now)
        took.append((time.perf_counter() - started) * 1e6)
    return took


@dataclass(frozen=True)
class _Question:
    """One query, timed, its answer not yet checked."""

    area: Area
    target: GeoPoint
    answer: AreaAnswer
    query_ms: float
    rows_ms: float


@dataclass(frozen=True)
class _Sample:
    """One query, its answer checked."""

    query_ms: float
    rows_ms: float
    all_units_ms: float
    found: int
    matches: bool


def _ask(
    city: _City, index: UnitIndex, shape: str, size_m: float, *, rng: np.random.Generator, now: datetime
) -> _Question:
    chosen = int(rng.integers(0, city.ids.size))
    target = GeoPoint(lat=float(city.lat[chosen]), lon=float(city.lon[chosen]))
    area: Area = (
        CircleArea(centre=target, radius_m=size_m) if shape == "circle" else star_polygon(target, size_m, rng=rng)
    )
    answer, query_ms = _timed(lambda: index.units_in_area(area, target=target, now=now))
    _, rows_ms = _timed(answer.rows)
    return _Question(area=area, target=target, answer=answer, query_ms=query_ms, rows_ms=rows_ms)


def _check(question: _Question, city: _City, *, now: datetime, ages: PositionAges) -> _Sample:
    truth, all_units_ms = _timed(lambda: city.answer(question.area, target=question.target, now=now, ages=ages))
    return _Sample(
        query_ms=question.query_ms,
        rows_ms=question.rows_ms,
        all_units_ms=all_units_ms,
        found=len(question.answer),
        matches=_matches(question.answer, truth, city, ages),
    )


def _timed(work: Callable[[], _T]) -> tuple[_T, float]:
    started = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - started) * 1000


def _figures(samples: list[_Sample], units: int, shape: str, size_m: float) -> QueryFigures:
    query = [sample.query_ms for sample in samples]
    return QueryFigures(
        units=units,
        shape=shape,
        size_m=size_m,
        queries=len(samples),
        median_ms=float(np.median(query)),
        p95_ms=float(np.percentile(query, 95)),
        mean_found=float(np.mean([sample.found for sample in samples])),
        rows_median_ms=float(np.median([sample.rows_ms for sample in samples])),
        all_units_median_ms=float(np.median([sample.all_units_ms for sample in samples])),
        mismatches=sum(not sample.matches for sample in samples),
    )
