"""The live unit index of a server process, kept in step with the database through the feed.

Every server process holds a :class:`~vigil.dispatch.unit_index.UnitIndex` of the units' latest positions, to
answer "which units are inside this area now" in microseconds. Positions and status changes are committed by
whichever server ingested them, so the index does not follow ingestion: it follows the feed, the database's
ordered record of every change (:mod:`vigil.command.feed.service`), which every process reads.

**Start**: the feed's horizon ``H`` is read first, then every unit with a position is loaded from the
database (a state that includes every entry up to ``H``, and perhaps some beyond); the follower then applies
the entries after ``H`` in ``seq`` order. Applying an entry the loaded state already holds changes nothing: the
index never takes an older position, and a unit's status changes are in the feed in the order they happened
(each takes the unit's row lock), so replaying them ends in the unit's latest status.

**Running**: :class:`UnitIndexFollower` waits for the horizon to move (at once for this process's own commits,
every ``poll_s`` for other processes') and applies what it passed. A unit the index does not hold yet, or that
has no position, joins it with its first position.
"""

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.command.database import Database
from vigil.command.errors import DatabaseUnavailable
from vigil.command.feed.follower import FeedFollower
from vigil.command.feed.schemas import FeedMessage, PositionEntry, UnitChangedEntry
from vigil.command.feed.service import read_entries
from vigil.command.units.models import Unit
from vigil.dispatch.errors import UnknownUnit
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import LiveUnit
from vigil.dispatch.unit_index import UnitIndex

_log = logging.getLogger(__name__)

_PAGE = 5_000
_RETRY_S = 1.0


def load_unit_index(*, session: Session, ages: PositionAges) -> UnitIndex:
    """A new index holding every unit that has reported a position, as the database holds them now."""
    index = UnitIndex(ages=ages)
    units = session.scalars(select(Unit).where(Unit.position_at.is_not(None)))
    index.upsert_many(live_unit(unit) for unit in units)
    return index


def live_unit(unit: Unit) -> LiveUnit:
    """A stored unit with a position, as the live index holds it.

    Raises:
        ValueError: the unit has no position.
    """
    if unit.position_at is None or unit.position_lat is None or unit.position_lon is None:
        raise ValueError(f"unit {unit.unit_id} has no position yet")
    return LiveUnit(
        unit_id=unit.unit_id,
        call_sign=unit.call_sign,
        radio_id=unit.radio_id,
        kind=unit.kind,
        status=unit.status,
        position=GeoPoint(lat=unit.position_lat, lon=unit.position_lon),
        accuracy_m=unit.position_accuracy_m,
        position_at=unit.position_at,
    )


def apply_entries(index: UnitIndex, entries: Sequence[FeedMessage], *, database: Database) -> None:
    """Apply feed entries, in order, to the index (other kinds of entry are ignored).

    A position of a unit the index does not hold yet brings the unit in with its details from the database.
    """
    for entry in entries:
        match entry:
            case PositionEntry(payload=position):
                point = GeoPoint(lat=position.lat, lon=position.lon)
                try:
                    index.move(position.unit_id, position=point, accuracy_m=position.accuracy_m, at=position.at)
                except UnknownUnit:
                    with database.read_session() as session:
                        unit = session.get(Unit, position.unit_id)
                        if unit is not None and unit.position_at is not None:
                            index.upsert(live_unit(unit))
            case UnitChangedEntry(payload=changed) if changed.unit_id in index:
                held = index.get(changed.unit_id)
                index.upsert(
                    LiveUnit(
                        unit_id=changed.unit_id,
                        call_sign=changed.call_sign,
                        radio_id=changed.radio_id,
                        kind=changed.kind,
                        status=changed.status,
                        position=held.position,
                        accuracy_m=held.accuracy_m,
                        position_at=held.position_at,
                    )
                )
            case _:
                pass


class UnitIndexFollower:
    """Keeps one process's live unit index in step with the feed (see the module docstring)."""

    def __init__(self, *, database: Database, follower: FeedFollower, ages: PositionAges) -> None:
        """Prepare; :meth:`start` loads the index and follows the feed.

        Args:
            database: the server's database.
            follower: the process's feed horizon.
            ages: when positions are stale and when too old to count.
        """
        self._database = database
        self._follower = follower
        self._ages = ages
        self._index: UnitIndex | None = None
        self._applied = 0
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()

    @property
    def index(self) -> UnitIndex:
        """The live index.

        Raises:
            RuntimeError: before :meth:`start`.
        """
        if self._index is None:
            raise RuntimeError("the unit index is loaded when the server starts")
        return self._index

    @property
    def applied(self) -> int:
        """The ``seq`` of the last feed entry applied (0 before any)."""
        return self._applied

    async def start(self) -> None:
        """Load the index and start following the feed (on the running event loop).

        Raises:
            DatabaseUnavailable: the database cannot be reached.
        """
        horizon = await self._follower.refresh()

        def load() -> UnitIndex:
            with self._database.read_session() as session:
                return load_unit_index(session=session, ages=self._ages)

        self._index = await run_in_threadpool(load)
        self._applied = horizon
        self._task = asyncio.create_task(self._follow(self._index), name="unit-index")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def caught_up(self, seq: int, *, timeout_s: float) -> bool:
        """Wait until the entries up to ``seq`` are applied; False after ``timeout_s``."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._applied < seq:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            self._caught_up.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._caught_up.wait(), remaining)
        return True

    async def _follow(self, index: UnitIndex) -> None:
        async with self._follower.following():
            while True:
                horizon = await self._follower.wait_beyond(self._applied, timeout_s=None)
                try:
                    entries = await run_in_threadpool(self._read, self._applied, horizon)
                    await run_in_threadpool(apply_entries, index, entries, database=self._database)
                except DatabaseUnavailable as exc:
                    _log.warning("unit_index.unavailable", extra={"reason": str(exc)})
                    await asyncio.sleep(_RETRY_S)
                    continue
                except Exception:
                    # Never stop following: a stale index would send officers by old positions. Say so loudly.
                    _log.exception("unit_index.failed", extra={"applied": self._applied})
                    await asyncio.sleep(_RETRY_S)
                    continue
                if entries:
                    self._applied = entries[-1].seq
                if len(entries) < _PAGE:
                    self._applied = max(self._applied, horizon)
                self._caught_up.set()

    def _read(self, after: int, upto: int) -> list[FeedMessage]:
        with self._database.read_session() as session:
            return read_entries(session=session, after=after, upto=upto, limit=_PAGE)
