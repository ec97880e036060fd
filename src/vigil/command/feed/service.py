"""Writing and reading the feed, and knowing how far it is final.

**Writing.** Each accepted event adds one entry in the same transaction as its effect (:func:`append_entry`).

**How far is final: the horizon.** A reader that follows ``seq`` must never step over a row that is still to
come. On SQLite writers take turns (``BEGIN IMMEDIATE``), so when a row is visible every smaller ``seq`` is
committed or was never used: the horizon is simply the largest visible ``seq``. On PostgreSQL a ``seq`` is drawn
at insert, not at commit, so a transaction that commits late can fill a gap below rows already visible. Here:

* every transaction that appends to the feed first takes a *shared* advisory lock, :data:`FEED_WRITERS_LOCK`,
  held until it ends (:func:`open_feed_for_writing`; :func:`append_entry` takes it too). Take it before any row
  lock, so that a writer never waits for it while holding a row another writer needs;
* a reader that sees a gap below the largest visible ``seq`` ``H`` waits for the *exclusive* lock and lets go at
  once (:func:`wait_for_feed_writers`). That returns only when every transaction that held the shared lock when
  it asked has ended, and ``H``'s writer drew its number after every smaller one was drawn, under the lock. So
  after it, every row up to ``H`` is either visible or never will be, and the horizon moves to ``H``.

Nothing waits on a timer, so a slow commit is never skipped; a reader that sees no gap never waits at all.
While the reader queues for the exclusive lock, new writers queue behind it: that costs them at most the
remaining time of the writers already in flight (transactions of milliseconds), and ``lock_timeout`` bounds it.
"""

import enum
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from vigil.command.bulk_insert import bulk_insert
from vigil.command.database import Base
from vigil.command.feed.models import FeedEntry
from vigil.command.feed.schemas import FEED_MESSAGE, FeedMessage

FEED_WRITERS_LOCK = 0x76696766  # "vigf"
"""The PostgreSQL advisory lock key: writers hold it shared, a reader waiting for them takes it exclusively."""

_LOCK_NOT_AVAILABLE = "55P03"
_LOCKED_IN = "vigil.feed.locked_in"
APPENDED = "vigil.feed.appended"
"""``Session.info`` key: set when the session's transaction appended entries (to wake readers on commit)."""


class FeedKind(enum.StrEnum):
    """What a feed entry reports."""

    UNIT_POSITION = "unit.position"
    UNIT_CHANGED = "unit.changed"
    ALERT_RAISED = "alert.raised"
    DEVICE_STATUS = "device.status"
    DISPATCH_STATUS = "dispatch.status"
    ALERT_REVIEWED = "alert.reviewed"
    ALERT_ESCALATED = "alert.escalated"
    ALERT_VERIFIED = "alert.verified"
    WATCHLIST_VERSION = "watchlist.version"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_CHANGED = "incident.changed"
    DISPATCH_SENT = "dispatch.sent"
    DISPATCH_ESCALATED = "dispatch.escalated"
    EMERGENCY_RAISED = "emergency.raised"
    EMERGENCY_CHANGED = "emergency.changed"


def open_feed_for_writing(*, session: Session) -> None:
    """Announce that this transaction will append to the feed (PostgreSQL: take the writers' shared lock).

    Call it before the transaction locks any row; later calls in the same transaction do nothing. On SQLite it
    does nothing: writers take turns there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOCKED_IN) is transaction:
        return
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": FEED_WRITERS_LOCK})
    session.info[_LOCKED_IN] = session.get_transaction()


def append_entry(*, session: Session, kind: FeedKind, payload: BaseModel, now: datetime) -> None:
    """Add an entry; it becomes visible when the caller commits."""
    open_feed_for_writing(session=session)
    session.add(FeedEntry(kind=kind.value, payload=payload.model_dump(mode="json"), created_at=now))
    session.info[APPENDED] = True


def append_entries(*, session: Session, entries: Sequence[tuple[FeedKind, BaseModel]], now: datetime) -> None:
    """Add several entries in one statement, in order; they become visible when the caller commits."""
    if not entries:
        return
    open_feed_for_writing(session=session)
    bulk_insert(  # in order: seq follows the order of the rows
        session=session,
        table=Base.metadata.tables[FeedEntry.__tablename__],
        columns=("kind", "payload"),
        rows=[(kind.value, payload.model_dump(mode="json")) for kind, payload in entries],
        same_for_all={"created_at": now},
    )
    session.info[APPENDED] = True


def largest_seq(*, session: Session) -> int:
    """The largest visible ``seq``; 0 when the feed is empty."""
    return int(session.scalar(select(func.max(FeedEntry.seq))) or 0)


def visible_beyond(*, session: Session, after: int) -> tuple[int, int]:
    """The largest visible ``seq`` above ``after`` and how many rows lie above ``after`` (``(after, 0)`` if none)."""
    largest, count = session.execute(
        select(func.max(FeedEntry.seq), func.count(FeedEntry.seq)).where(FeedEntry.seq > after)
    ).one()
    return (int(largest), int(count)) if largest is not None else (after, 0)


def wait_for_feed_writers(*, session: Session, timeout_s: float) -> bool:
    """Wait until every transaction appending to the feed when this was called has ended (PostgreSQL).

    Args:
        session: a session with no transaction begun; it is left that way.
        timeout_s: the longest wait, seconds.

    Returns:
        True once they have ended (at once on SQLite); False when that took longer than ``timeout_s``.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    try:
        with session.begin():
            session.execute(text(f"SET LOCAL lock_timeout = {max(1, round(timeout_s * 1000))}"))
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_WRITERS_LOCK})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            return False
        raise
    return True


def read_entries(*, session: Session, after: int, upto: int, limit: int) -> list[FeedMessage]:
    """Entries with ``after < seq <= upto``, in ``seq`` order, at most ``limit``."""
    rows = session.execute(
        select(FeedEntry.seq, FeedEntry.kind, FeedEntry.payload, FeedEntry.created_at)
        .where(FeedEntry.seq > after, FeedEntry.seq <= upto)
        .order_by(FeedEntry.seq)
        .limit(limit)
    )
    return [
        FEED_MESSAGE.validate_python({"seq": seq, "kind": kind, "payload": payload, "created_at": created_at})
        for seq, kind, payload, created_at in rows
    ]
