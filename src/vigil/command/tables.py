"""Every table of the command centre, gathered so that ``Base.metadata`` is complete (migrations compare to it)."""

from vigil.command.accounts.models import SignInThrottle, User, UserRole, UserSession
from vigil.command.alerts.models import Alert
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Base
from vigil.command.deployments.models import Deployment, DeploymentWatchlist
from vigil.command.devices.models import Device, DeviceStatusRecord
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.emergencies.models import Emergency
from vigil.command.feed.models import FeedEntry
from vigil.command.incidents.models import DispatchOrderRecord, Incident
from vigil.command.ingestion.models import IngestedEvent, RejectedEvent
from vigil.command.units.models import PositionRecord, Unit
from vigil.command.verifications.models import AlertVerification
from vigil.command.watchlists.models import (
    DevicePackage,
    DevicePackageKey,
    Watchlist,
    WatchlistDevice,
    WatchlistSubject,
    WatchlistTemplate,
    WatchlistVersion,
)

__all__ = [
    "Alert",
    "AlertVerification",
    "AuditEntry",
    "Base",
    "Deployment",
    "DeploymentWatchlist",
    "Device",
    "DevicePackage",
    "DevicePackageKey",
    "DeviceStatusRecord",
    "DispatchOrderRecord",
    "DispatchStatusRecord",
    "DownlinkMessage",
    "Emergency",
    "FeedEntry",
    "Incident",
    "IngestedEvent",
    "PositionRecord",
    "RejectedEvent",
    "SignInThrottle",
    "Unit",
    "User",
    "UserRole",
    "UserSession",
    "Watchlist",
    "WatchlistDevice",
    "WatchlistSubject",
    "WatchlistTemplate",
    "WatchlistVersion",
]
