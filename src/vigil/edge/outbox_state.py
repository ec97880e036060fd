"""Where the outbox keeps its events now, and what a person must be told about it.

The outbox writes every event to its SQLite file. When the file cannot be written (a full disk, a read-only
file system, an I/O error, a broken file) it keeps the events in memory instead, in order, and writes them to
the file once it can: :class:`OutboxState` is what the summary, the status to the command centre and the
handset's status bar say about that.
"""

import enum
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class OutboxStorage(enum.StrEnum):
    """Where new events go."""

    DISK = "disk"
    """The outbox file: an event is on disk before it is sent."""
    MEMORY = "memory"
    """The file cannot be written: events are kept in memory (lost if the device loses power) until it can."""


class StorageFault(enum.StrEnum):
    """Why the outbox file cannot be written, in the words the officer's status bar uses."""

    FULL = "full"
    READ_ONLY = "read-only"
    FAILING = "failing (I/O error)"
    BROKEN = "broken (not a readable outbox)"
    UNAVAILABLE = "unavailable (cannot be opened)"

    @property
    def remedy(self) -> str:
        """What a person can do about it."""
        match self:
            case StorageFault.FULL:
                return "free space on the device"
            case StorageFault.READ_ONLY:
                return "make the data folder writable"
            case StorageFault.FAILING:
                return "check the device's storage card"
            case StorageFault.BROKEN:
                return "move the broken outbox file aside: a new one is then made"
            case StorageFault.UNAVAILABLE:
                return "check that the data folder exists and that the agent may write to it"

    @classmethod
    def of(cls, exc: sqlite3.Error, *, folder: Path) -> "StorageFault":
        """The fault a SQLite error reports (by its primary result code) for a file in ``folder``.

        SQLite cannot tell a file it cannot open in a read-only folder (or file system) from one it cannot open at
        all: the folder is asked.
        """
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        unwritable = folder.is_dir() and not os.access(folder, os.W_OK)
        if primary in {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR} and unwritable:
            return cls.READ_ONLY
        match primary:
            case sqlite3.SQLITE_FULL:
                return cls.FULL
            case sqlite3.SQLITE_READONLY | sqlite3.SQLITE_PERM:
                return cls.READ_ONLY
            case sqlite3.SQLITE_CORRUPT | sqlite3.SQLITE_NOTADB:
                return cls.BROKEN
            case sqlite3.SQLITE_CANTOPEN:
                return cls.UNAVAILABLE
            case _:
                return cls.FAILING


@dataclass(frozen=True)
class OutboxState:
    """A snapshot of the outbox.

    Attributes:
        storage: where new events go now.
        fault: why the file cannot be written; None while it can.
        detail: SQLite's own words for the fault, and the file; empty while there is none.
        on_disk: events in the file, waiting for the command centre's acknowledgement.
        in_memory: events only in memory (not on disk), waiting for the file or the acknowledgement.
        dropped: positions and device statuses discarded because the memory held its limit of events
            (alerts, emergencies and answers are never discarded): they will never be delivered.
        spilled: events that had to be kept in memory since the outbox was opened.
    """

    storage: OutboxStorage
    fault: StorageFault | None
    detail: str
    on_disk: int
    in_memory: int
    dropped: int
    spilled: int

    @property
    def backlog(self) -> int:
        """Events waiting for the command centre's acknowledgement, on disk and in memory."""
        return self.on_disk + self.in_memory

    def describe(self) -> str:
        """``disk``, or ``memory: <why>``, for the agent's summary."""
        if self.fault is None:
            return OutboxStorage.DISK.value
        return f"{OutboxStorage.MEMORY.value}: storage {self.fault.value}; {self.detail}"

    def warning(self) -> str | None:
        """What the officer's status bar and the command centre must be told; None while all is on disk."""
        if self.fault is None and not self.in_memory and not self.dropped:
            return None
        parts = []
        if self.fault is not None:
            waiting = f"{self.in_memory} event{'s' if self.in_memory != 1 else ''} only in memory, not yet sent"
            held = waiting if self.in_memory else "new events are kept in memory"
            parts.append(f"Storage {self.fault.value} — {held} ({self.fault.remedy})")
        elif self.in_memory:
            parts.append(f"{self.in_memory} events only in memory, being written to storage")
        if self.dropped:
            parts.append(f"{self.dropped} positions/statuses dropped, never sent")
        return "; ".join(parts)
