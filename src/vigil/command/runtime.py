"""What a running server holds: built by the startup steps in :mod:`vigil.command.app`, one per app."""

from dataclasses import dataclass
from datetime import datetime

from vigil.bus.protocol import Bus
from vigil.command.accounts.passwords import Passwords
from vigil.command.database import Database
from vigil.command.feed.follower import FeedFollower
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.subscriber import EventSubscriber
from vigil.command.settings import CommandSettings


@dataclass
class ServerRuntime:
    """The server's database, bus and counters, from startup to shutdown.

    Attributes:
        settings: as the server was started with.
        database: migrated to the newest schema.
        metrics: ingestion counters.
        started_at: when startup finished its first step (UTC).
        passwords: hashes and checks people's passwords.
        bus: where devices publish; None when events come over HTTP only.
        owns_bus: whether the server connected the bus itself (and so stops it).
        subscriber: the bus ingestion handler, while subscribed.
        feed: the live feed's horizon, once started.
    """

    settings: CommandSettings
    database: Database
    metrics: IngestionMetrics
    started_at: datetime
    passwords: Passwords
    bus: Bus | None = None
    owns_bus: bool = False
    subscriber: EventSubscriber | None = None
    feed: FeedFollower | None = None
