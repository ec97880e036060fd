"""The store-and-forward outbox: every event is on disk before it is sent, and leaves only when the server has it.

The body camera works offline for hours. Each event (alert, position, status, dispatch answer) is written to a
SQLite file (WAL, ``synchronous=FULL``: committed means on disk) before anything tries to send it; the uplink
sends the oldest first and deletes an event only when the command centre's ``ack`` names it, which the server
sends after committing. A crash or power loss therefore loses nothing accepted, and a resend after a lost ack
is harmless: the event id makes the server ignore the copy.

**When the file cannot be written** (a full disk, a read-only file system, an I/O error, a broken file, a folder
that is not there) the outbox never drops the event it was given: it keeps it in memory, after everything
already on disk, and reports the fault (:class:`~vigil.edge.outbox_state.OutboxState`) for the status bar, the
summary and the command centre. Events in memory are sent like the rest, oldest first overall, and an ``ack``
removes them from memory too. The outbox tries the file again on the next :meth:`Outbox.put` or
:meth:`Outbox.retry` (at most every ``retry_interval_s``, reopening it), and writes what memory holds to it, in
order, in one transaction, before any newer event. Memory holds at most ``memory_limit`` events; past that it
discards the oldest position or device status (a newer one supersedes it) and counts it; alerts, emergencies
and dispatch answers are never discarded.

**When control deletes a deployment's results** (:meth:`Outbox.discard_alerts`) its alerts still waiting are
deleted, from memory and from the file. Deleted rows are overwritten with zeros (``secure_delete``, on for every
delete) and the write-ahead log is then checkpointed and truncated, so their face crops do not linger in the files.
"""

import contextlib
import itertools
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.edge.outbox_state import OutboxState, OutboxStorage, StorageFault
from vigil.events import Event, encode_event, topic_for

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    sent_count INTEGER NOT NULL DEFAULT 0
)
"""

_INSERT = (
    "INSERT OR IGNORE INTO outbox (event_id, type, topic, payload, created_at, sent_count) VALUES (?, ?, ?, ?, ?, ?)"
)

_SUPERSEDED = frozenset({"position", "device.status"})
"""Event types a newer one of the same device replaces: the only ones memory may discard when it is full."""

_ALERT = "alert.raised"

_CHUNK = 500  # ids per ``IN (…)`` query, below SQLite's limit on parameters


@dataclass(frozen=True)
class OutboxItem:
    """An event waiting for the server's acknowledgement.

    Attributes:
        seq: its place in the file; negative for an event held only in memory.
    """

    seq: int
    event_id: uuid.UUID
    type: str
    topic: str
    payload: bytes
    sent_count: int

    @property
    def in_memory(self) -> bool:
        """Whether the event is held only in memory (the file could not be written)."""
        return self.seq < 0


@dataclass
class _Held:
    """An event held in memory while the file cannot be written."""

    seq: int
    event_id: uuid.UUID
    type: str
    topic: str
    payload: bytes
    created_at: str
    sent_count: int = 0

    def row(self) -> tuple[str, str, str, bytes, str, int]:
        return (str(self.event_id), self.type, self.topic, self.payload, self.created_at, self.sent_count)

    def item(self) -> OutboxItem:
        return OutboxItem(
            seq=self.seq,
            event_id=self.event_id,
            type=self.type,
            topic=self.topic,
            payload=self.payload,
            sent_count=self.sent_count,
        )


class Outbox:
    """A durable FIFO of events keyed by event id, falling back to memory; see the module docstring.

    Safe to use from several threads.
    """

    def __init__(self, path: Path, *, memory_limit: int = 10_000, retry_interval_s: float = 1.0) -> None:
        """Open (or create) the outbox file; if it cannot be used, start with events kept in memory.

        Never raises for the file: a fault is logged as an error and reported by :meth:`state`.

        Args:
            path: the SQLite file; its folder must exist (else the outbox starts in memory).
            memory_limit: the most events kept in memory before positions and statuses are discarded.
            retry_interval_s: the shortest time between two tries to use the file again, seconds.

        Raises:
            ValueError: a memory limit below 1 or a negative retry interval.
        """
        if memory_limit < 1:
            raise ValueError(f"memory_limit must be at least 1, got {memory_limit}")
        if retry_interval_s < 0:
            raise ValueError(f"retry_interval_s must be 0 or more, got {retry_interval_s}")
        self.path = path
        self._memory_limit = memory_limit
        self._retry_interval_s = retry_interval_s
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._fault: StorageFault | None = None
        self._detail = ""
        self._memory: OrderedDict[uuid.UUID, _Held] = OrderedDict()
        self._acknowledged_on_disk: set[uuid.UUID] = set()  # acknowledged, but the delete failed: hidden
        self._last_seq = 0
        self._next_try = 0.0
        self._dropped = 0
        self._spilled = 0
        self._closed = False
        with self._lock:
            try:
                self._open_locked()
            except sqlite3.DatabaseError as exc:
                self._fail_locked(exc, "open")

    def put(self, event: Event) -> None:
        """Store an event: on disk when this returns, or (the file failing) in memory, after all older ones.

        Storing the same id twice keeps one.

        Raises:
            sqlite3.ProgrammingError: the outbox was closed.
        """
        held = _Held(
            seq=0,
            event_id=event.id,
            type=event.type,
            topic=topic_for(event),
            payload=encode_event(event),
            created_at=event.at.isoformat(),
        )
        with self._lock:
            self._check_open_locked()
            if self._fault is not None:
                self._retry_locked(force=False)
            if not self._memory and self._db is not None:  # nothing older waits in memory: the file is next
                try:
                    self._db.execute(_INSERT, held.row())
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "put")
                else:
                    self._recovered_locked()
                    return
            self._hold_locked(held)

    def retry(self) -> None:
        """Try the file again if it failed (and the retry interval has passed); memory's events go to it in order."""
        with self._lock:
            if not self._closed and self._fault is not None:
                self._retry_locked(force=False)

    def oldest(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest events not yet acknowledged, oldest first: those on disk, then those in memory."""
        with self._lock:
            self._check_open_locked()
            items: list[OutboxItem] = []
            if self._db is not None:
                try:
                    rows = self._db.execute(
                        "SELECT seq, event_id, type, topic, payload, sent_count FROM outbox ORDER BY seq LIMIT ?",
                        (limit + len(self._acknowledged_on_disk),),
                    ).fetchall()
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "read")
                    rows = []
                for seq, event_id, kind, topic, payload, count in rows:
                    key = uuid.UUID(event_id)
                    if key not in self._acknowledged_on_disk:
                        items.append(
                            OutboxItem(
                                seq=seq, event_id=key, type=kind, topic=topic, payload=bytes(payload), sent_count=count
                            )
                        )
            items.extend(held.item() for held in self._memory.values())
        return items[:limit]

    def mark_sent(self, event_id: uuid.UUID) -> None:
        """Count one more send of an event (for diagnostics; a count the full disk cannot take is not kept)."""
        with self._lock:
            self._check_open_locked()
            held = self._memory.get(event_id)
            if held is not None:
                held.sent_count += 1
                return
            if self._db is not None and self._fault is None:
                try:
                    self._db.execute(
                        "UPDATE outbox SET sent_count = sent_count + 1 WHERE event_id = ?", (str(event_id),)
                    )
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "count")

    def acknowledge(self, event_ids: Sequence[uuid.UUID]) -> int:
        """Remove the events the server has committed, from memory and from the file.

        An event whose delete the file refuses (a full disk) is hidden at once and deleted on a later try.

        Returns:
            How many were removed now (ids already gone, or never here, are ignored).
        """
        with self._lock:
            self._check_open_locked()
            removed = sum(self._memory.pop(event_id, None) is not None for event_id in event_ids)
            return removed + self._delete_locked(event_ids)

    def discard_alerts(self, deployment_id: uuid.UUID) -> int:
        """Delete the deployment's alerts still waiting (never to be sent), their face crops with them.

        An alert the file refuses to delete (a full disk) is hidden at once and deleted on a later try.

        Returns:
            How many alerts were discarded.
        """
        wanted = str(deployment_id)
        with self._lock:
            self._check_open_locked()
            in_memory = [k for k, held in self._memory.items() if _of_deployment(held.type, held.payload, wanted)]
            for key in in_memory:
                del self._memory[key]
            on_disk: list[uuid.UUID] = []
            if self._db is not None:
                try:
                    rows = self._db.execute("SELECT event_id, payload FROM outbox WHERE type = ?", (_ALERT,)).fetchall()
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "read")
                    rows = []
                on_disk = [uuid.UUID(key) for key, payload in rows if _of_deployment(_ALERT, payload, wanted)]
                on_disk = [key for key in on_disk if key not in self._acknowledged_on_disk]
            self._delete_locked(on_disk)
            if on_disk and self._db is not None and self._fault is None:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows' old pages leave the log
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "checkpoint")
            return len(in_memory) + len(on_disk)

    def pending_ids(self) -> set[uuid.UUID]:
        """The ids of every event still waiting, on disk and in memory."""
        with self._lock:
            self._check_open_locked()
            ids = set(self._memory)
            if self._db is not None:
                try:
                    ids.update(uuid.UUID(event_id) for (event_id,) in self._db.execute("SELECT event_id FROM outbox"))
                except sqlite3.DatabaseError as exc:
                    self._fail_locked(exc, "read")
            return ids - self._acknowledged_on_disk

    def backlog(self) -> int:
        """Events waiting for acknowledgement, on disk and in memory."""
        return self.state().backlog

    def state(self) -> OutboxState:
        """Where events go now, and how many wait where; see :class:`~vigil.edge.outbox_state.OutboxState`."""
        with self._lock:
            self._check_open_locked()
            on_disk = self._count_on_disk_locked()
            return OutboxState(
                storage=OutboxStorage.DISK if self._fault is None else OutboxStorage.MEMORY,
                fault=self._fault,
                detail=self._detail,
                on_disk=on_disk,
                in_memory=len(self._memory),
                dropped=self._dropped,
                spilled=self._spilled,
            )

    def close(self) -> int:
        """Try once more to write what memory holds to the file, then close it.

        Returns:
            The events still only in memory, lost with the process (logged as an error, with their count); 0 when
            everything is on disk or was acknowledged.
        """
        with self._lock:
            if self._closed:
                return 0
            if self._fault is not None:
                self._retry_locked(force=True)
            lost = len(self._memory)
            if lost:
                _log.error(
                    "outbox.closed_with_events_in_memory",
                    extra={"path": str(self.path), "events": lost, "fault": str(self._fault)},
                )
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None
            return lost

    # The file, and memory (the lock is held).

    def _check_open_locked(self) -> None:
        if self._closed:
            raise sqlite3.ProgrammingError("the outbox is closed")

    def _open_locked(self) -> None:
        """(Re)open the file.

        Raises:
            sqlite3.DatabaseError: it cannot be opened, read or written.
        """
        if self._db is not None:
            self._db.close()
            self._db = None
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA secure_delete = ON")  # an acknowledged or discarded alert's crop is overwritten
            db.execute(_SCHEMA)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _retry_locked(self, *, force: bool) -> None:
        """Reopen the file and write memory's events to it, if the interval since the last try has passed.

        They are written oldest first, a transaction per chunk of them: a disk with room for only some takes
        those, and the rest (all newer than any on disk) wait in memory.
        """
        now = time.monotonic()
        if not force and now < self._next_try:
            return
        self._next_try = now + self._retry_interval_s
        written = 0
        try:
            if self._db is None or self._fault is not StorageFault.FULL:
                self._open_locked()  # a read-only or failing file may be usable again only through a new handle
            db = self._db
            if db is None:
                raise sqlite3.OperationalError("the outbox file did not open")
            while self._memory:
                chunk = list(itertools.islice(self._memory.values(), _CHUNK))
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(_INSERT, (held.row() for held in chunk))
                    db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                for held in chunk:
                    del self._memory[held.event_id]
                written += len(chunk)
        except sqlite3.DatabaseError as exc:
            self._fail_locked(exc, "retry")
            return
        finally:
            if written:
                _log.info("outbox.written_from_memory", extra={"path": str(self.path), "events": written})
        if written:
            self._recovered_locked()
        # With nothing written, the next event's write decides whether the file works again.

    def _delete_locked(self, event_ids: Iterable[uuid.UUID]) -> int:
        ids = [str(event_id) for event_id in event_ids]
        if not ids or self._db is None:
            self._acknowledged_on_disk.update(uuid.UUID(i) for i in ids)
            return 0
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                deleted = sum(self._db.execute("DELETE FROM outbox WHERE event_id = ?", (i,)).rowcount for i in ids)
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            self._fail_locked(exc, "acknowledge")
            self._acknowledged_on_disk.update(uuid.UUID(i) for i in ids)
            return 0
        self._acknowledged_on_disk.difference_update(uuid.UUID(i) for i in ids)
        return int(deleted)

    def _count_on_disk_locked(self) -> int:
        if self._db is None:
            return 0
        try:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            hidden = list(self._acknowledged_on_disk)
            for start in range(0, len(hidden), _CHUNK):
                chunk = [str(i) for i in hidden[start : start + _CHUNK]]
                marks = ",".join("?" * len(chunk))
                (present,) = self._db.execute(
                    f"SELECT COUNT(*) FROM outbox WHERE event_id IN ({marks})",  # placeholders only
                    chunk,
                ).fetchone()
                count -= present
        except sqlite3.DatabaseError as exc:
            self._fail_locked(exc, "read")
            return 0
        return int(count)

    def _hold_locked(self, held: _Held) -> None:
        """Keep an event in memory, after every older one; past the limit, discard a superseded one."""
        if held.event_id in self._memory:
            return
        if len(self._memory) >= self._memory_limit:
            victim = next((h for h in self._memory.values() if h.type in _SUPERSEDED), None)
            if victim is None and held.type in _SUPERSEDED:
                victim = held
            if victim is not None:
                self._dropped += 1
                _log.warning(
                    "outbox.dropped",
                    extra={"type": victim.type, "event_id": str(victim.event_id), "dropped": self._dropped},
                )
                if victim is held:
                    return
                del self._memory[victim.event_id]
            # With no position or status left to discard, an alert, emergency or answer is kept past the limit.
        self._last_seq -= 1
        held.seq = self._last_seq
        self._memory[held.event_id] = held
        self._spilled += 1

    def _fail_locked(self, exc: sqlite3.DatabaseError, doing: str) -> None:
        """Note that the file failed; log it as an error when it was working (or the fault changed)."""
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            raise exc  # a misuse of SQLite (a bug), not a fault of the storage
        fault = StorageFault.of(exc, folder=self.path.parent)
        detail = f"{exc} ({self.path})"
        if fault is not self._fault:
            _log.error(
                "outbox.storage_failed",
                extra={
                    "path": str(self.path),
                    "fault": fault.value,
                    "reason": str(exc),
                    "doing": doing,
                    "remedy": fault.remedy,
                    "in_memory": len(self._memory),
                },
            )
        self._fault = fault
        self._detail = detail
        if fault in {StorageFault.BROKEN, StorageFault.UNAVAILABLE} and self._db is not None:
            self._db.close()
            self._db = None

    def _recovered_locked(self) -> None:
        if self._fault is None:
            return
        _log.warning("outbox.storage_recovered", extra={"path": str(self.path), "was": self._fault.value})
        self._fault = None
        self._detail = ""
        if self._acknowledged_on_disk:
            self._delete_locked(list(self._acknowledged_on_disk))


def _of_deployment(kind: str, payload: bytes, deployment_id: str) -> bool:
    """Whether a stored event is an alert raised under the deployment (its id as text)."""
    return kind == _ALERT and json.loads(payload).get("deployment_id") == deployment_id
