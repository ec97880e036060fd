"""What a running server holds: built by the startup steps in :mod:`vigil.command.app`, one per app."""

from dataclasses import dataclass, field
from datetime import datetime

from vigil.bus.protocol import Bus
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.database import Database
from vigil.command.downlink.sender import DownlinkSender
from vigil.command.feed.follower import FeedFollower
from vigil.command.incidents.service import OpenIncidentHold
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.subscriber import EventSubscriber
from vigil.command.retention.holds import RetentionHold
from vigil.command.scheduler import Scheduler
from vigil.command.settings import CommandSettings
from vigil.command.units.live_index import UnitIndexFollower
from vigil.command.watchlists.enrolment import Enroller
from vigil.command.watchlists.keys import PackageKeys
from vigil.dispatch.eta import EtaModel
from vigil.dispatch.planning import DispatchPlanning
from vigil.dispatch.unit_index import UnitIndex


@dataclass
class ServerRuntime:
    """The server's database, bus and counters, from startup to shutdown.

    Attributes:
        settings: as the server was started with.
        database: migrated to the newest schema.
        metrics: ingestion counters.
        started_at: when startup finished its first step (UTC).
        passwords: hashes and checks people's passwords.
        sealer: seals and opens people's second-factor secrets.
        bus: where devices publish; None when events come over HTTP only.
        owns_bus: whether the server connected the bus itself (and so stops it).
        subscriber: the bus ingestion handler, while subscribed.
        feed: the live feed's horizon, once started.
        units: the live unit index and what keeps it in step with the feed, once started.
        eta: how arrival times are estimated (along the streets when a street file is configured).
        package_keys: the keys that sign and encrypt device packages; None when not configured.
        enroller: turns proposed photos into templates (its face engine is built at first use).
        retention_hold: what keeps confirmed alerts' crops past the case period (open incidents).
        downlink: publishes review decisions and watchlist announcements to devices (with a bus).
        scheduler: the governance jobs (escalation, expiry and renewal, retention), once started.
    """

    settings: CommandSettings
    database: Database
    metrics: IngestionMetrics
    started_at: datetime
    passwords: Passwords
    sealer: SecretSealer
    enroller: Enroller
    bus: Bus | None = None
    owns_bus: bool = False
    subscriber: EventSubscriber | None = None
    feed: FeedFollower | None = None
    units: UnitIndexFollower | None = None
    eta: EtaModel | None = None

    def unit_index(self) -> UnitIndex:
        """The live unit index.

        Raises:
            RuntimeError: before the server has started.
        """
        if self.units is None:
            raise RuntimeError("the unit index is loaded when the server starts")
        return self.units.index

    def eta_model(self) -> EtaModel:
        """How arrival times are estimated.

        Raises:
            RuntimeError: before the server has started.
        """
        if self.eta is None:
            raise RuntimeError("the arrival-time model is built when the server starts")
        return self.eta

    def dispatch_planning(self) -> DispatchPlanning:
        """The dispatch settings in force with the arrival-time model.

        Raises:
            RuntimeError: before the server has started.
        """
        return DispatchPlanning(settings=self.settings.dispatch, eta_model=self.eta_model())

    package_keys: PackageKeys | None = None
    retention_hold: RetentionHold = field(default_factory=OpenIncidentHold)
    downlink: DownlinkSender | None = None
    scheduler: Scheduler | None = None
