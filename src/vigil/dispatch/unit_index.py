"""The live index of units' latest positions: which units are inside an area now, and how far from the target.

**Answers** are exactly those of checking every unit: a unit is in the answer when it is not off duty, its
position is at most ``max_age_s`` old, and its position is inside the area by the area's own test
(:meth:`~vigil.dispatch.area.CircleArea.contains_many`, boundaries inside). Its distance to the target is
:func:`~vigil.dispatch.geodesy.haversine_m`, the same bits a check over all units gives. The answer is sorted
by distance, then unit id. A position older than ``stale_after_s`` is flagged ``stale``; one stamped a little
ahead of this server's clock counts as age 0.

**How it is fast**: a :class:`~vigil.dispatch.cell_grid.CellGrid` holds every unit's position as it was when
the grid was built (its *anchor*). A unit that has moved less than the margin (100 m by default, in degrees of
latitude and of longitude) from its anchor is still found in the cells of the area's bounding box grown by the
margin; a unit that has moved further, or is new, goes on a short *moved* list that each query checks in full.
When the moved list passes 1/32 of the units (at least 256), the writer that grew it builds a new grid, outside
the lock, from a snapshot; queries carry on meanwhile with the old grid, and units that move during the build
stay on the moved list. Every candidate is then tested exactly, so the margin and the grid change how much
work a query does, never its answer.

**Threads**: one lock guards the arrays. Writers (ingestion) hold it for a few microseconds per position, a
query for the time it takes to pick its units (tens of microseconds), and the answer's rows are made after the
lock is released, from copies.
"""

import threading
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.dispatch.area import Area, CircleArea
from vigil.dispatch.area_answer import AreaAnswer
from vigil.dispatch.cell_grid import CellGrid
from vigil.dispatch.errors import UnknownUnit
from vigil.dispatch.geodesy import METRES_PER_DEGREE, FloatArray, GeoPoint, haversine_m
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import LiveUnit, UnitKind, UnitStatus

DEFAULT_MARGIN_M = 100.0
"""How far a unit may move from where the grid last saw it before it joins the moved list, metres."""

MIN_MOVED_BEFORE_REBUILD = 256
"""The moved list is built into a new grid once it holds more than this, or 1/32 of the units if more."""

_QUERY_SLACK_DEG = 1e-9
"""Added to the margin when querying the grid, so that rounding in the box's corners never loses a unit."""
_INITIAL_CAPACITY = 1024
_STATUSES = tuple(UnitStatus)
_KINDS = tuple(UnitKind)
_STATUS_OBJECTS = np.array(_STATUSES, dtype=object)
_KIND_OBJECTS = np.array(_KINDS, dtype=object)
_STATUS_CODE = {status: code for code, status in enumerate(_STATUSES)}
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}
_OFF_DUTY = _STATUS_CODE[UnitStatus.OFF_DUTY]


class UnitIndex:
    """Every unit's latest known position, answering "which units are inside this area now"."""

    def __init__(self, *, ages: PositionAges, margin_m: float = DEFAULT_MARGIN_M) -> None:
        """An empty index.

        Args:
            ages: when a position is stale, and when it is too old to count.
            margin_m: how far a unit may move from where the grid saw it before it goes on the moved list, metres;
                it trades query work against rebuilds, and answers are the same for any margin.

        Raises:
            ValueError: the margin is not a positive finite number.
        """
        if not 0 < margin_m < float("inf"):
            raise ValueError(f"margin_m must be a positive number of metres, got {margin_m}")
        self._ages = ages
        self._margin_deg = margin_m / METRES_PER_DEGREE
        self._lock = threading.Lock()
        self._slot_of: dict[str, int] = {}
        self._free: list[int] = []
        self._used = 0
        self._columns = _Columns(_INITIAL_CAPACITY)
        self._moved_count = 0
        self._grid: CellGrid | None = None
        self._building = False

    def __len__(self) -> int:
        """How many units the index holds."""
        with self._lock:
            return len(self._slot_of)

    def __contains__(self, unit_id: object) -> bool:
        """Whether the index holds this unit."""
        with self._lock:
            return unit_id in self._slot_of

    def get(self, unit_id: str) -> LiveUnit:
        """What the index holds for a unit.

        Raises:
            UnknownUnit: the index holds no such unit.
        """
        with self._lock:
            slot = self._slot(unit_id)
            accuracy = float(self._columns.accuracy[slot])
            return LiveUnit(
                unit_id=unit_id,
                call_sign=str(self._columns.call_sign[slot]),
                radio_id=self._columns.radio_id[slot],
                kind=_KINDS[self._columns.kind[slot]],
                status=_STATUSES[self._columns.status[slot]],
                position=GeoPoint(lat=float(self._columns.lat[slot]), lon=float(self._columns.lon[slot])),
                accuracy_m=None if np.isnan(accuracy) else accuracy,
                position_at=self._columns.times[slot],
            )

    def upsert(self, unit: LiveUnit) -> bool:
        """Add a unit, or replace what the index holds for it, but never with an older position.

        Its call sign, radio, kind and status are always taken; its position only when it is at least as new as
        the one held (devices resend old positions after a gap in coverage).

        Returns:
            Whether the position was taken.
        """
        return self.upsert_many([unit]) == 1

    def upsert_many(self, units: Iterable[LiveUnit]) -> int:
        """:meth:`upsert` each unit in turn, under one lock (ingestion's batches; loading at start).

        Returns:
            How many of their positions were taken.
        """
        taken = 0
        with self._lock:
            for unit in units:
                taken += self._upsert(unit)
            rebuild = self._wants_rebuild()
        if rebuild:
            self.rebuild()
        return taken

    def move(self, unit_id: str, *, position: GeoPoint, accuracy_m: float | None, at: datetime) -> bool:
        """Take a unit's new position, unless the index holds a newer one.

        Returns:
            Whether the position was taken.

        Raises:
            UnknownUnit: the index holds no such unit (``upsert`` it first).
        """
        with self._lock:
            slot = self._slot(unit_id)
            if at.timestamp() < self._columns.at[slot]:
                return False
            self._place(slot, position, accuracy_m, at)
            rebuild = self._wants_rebuild()
        if rebuild:
            self.rebuild()
        return True

    def set_status(self, unit_id: str, status: UnitStatus) -> None:
        """Change what a unit is doing.

        Raises:
            UnknownUnit: the index holds no such unit.
        """
        with self._lock:
            self._columns.status[self._slot(unit_id)] = _STATUS_CODE[status]

    def remove(self, unit_id: str) -> bool:
        """Forget a unit.

        Returns:
            Whether the index held it.
        """
        with self._lock:
            slot = self._slot_of.pop(unit_id, None)
            if slot is None:
                return False
            self._columns.active[slot] = False
            self._columns.anchored[slot] = False
            self._columns.unit_id[slot] = None
            self._free.append(slot)
            return True

    def units_in_area(self, area: Area, *, target: GeoPoint, now: datetime) -> AreaAnswer:
        """The units inside an area now, nearest the target first (then by unit id).

        Args:
            area: the area (its boundary is inside).
            target: the point distances are measured to: the subject's last position.
            now: the time position ages are measured from (timezone-aware).

        Returns:
            Every unit that is not off duty, whose position is at most ``max_age_s`` old and inside the area.
        """
        now_s = now.timestamp()
        bounds = area.bounds()
        with self._lock:
            columns = self._columns
            slots = self._candidates(bounds.min_lon, bounds.min_lat, bounds.max_lon, bounds.max_lat)
            lat, lon = columns.lat[slots], columns.lon[slots]
            age = np.maximum(now_s - columns.at[slots], 0.0)
            distance = haversine_m(lat, lon, to=target)
            if isinstance(area, CircleArea) and area.centre == target:
                inside = distance <= area.radius_m  # the circle's own test, on the distances just computed
            else:
                inside = area.contains_many(lat, lon)
            keep = inside & (age <= self._ages.max_age_s) & (columns.status[slots] != _OFF_DUTY)
            slots, age, lat, lon, distance = slots[keep], age[keep], lat[keep], lon[keep], distance[keep]
            order = _by_distance_then_id(distance, slots, columns.unit_id)
            slots, age = slots[order], age[order]
            return AreaAnswer(
                unit_id=columns.unit_id[slots],
                call_sign=columns.call_sign[slots],
                radio_id=columns.radio_id[slots],
                kind=_KIND_OBJECTS[columns.kind[slots]],
                status=_STATUS_OBJECTS[columns.status[slots]],
                lat=lat[order],
                lon=lon[order],
                distance_m=distance[order],
                accuracy_m=columns.accuracy[slots],
                position_age_s=age,
                stale=age > self._ages.stale_after_s,
            )

    def rebuild(self) -> None:
        """Build the grid again from where every unit is now, emptying the moved list.

        Writers call this themselves when the moved list grows long. The build runs outside the lock: queries and
        writes carry on, and units that move meanwhile stay on the moved list. Returns at once if another thread
        is building.
        """
        with self._lock:
            if self._building:
                return
            self._building = True
            columns = self._columns
            slots = np.flatnonzero(columns.active[: self._used])
            lat, lon = columns.lat[slots], columns.lon[slots]
        try:
            grid = CellGrid(slots, lat, lon)
        except BaseException:
            with self._lock:
                self._building = False
            raise
        with self._lock:
            self._building = False
            columns = self._columns  # it may have grown meanwhile
            self._grid = grid
            columns.anchor_lat[slots], columns.anchor_lon[slots] = lat, lon
            unchanged = (
                columns.active[slots]
                & (np.abs(columns.lat[slots] - lat) <= self._margin_deg)
                & (np.abs(columns.lon[slots] - lon) <= self._margin_deg)
            )
            columns.anchored[:] = False
            columns.anchored[slots[unchanged]] = True
            moved = np.flatnonzero(columns.active[: self._used] & ~columns.anchored[: self._used])
            columns.moved[: moved.size] = moved
            self._moved_count = moved.size
            columns.in_moved[:] = False
            columns.in_moved[moved] = True

    def _candidates(self, min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> npt.NDArray[np.int64]:
        """Slots whose position is inside the box (edges included). Lock held."""
        columns = self._columns
        moved = columns.moved[: self._moved_count]
        slots = moved[columns.active[moved]]
        if self._grid is not None:
            margin = self._margin_deg + _QUERY_SLACK_DEG
            near = self._grid.ids_in_cells_of(min_lon - margin, min_lat - margin, max_lon + margin, max_lat + margin)
            slots = np.concatenate([near[columns.anchored[near]], slots])
        lat, lon = columns.lat[slots], columns.lon[slots]
        return slots[(lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)]

    def _upsert(self, unit: LiveUnit) -> bool:
        slot = self._slot_of.get(unit.unit_id)
        if slot is None:
            slot = self._free.pop() if self._free else self._next_slot()
            self._slot_of[unit.unit_id] = slot
            self._columns.active[slot] = True
            self._columns.anchored[slot] = False
            self._columns.unit_id[slot] = unit.unit_id
            self._columns.at[slot] = -np.inf
        self._columns.call_sign[slot] = unit.call_sign
        self._columns.radio_id[slot] = unit.radio_id
        self._columns.kind[slot] = _KIND_CODE[unit.kind]
        self._columns.status[slot] = _STATUS_CODE[unit.status]
        if unit.position_at.timestamp() < self._columns.at[slot]:
            return False
        self._place(slot, unit.position, unit.accuracy_m, unit.position_at)
        return True

    def _place(self, slot: int, position: GeoPoint, accuracy_m: float | None, at: datetime) -> None:
        self._columns.lat[slot], self._columns.lon[slot] = position.lat, position.lon
        self._columns.accuracy[slot] = np.nan if accuracy_m is None else accuracy_m
        self._columns.at[slot] = at.timestamp()
        self._columns.times[slot] = at
        if self._columns.anchored[slot] and (
            abs(position.lat - self._columns.anchor_lat[slot]) > self._margin_deg
            or abs(position.lon - self._columns.anchor_lon[slot]) > self._margin_deg
        ):
            self._columns.anchored[slot] = False
        if not self._columns.anchored[slot] and not self._columns.in_moved[slot]:
            self._columns.in_moved[slot] = True
            self._columns.moved[self._moved_count] = slot
            self._moved_count += 1

    def _wants_rebuild(self) -> bool:
        return not self._building and self._moved_count > max(MIN_MOVED_BEFORE_REBUILD, len(self._slot_of) // 32)

    def _slot(self, unit_id: str) -> int:
        slot = self._slot_of.get(unit_id)
        if slot is None:
            raise UnknownUnit(unit_id)
        return slot

    def _next_slot(self) -> int:
        if self._used == self._columns.capacity:
            self._columns = self._columns.grown(2 * self._used, used=self._used)
        self._used += 1
        return self._used - 1


def _by_distance_then_id(
    distance: FloatArray, slots: npt.NDArray[np.int64], unit_id: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """The order that sorts by distance, then (for equal distances, which are rare) by unit id."""
    order = np.argsort(distance)
    ordered = distance[order]
    if not np.any(ordered[1:] == ordered[:-1]):
        return order
    return np.array(sorted(range(distance.size), key=lambda i: (distance[i], unit_id[slots[i]])), dtype=np.int64)


class _Columns:
    """Per-slot arrays: slot ``i`` of each holds one unit (or none: ``active`` is False)."""

    def __init__(self, capacity: int) -> None:
        self.lat = np.full(capacity, np.nan)
        self.lon = np.full(capacity, np.nan)
        self.anchor_lat = np.full(capacity, np.nan)
        """Where the grid last saw the unit."""
        self.anchor_lon = np.full(capacity, np.nan)
        self.at = np.full(capacity, -np.inf)
        """The position's time, POSIX seconds."""
        self.accuracy = np.full(capacity, np.nan)
        """Metres; NaN when unknown."""
        self.status = np.zeros(capacity, dtype=np.int8)
        self.kind = np.zeros(capacity, dtype=np.int8)
        self.active = np.zeros(capacity, dtype=np.bool_)
        self.anchored = np.zeros(capacity, dtype=np.bool_)
        """The unit is in the grid and within the margin of where the grid saw it."""
        self.in_moved = np.zeros(capacity, dtype=np.bool_)
        self.moved = np.zeros(capacity, dtype=np.int64)
        """The moved list: its first ``moved_count`` entries are slots."""
        self.unit_id = np.full(capacity, None, dtype=object)
        self.call_sign = np.full(capacity, None, dtype=object)
        self.radio_id = np.full(capacity, None, dtype=object)
        self.times = np.full(capacity, None, dtype=object)
        """The position's time as given (a datetime)."""

    @property
    def capacity(self) -> int:
        """How many slots the arrays have."""
        return self.lat.size

    def grown(self, capacity: int, *, used: int) -> "_Columns":
        """A copy with room for ``capacity`` slots, holding the first ``used`` of these."""
        bigger = _Columns(capacity)
        for name, array in vars(self).items():
            getattr(bigger, name)[:used] = array[:used]
        return bigger
