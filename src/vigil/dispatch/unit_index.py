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
margin; a unit that has moved further, or is new, goes on a short *moved* list, whose own copy of their
positions each query puts to the box test. When the moved list passes 1/64 of the units (at least 256), the
writer that grew it builds a new grid, outside the lock, from a snapshot; queries carry on meanwhile with the
old grid, and units that move during the build stay on the moved list. Every candidate is then tested exactly,
so the margin and the grid change how much work a query does, never its answer.

What a query reads of a unit (position, time, whether it is findable, accuracy, slot) is one row of
``live``; the grid keeps a copy of its units' rows in its own order, by cell, which writers keep up to date,
so the units of a row of cells are one run of memory rather than slots scattered over all of ``live`` (at
100,000 units, reading those scattered rows was a fifth of a query's time in a busy town centre). Each unit's
particulars and status are one :class:`~vigil.dispatch.area_answer.UnitCard`; an answer keeps the index's
array of cards and where its units are in it, and the index changes a copy of that array once an answer holds
it, so that giving an answer touches none of its units' Python objects.

**Threads**: one lock guards the arrays. Writers (ingestion) hold it for a few microseconds per position, a
query for the time it takes to pick and order its units (tens of microseconds), and the answer's columns are
finished and its rows made after the lock is released, from copies.
"""

import threading
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.dispatch.area import Area, CircleArea
from vigil.dispatch.area_answer import AreaAnswer, UnitCard
from vigil.dispatch.cell_grid import CellGrid
from vigil.dispatch.errors import UnknownUnit
from vigil.dispatch.geodesy import METRES_PER_DEGREE, FloatArray, GeoPoint, haversine_rows_m
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import LiveUnit, UnitStatus

DEFAULT_MARGIN_M = 100.0
"""How far a unit may move from where the grid last saw it before it joins the moved list, metres."""

MIN_MOVED_BEFORE_REBUILD = 256
"""The moved list is built into a new grid once it holds more than this, or 1/64 of the units if more."""

_QUERY_SLACK_DEG = 1e-9
"""Added to the margin when querying the grid, so that rounding in the box's corners never loses a unit."""
_INITIAL_CAPACITY = 1024

# The columns of ``_Columns.live``, one row per slot: what a query reads, together in one row.
_LAT, _LON, _AT, _FOUND_BY, _ACCURACY, _SLOT = range(6)
# Values of the _FOUND_BY column: how a query finds the unit, so that it finds it once.
_NOT_FOUND = 0.0
"""No unit in the slot, or an off-duty one."""
_BY_GRID = 1.0
"""In the grid, within the margin of where the grid saw it."""
_BY_MOVED_LIST = 2.0
"""On the moved list (new, or moved further than the margin since the grid saw it)."""


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
        self._cards_shared = False
        """An answer holds ``_columns.card``: it is copied before it changes."""

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
            card: UnitCard = self._columns.card[slot]
            lat, lon, _, _, accuracy, _ = self._columns.live[slot].tolist()
            return LiveUnit(
                unit_id=unit_id,
                call_sign=card.call_sign,
                radio_id=card.radio_id,
                kind=card.kind,
                status=card.status,
                position=GeoPoint(lat=lat, lon=lon),
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
            if at.timestamp() < self._columns.live[slot, _AT]:
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
            slot = self._slot(unit_id)
            card = self._writable_cards()
            card[slot] = card[slot]._replace(status=status)
            self._columns.off_duty[slot] = status is UnitStatus.OFF_DUTY
            self._columns.refresh_found_by(slot)

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
            self._writable_cards()[slot] = None
            self._columns.refresh_found_by(slot)
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
            live, from_grid = self._candidates(bounds.min_lon, bounds.min_lat, bounds.max_lon, bounds.max_lat)
            lat, lon, at, found_by = live[_LAT], live[_LON], live[_AT], live[_FOUND_BY]
            keep = np.empty(found_by.size, dtype=np.bool_)
            np.equal(found_by[:from_grid], _BY_GRID, out=keep[:from_grid])
            np.equal(found_by[from_grid:], _BY_MOVED_LIST, out=keep[from_grid:])
            keep &= np.subtract(now_s, at) <= self._ages.max_age_s  # as the age below; max(age, 0) changes no test
            # The cells reach past the box: the box test is cheap, the exact test is not.
            keep &= (lat >= bounds.min_lat) & (lat <= bounds.max_lat)
            keep &= (lon >= bounds.min_lon) & (lon <= bounds.max_lon)
            chosen = np.flatnonzero(keep)
            live = np.take(live, chosen, axis=1)
            distance = haversine_rows_m(live[:2], to=target)
            if isinstance(area, CircleArea) and area.centre == target:
                inside = distance <= area.radius_m  # the circle's own test, on the distances just computed
            else:
                inside = area.contains_many(live[_LAT], live[_LON])
            chosen = np.flatnonzero(inside)
            distance = distance[chosen]
            order = np.argsort(distance)
            chosen, distance = chosen[order], distance[order]
            cards = self._columns.card
            self._cards_shared = True
            if (distance[1:] == distance[:-1]).any():  # equal distances (rare): by unit id
                chosen = _by_distance_then_id(chosen, distance, live[_SLOT], cards)
        lat, lon, at, _, accuracy, slots = np.take(live, chosen, axis=1)
        age = np.subtract(now_s, at)
        np.maximum(age, 0.0, out=age)
        return AreaAnswer(
            card_table=cards,
            card_slots=slots.astype(np.int64),
            lat=lat,
            lon=lon,
            distance_m=distance,
            accuracy_m=accuracy,
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
            lat, lon = columns.live[slots, _LAT], columns.live[slots, _LON]
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
                & (np.abs(columns.live[slots, _LAT] - lat) <= self._margin_deg)
                & (np.abs(columns.live[slots, _LON] - lon) <= self._margin_deg)
            )
            columns.anchored[:] = False
            columns.anchored[slots[unchanged]] = True
            moved = np.flatnonzero(columns.active[: self._used] & ~columns.anchored[: self._used])
            columns.moved[: moved.size] = moved
            columns.moved_index[moved] = np.arange(moved.size)
            columns.moved_lat[: moved.size] = columns.live[moved, _LAT]
            columns.moved_lon[: moved.size] = columns.live[moved, _LON]
            self._moved_count = moved.size
            columns.in_moved[:] = False
            columns.in_moved[moved] = True
            columns.refresh_all_found_by()
            columns.mirror_grid(grid.ids)

    def _candidates(self, min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> tuple[FloatArray, int]:
        """The ``live`` columns of units that may be inside the box, and how many (the first ones) are the grid's.

        The columns have shape (6, n). A unit is among them either from the grid, when its ``found_by`` is
        :data:`_BY_GRID`, or from the moved list, when it is :data:`_BY_MOVED_LIST`; its other appearance, if any (a
        grid cell it has moved out of, a slot emptied since), is to be dropped. Lock held.
        """
        columns = self._columns
        count = self._moved_count
        moved = columns.moved[:count]
        if count:  # the box test on the list's own copy of their positions: one run of memory, however long
            lat, lon = columns.moved_lat[:count], columns.moved_lon[:count]
            moved = moved[(lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)]
        from_moved = columns.live[moved].T
        if self._grid is None:
            return np.ascontiguousarray(from_moved), 0
        margin = self._margin_deg + _QUERY_SLACK_DEG
        runs = self._grid.runs_in_cells_of(min_lon - margin, min_lat - margin, max_lon + margin, max_lat + margin)
        grid_live = columns.grid_live
        live = np.concatenate([*(grid_live[:, run] for run in runs), from_moved], axis=1)
        return live, live.shape[1] - moved.size

    def _upsert(self, unit: LiveUnit) -> bool:
        columns = self._columns
        slot = self._slot_of.get(unit.unit_id)
        if slot is None:
            slot = self._free.pop() if self._free else self._next_slot()
            columns = self._columns
            self._slot_of[unit.unit_id] = slot
            columns.active[slot] = True
            columns.anchored[slot] = False
            columns.live[slot, _AT] = -np.inf
        self._writable_cards()[slot] = UnitCard(unit.unit_id, unit.call_sign, unit.radio_id, unit.kind, unit.status)
        columns.off_duty[slot] = unit.status is UnitStatus.OFF_DUTY
        taken = bool(unit.position_at.timestamp() >= columns.live[slot, _AT])
        if taken:
            self._place(slot, unit.position, unit.accuracy_m, unit.position_at)
        columns.refresh_found_by(slot)
        return taken

    def _place(self, slot: int, position: GeoPoint, accuracy_m: float | None, at: datetime) -> None:
        columns = self._columns
        columns.set_position(slot, position, accuracy_m, at)
        if columns.anchored[slot] and (
            abs(position.lat - columns.anchor_lat[slot]) > self._margin_deg
            or abs(position.lon - columns.anchor_lon[slot]) > self._margin_deg
        ):
            columns.anchored[slot] = False
            columns.refresh_found_by(slot)
        if not columns.anchored[slot]:
            if not columns.in_moved[slot]:
                columns.in_moved[slot] = True
                columns.moved_index[slot] = self._moved_count
                columns.moved[self._moved_count] = slot
                self._moved_count += 1
            listed = columns.moved_index[slot]
            columns.moved_lat[listed], columns.moved_lon[listed] = position.lat, position.lon

    def _writable_cards(self) -> npt.NDArray[np.object_]:
        """The cards, to change: a copy first if an answer holds them (answers keep the cards they were given)."""
        if self._cards_shared:
            self._columns.card = self._columns.card.copy()
            self._cards_shared = False
        return self._columns.card

    def _wants_rebuild(self) -> bool:
        return not self._building and self._moved_count > max(MIN_MOVED_BEFORE_REBUILD, len(self._slot_of) // 64)

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
    chosen: npt.NDArray[np.int64], distance: FloatArray, slots: FloatArray, card: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """``chosen`` (in order of ``distance``, theirs), put in order of unit id where distances are equal."""
    by_id = sorted(range(chosen.size), key=lambda i: (distance[i], card[int(slots[chosen[i]])].unit_id))
    return chosen[by_id]


class _Columns:
    """Per-slot arrays: slot ``i`` of each holds one unit (or none: ``active`` is False)."""

    def __init__(self, capacity: int) -> None:
        self.live = np.full((capacity, 6), np.nan)
        """What a query reads, one row per slot: latitude, longitude, the position's time (POSIX seconds),
        how a query finds the unit (``_FOUND_BY``), the position's accuracy (metres; NaN when unknown), and the
        slot's own number."""
        self.live[:, _FOUND_BY] = _NOT_FOUND
        self.live[:, _SLOT] = np.arange(capacity)
        self.anchor_lat = np.full(capacity, np.nan)
        """Where the grid last saw the unit."""
        self.anchor_lon = np.full(capacity, np.nan)
        self.off_duty = np.zeros(capacity, dtype=np.bool_)
        """The unit's card says it is off duty (kept beside the cards for the rebuild's test of every slot)."""
        self.active = np.zeros(capacity, dtype=np.bool_)
        self.anchored = np.zeros(capacity, dtype=np.bool_)
        """The unit is in the grid and within the margin of where the grid saw it."""
        self.in_moved = np.zeros(capacity, dtype=np.bool_)
        self.moved = np.zeros(capacity, dtype=np.int64)
        """The moved list: its first ``moved_count`` entries are slots."""
        self.moved_lat = np.full(capacity, np.nan)
        """The latitude of the unit at each place of the moved list (a copy of its ``live`` one, kept together)."""
        self.moved_lon = np.full(capacity, np.nan)
        self.moved_index = np.zeros(capacity, dtype=np.int64)
        """Where on the moved list each slot is, while ``in_moved``."""
        self.card = np.full(capacity, None, dtype=object)
        """Each unit's :class:`UnitCard`."""
        self.times = np.full(capacity, None, dtype=object)
        """The position's time as given (a datetime)."""
        self.grid_row = np.full(capacity, -1, dtype=np.int64)
        """Where in the grid's order each slot is, or -1 for a slot the grid does not hold."""
        self.grid_live: FloatArray = np.empty((6, 0))
        """The ``live`` rows of the grid's slots as columns, shape (6, n), in the grid's order (by cell): a query
        reads whole runs of it."""

    @property
    def capacity(self) -> int:
        """How many slots the arrays have."""
        return int(self.live.shape[0])

    def set_position(self, slot: int, position: GeoPoint, accuracy_m: float | None, at: datetime) -> None:
        """Write a unit's position into its ``live`` row (and the grid's copy of it)."""
        live = self.live[slot]
        live[_LAT], live[_LON], live[_AT] = position.lat, position.lon, at.timestamp()
        live[_ACCURACY] = np.nan if accuracy_m is None else accuracy_m
        self.times[slot] = at
        self._mirror(slot)

    def refresh_found_by(self, slot: int) -> None:
        """Set how a query finds the unit in a slot, from whether it is active, off duty and anchored."""
        if not self.active[slot] or self.off_duty[slot]:
            self.live[slot, _FOUND_BY] = _NOT_FOUND
        else:
            self.live[slot, _FOUND_BY] = _BY_GRID if self.anchored[slot] else _BY_MOVED_LIST
        self._mirror(slot)

    def refresh_all_found_by(self) -> None:
        """:meth:`refresh_found_by` for every slot."""
        self.live[:, _FOUND_BY] = np.where(
            self.active & ~self.off_duty, np.where(self.anchored, _BY_GRID, _BY_MOVED_LIST), _NOT_FOUND
        )

    def mirror_grid(self, grid_slots: npt.NDArray[np.int64]) -> None:
        """Copy the ``live`` rows of a new grid's slots, in its order, into ``grid_live``."""
        self.grid_live = np.ascontiguousarray(self.live[grid_slots].T)
        self.grid_row[:] = -1
        self.grid_row[grid_slots] = np.arange(grid_slots.size)

    def _mirror(self, slot: int) -> None:
        row = self.grid_row[slot]
        if row >= 0:
            self.grid_live[:, row] = self.live[slot]

    def grown(self, capacity: int, *, used: int) -> "_Columns":
        """A copy with room for ``capacity`` slots, holding the first ``used`` of these."""
        bigger = _Columns(capacity)
        for name, array in vars(self).items():
            if name != "grid_live":
                getattr(bigger, name)[:used] = array[:used]
        bigger.grid_live = self.grid_live
        return bigger
