"""Shapes of the feed in the API: one entry per accepted event, the same over HTTP and over the WebSocket."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from vigil.command.alerts.schemas import AlertSummary
from vigil.command.devices.schemas import DeviceStatusReported
from vigil.command.dispatches.schemas import DispatchStatusReported
from vigil.command.emergencies.schemas import EmergencyOut
from vigil.command.incidents.schemas import DispatchEscalated, IncidentChanged
from vigil.command.reviews.schemas import AlertEscalated, ReviewOutcome
from vigil.command.units.schemas import PositionReported, UnitChanged
from vigil.command.verifications.schemas import VerificationOut
from vigil.command.watchlists.schemas import WatchlistVersionMade


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1, description="The entry's place in the feed; resume after the highest one received.")
    created_at: datetime = Field(description="When the server accepted the event (UTC).")


class PositionEntry(_Entry):
    """A unit's device reported a position (throttled per unit on the WebSocket)."""

    kind: Literal["unit.position"]
    payload: PositionReported


class UnitChangedEntry(_Entry):
    """A unit was created, or its call sign, radio, kind or status changed (never throttled or dropped)."""

    kind: Literal["unit.changed"]
    payload: UnitChanged


class AlertEntry(_Entry):
    """A device raised an alert (never throttled or dropped)."""

    kind: Literal["alert.raised"]
    payload: AlertSummary


class DeviceStatusEntry(_Entry):
    """A device reported its status (never throttled or dropped)."""

    kind: Literal["device.status"]
    payload: DeviceStatusReported


class DispatchStatusEntry(_Entry):
    """A unit answered a dispatch order (never throttled or dropped)."""

    kind: Literal["dispatch.status"]
    payload: DispatchStatusReported


class AlertReviewedEntry(_Entry):
    """A person confirmed or dismissed an alert."""

    kind: Literal["alert.reviewed"]
    payload: ReviewOutcome


class AlertEscalatedEntry(_Entry):
    """An alert is still unreviewed past the escalation time: for supervisors (once per alert)."""

    kind: Literal["alert.escalated"]
    payload: AlertEscalated


class AlertVerifiedEntry(_Entry):
    """A second person verified a confirmed match (same person, not the person, or cannot tell)."""

    kind: Literal["alert.verified"]
    payload: VerificationOut


class IncidentOpenedEntry(_Entry):
    """An operator opened an incident on a confirmed alert."""

    kind: Literal["incident.opened"]
    payload: IncidentChanged


class IncidentChangedEntry(_Entry):
    """An incident's area was redrawn, its target moved to a new sighting, or it was closed."""

    kind: Literal["incident.changed"]
    payload: IncidentChanged


class DispatchSentEntry(_Entry):
    """Units were sent to an incident (the payload is the incident, with every order)."""

    kind: Literal["dispatch.sent"]
    payload: IncidentChanged


class DispatchEscalatedEntry(_Entry):
    """An order went unanswered past the timeout, or was declined: a replacement is proposed (once per order)."""

    kind: Literal["dispatch.escalated"]
    payload: DispatchEscalated


class WatchlistVersionEntry(_Entry):
    """A new watchlist version was made (approval, removal, expiry or renewal) and is being sent to devices."""

    kind: Literal["watchlist.version"]
    payload: WatchlistVersionMade


class EmergencyRaisedEntry(_Entry):
    """An officer raised an emergency (never throttled or dropped): show it above every alert."""

    kind: Literal["emergency.raised"]
    payload: EmergencyOut


class EmergencyChangedEntry(_Entry):
    """An emergency was acknowledged, answered with units, or resolved (the payload is the emergency now)."""

    kind: Literal["emergency.changed"]
    payload: EmergencyOut


FeedMessage = Annotated[
    PositionEntry
    | UnitChangedEntry
    | AlertEntry
    | DeviceStatusEntry
    | DispatchStatusEntry
    | AlertReviewedEntry
    | AlertEscalatedEntry
    | AlertVerifiedEntry
    | WatchlistVersionEntry
    | IncidentOpenedEntry
    | IncidentChangedEntry
    | DispatchSentEntry
    | DispatchEscalatedEntry
    | EmergencyRaisedEntry
    | EmergencyChangedEntry,
    Field(discriminator="kind"),
]
"""One feed entry, as ``GET /api/v1/feed`` lists it and the WebSocket sends it (one JSON text message each)."""

FEED_MESSAGE: TypeAdapter[FeedMessage] = TypeAdapter(FeedMessage)


class FeedPage(BaseModel):
    """``GET /api/v1/feed``: entries after ``after``, in ``seq`` order."""

    entries: list[FeedMessage]
    next_after: int = Field(description="Pass as ``after`` for the next page: the last entry's seq, or ``after``.")
    horizon: int = Field(
        description="Every entry up to this seq is final (committed, or never will be); entries beyond wait."
    )
