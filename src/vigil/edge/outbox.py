"""The store-and-forward outbox: every event is on disk before it is sent, and leaves only when the server has it.

The body camera works offline for hours. Each event (alert, position, status, dispatch answer) is written to a
SQLite file (WAL, ``synchronous=FULL``: committed means on disk) before anything tries to send it; the uplink
sends the oldest first and deletes an event only when the command centre's ``ack`` names it, which the server
sends after committing. A crash or power loss therefore loses nothing accepted, and a resend after a lost ack
is harmless: the event id makes the server ignore the copy.
"""

import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.events import Event, encode_event, topic_for

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


@dataclass(frozen=True)
class OutboxItem:
    """An event waiting for the server's acknowledgement."""

    seq: int
    event_id: uuid.UUID
    type: str
    topic: str
    payload: bytes
    sent_count: int


class Outbox:
    """A durable FIFO of events keyed by event id. Safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the outbox file.

        Args:
            path: the SQLite file; its folder must exist.
        """
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(_SCHEMA)

    def put(self, event: Event) -> None:
        """Store an event durably; it is on disk when this returns. Storing the same id twice keeps one."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, type, topic, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                (str(event.id), event.type, topic_for(event), encode_event(event), event.at.isoformat()),
            )

    def oldest(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest events not yet acknowledged, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, type, topic, payload, sent_count FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [
            OutboxItem(
                seq=seq, event_id=uuid.UUID(event_id), type=kind, topic=topic, payload=bytes(payload), sent_count=count
            )
            for seq, event_id, kind, topic, payload, count in rows
        ]

    def mark_sent(self, seq: int) -> None:
        """Count one more send of an event (for the status bar and diagnostics)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET sent_count = sent_count + 1 WHERE seq = ?", (seq,))

    def acknowledge(self, event_ids: Sequence[uuid.UUID]) -> int:
        """Delete the events the server has committed.

        Returns:
            How many were deleted (ids already gone, or never here, are ignored).
        """
        with self._lock:
            self._db.execute("BEGIN")
            deleted = sum(
                self._db.execute("DELETE FROM outbox WHERE event_id = ?", (str(event_id),)).rowcount
                for event_id in event_ids
            )
            self._db.execute("COMMIT")
        return deleted

    def pending_seqs(self) -> set[int]:
        """The sequence numbers of every event still waiting."""
        with self._lock:
            return {seq for (seq,) in self._db.execute("SELECT seq FROM outbox")}

    def backlog(self) -> int:
        """Events waiting for acknowledgement."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
