"""The real command centre at the other end of an edge test: the server, on the test's bus, over a SQLite file.

A test double would take whatever a device sends. The server takes an alert only from a registered device that
names a watchlist version it was sent, a subject in it and the same face model, and acknowledges an event only
after committing it, so a device's outbox empties only once its events are stored. What a test counts comes
from the server's database and its ingestion counters; :class:`CopyCounter` watches the bus beside it, to count
the copies a device sent (a resend is a second copy, which the server stores once).
"""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import literal_column, select

from tests.command.conftest import serving
from tests.command.events import send_watchlist
from vigil.bus.protocol import Bus, Message
from vigil.command.alerts.models import Alert
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.models import DeviceStatusRecord
from vigil.command.devices.service import register_device
from vigil.command.ingestion.schemas import IngestionCounts
from vigil.command.ingestion.subscriber import UP_TOPICS
from vigil.command.settings import CommandSettings
from vigil.command.units.models import PositionRecord
from vigil.events import AlertRaised, parse_event, utc_now


@dataclass
class CommandCentre:
    """A running server and its database, read as the control room would see it.

    Attributes:
        app: the server (its lifespan has run: ``app.state.runtime`` holds its counters).
        database: the server's database.
    """

    app: FastAPI
    database: Database

    def metrics(self) -> IngestionCounts:
        """The server's ingestion counters: events accepted, copies of stored ones (duplicates), rejections."""
        counts: IngestionCounts = self.app.state.runtime.metrics.snapshot()
        return counts

    def handled(self) -> int:
        """Copies of events the server has taken from the bus and answered: stored, duplicate or rejected."""
        counts = self.metrics()
        return counts.accepted + counts.duplicate + counts.rejected

    def alerts(self) -> list[uuid.UUID]:
        """The stored alerts' ids, in the order they were stored (SQLite's row order: the ids are UUIDs)."""
        with self.database.session() as session:
            return list(session.scalars(select(Alert.alert_id).order_by(literal_column("alerts.rowid"))))

    def positions(self) -> list[datetime]:
        """When each stored position was taken (UTC), in the order they were stored."""
        with self.database.session() as session:
            return list(session.scalars(select(PositionRecord.at).order_by(PositionRecord.id)))

    def reported_errors(self) -> list[str | None]:
        """Each stored device status's ``last_error``, in the order they were stored."""
        with self.database.session() as session:
            return list(session.scalars(select(DeviceStatusRecord.last_error).order_by(DeviceStatusRecord.id)))

    def wait_for(self, condition: Callable[["CommandCentre"], bool], timeout_s: float = 30) -> bool:
        """Poll the database until ``condition`` holds; False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while not condition(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@contextmanager
def command_centre(
    directory: Path, bus: Bus, *, device_id: str, unit_id: str, watchlist_version: int, subjects: Sequence[str]
) -> Iterator[CommandCentre]:
    """Run the server on ``bus`` over a new SQLite file in ``directory``, with one device registered.

    Args:
        directory: the server's data folder (made if missing).
        bus: where the device publishes; it stays the caller's to stop, after the server has stopped.
        device_id: the device registered, to ``unit_id``.
        unit_id: its unit.
        watchlist_version: the watchlist version the device is recorded as sent (the one its alerts name).
        subjects: the subjects in that version.

    Yields:
        The server, started (subscribed to the bus); it is stopped when the block ends.
    """
    directory.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{directory / 'command.sqlite'}"
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        register_device(
            actor="system",
            address=None,
            session=session,
            device_id=device_id,
            unit_id=unit_id,
            call_sign=None,
            radio_id=None,
            kind=None,
            now=utc_now(),
        )
    send_watchlist(database, device_id, version=watchlist_version, subjects=tuple(subjects))
    servers = serving(ws="none")
    start = next(servers)
    try:
        server = start(create_app(CommandSettings(data_dir=directory, database_url=database_url), bus=bus))
        yield CommandCentre(app=server.app, database=database)
    finally:
        next(servers, None)
        database.dispose()


class CopyCounter:
    """A passive observer of every device's events on a bus: how many copies of each event were sent."""

    def __init__(self, bus: Bus) -> None:
        """Subscribe (not in the servers' share group: it sees every copy and acknowledges nothing)."""
        self._lock = threading.Lock()
        self._copies: Counter[uuid.UUID] = Counter()
        self._alerts: set[uuid.UUID] = set()
        bus.subscribe(UP_TOPICS, self._count)

    def _count(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._lock:
            self._copies[event.id] += 1
            if isinstance(event, AlertRaised):
                self._alerts.add(event.id)

    def copies(self, *, alerts_only: bool = False) -> tuple[int, int]:
        """Copies seen, and how many distinct events they were: of every type, or of alerts only."""
        with self._lock:
            counted = [self._copies[i] for i in self._alerts] if alerts_only else list(self._copies.values())
        return sum(counted), len(counted)
