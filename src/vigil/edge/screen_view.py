"""What the officer's handset page receives: the whole screen as one JSON document.

The page asks for it on load (``GET /api/screen``) and receives it again on every change over a server-sent
event stream, so a page that reconnects, or is reloaded, shows the current state at once. Images are not
inlined: each is referred to by a path under ``/api/images/`` named by a hash of its bytes, so the document
stays small when it is sent again for a new GPS fix.
"""

import enum
import hashlib
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigil.edge.device_health import DeviceHealth, LinkState
from vigil.events import DispatchState, IdentityVerdict, Location, ReviewDecision

IMAGE_PATH = "/api/images/"


def image_key(data: bytes) -> str:
    """The name an image is served under: the first 128 bits of its sha256, in hex."""
    return hashlib.sha256(data).hexdigest()[:32]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MapView(_View):
    """How the page draws its maps (``MapConfig`` in ``web/src/shared/map.ts``)."""

    tile_url: str | None = Field(description="XYZ tile URL template; None draws a coordinate grid instead.")
    tile_attribution: str = Field(description="Credit for the tiles, shown on the map.")
    max_zoom: int = Field(description="The deepest zoom level the tiles offer.")


class GpsView(_View):
    """The officer's position fix."""

    lat: float
    lon: float
    accuracy_m: float | None = Field(description="Horizontal accuracy, metres; None when unknown.")
    source: str = Field(description="gps, network or sim.")


class StatusBarView(_View):
    """The status bar, and the watchlist banner."""

    link: LinkState
    outbox_backlog: int = Field(description="Events waiting for the command centre's acknowledgement.")
    gps: GpsView | None = Field(description="The latest fresh fix; None without one.")
    battery_pct: float | None = Field(description="0 to 100 %; None when the device cannot read it.")
    watchlist_version: int
    watchlist_valid_until: datetime | None = Field(description="When the watchlist expires (UTC); None: never.")
    watchlist_warning: str | None = Field(description="Why the watchlist is out of date, for a banner; None if not.")
    outbox_in_memory: int = Field(0, description="Of the backlog, events only in memory (the storage failed).")
    storage_warning: str | None = Field(
        None, description="The outbox's storage failed (full, read-only, broken): what to tell the officer; else None."
    )
    search_paused: str | None = Field(
        None,
        description="Why the camera does not search now (outside the deployment's area or window, no GPS fix, the "
        "deployment stopped), for a banner; None while it searches.",
    )
    silent_trial: bool = Field(
        False, description="A silent trial is in progress: a neutral note; the handset shows nothing of any match."
    )

    @classmethod
    def of(cls, health: DeviceHealth, *, now: datetime) -> "StatusBarView":
        """The status bar for a health snapshot taken at ``now``."""
        fix = health.fix
        return cls(
            link=health.link,
            outbox_backlog=health.outbox_backlog,
            gps=None
            if fix is None
            else GpsView(lat=fix.lat, lon=fix.lon, accuracy_m=fix.accuracy_m, source=fix.source),
            battery_pct=None if health.battery_pct is None else round(health.battery_pct, 1),
            watchlist_version=health.watchlist.version,
            watchlist_valid_until=health.watchlist.valid_until,
            watchlist_warning=health.watchlist.out_of_date(now),
            outbox_in_memory=health.outbox_in_memory,
            storage_warning=health.storage_warning,
            search_paused=health.search_paused,
            silent_trial=health.silent_trial,
        )


class AlertState(enum.StrEnum):
    """Where an alert stands with the command centre."""

    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class ReviewView(_View):
    """The command centre's decision on an alert."""

    decision: ReviewDecision
    reviewer: str
    reason: str
    at: datetime


class AlertCardView(_View):
    """One alert card: the live crop beside the watchlist photo, who, why, how close, and its review."""

    alert_id: uuid.UUID
    subject_id: str
    name: str
    category: str
    notes: str
    distance: float
    threshold: float
    probe_image: str = Field(description="Path of the live face crop.")
    enrolled_image: str = Field(description="Path of the watchlist's face chip.")
    at: datetime
    state: AlertState
    review: ReviewView | None


class AnswerView(_View):
    """One of the officer's answers to an order: sent (in the outbox), then delivered (the server has it)."""

    status: DispatchState
    delivered: bool
    at: datetime


class RouteView(_View):
    """From the officer's position to the target."""

    distance_m: float
    bearing_deg: float = Field(description="Initial bearing, degrees clockwise from true north.")


class SubjectView(_View):
    """Who the officer is sent to."""

    subject_id: str
    name: str
    category: str
    risk_notes: str
    photo_image: str | None = Field(description="Path of the subject's photo, when control sent one.")


class EvidenceView(_View):
    """Why control believes the subject was seen, and who has verified the identity."""

    alert_id: uuid.UUID
    seen_at: datetime
    distance: float
    threshold: float
    probe_image: str
    enrolled_image: str | None
    confirmed_by: str | None = Field(description="The operator who confirmed the match (its first verification).")
    verified_by: str | None = Field(
        description="The second person who verified it; None: not yet verified by two people, compare before any stop."
    )


class VerdictView(_View):
    """The officer's own verdict on an order's match: sent (in the outbox), then delivered (the server has it)."""

    verdict: IdentityVerdict
    delivered: bool
    at: datetime


class EmergencyOrderView(_View):
    """The officer an officer-in-danger order sends this unit to help."""

    emergency_id: uuid.UUID
    unit_id: str
    call_sign: str
    raised_at: datetime


class EmergencyView(_View):
    """The officer's own emergency: sent, delivered to control, then acknowledged by an operator."""

    emergency_id: uuid.UUID
    raised_at: datetime
    delivered: bool = Field(description="The command centre has stored it (its ack came back).")
    acknowledged_by: str | None = Field(description="The operator who acknowledged it; None before.")
    acknowledged_at: datetime | None = Field(description="When they did (UTC); None before.")
    message: str = Field(description="What control tells the officer, e.g. the units sent; empty before.")


class OrderView(_View):
    """One dispatch order, its newest revision, and the officer's answers to it."""

    dispatch_id: uuid.UUID
    incident_id: uuid.UUID
    revision: int = Field(
        description="Above 1: control changed the order since the first (moved the target, or named the second "
        "verifier of the identity)."
    )
    target_moved: bool = Field(description="Control moved the target or the area since the first revision.")
    received_at: datetime
    target: Location
    area: dict[str, Any] = Field(description="GeoJSON Polygon geometry.")
    subject: SubjectView | None = Field(description="Who the officer is sent to; None on an officer-in-danger order.")
    evidence: EvidenceView | None = Field(description="Why control believes it; None on an officer-in-danger order.")
    emergency: EmergencyOrderView | None = Field(description="The officer in danger; None on a subject order.")
    instructions: str
    route: RouteView | None = Field(description="Distance and bearing from the officer; None without a fix.")
    state: DispatchState | None = Field(description="The latest answer given; None before any.")
    answers: list[AnswerView]
    allowed: list[DispatchState] = Field(description="The answers the officer may give now.")
    verdict: VerdictView | None = Field(description="The officer's latest verdict on the match; None before any.")
    verdicts_allowed: list[IdentityVerdict] = Field(
        description="The verdicts the officer may give now besides the one given: none on an officer-in-danger order, "
        "an order that is over, an identity two people verified, or after a firm verdict (not 'cannot tell')."
    )
    stood_down: bool = Field(description="Control cancelled the order: it takes no more answers.")
    stand_down_reason: str


class ScreenView(_View):
    """The whole handset screen."""

    revision: int = Field(description="Raised by every change to the alerts and orders.")
    device_id: str
    unit_id: str
    map: MapView
    status: StatusBarView
    alerts: list[AlertCardView] = Field(description="Newest first.")
    orders: list[OrderView] = Field(description="Open orders first, newest first.")
    emergency: EmergencyView | None = Field(description="The officer's own emergency while it is open; else None.")
