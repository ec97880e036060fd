"""The event contracts between body cameras and the command centre, shared by both ends.

Every event carries ``id`` (a UUIDv7: time-ordered, and the idempotency key: a receiver ignores an id it has
already stored), ``type``, ``v`` (the schema version), ``at`` (UTC) and ``device_id``, then its own fields.
Events travel as JSON over a bus; on MQTT under ``vigil/v1/devices/{device_id}/up/{type}`` (device to centre)
and ``vigil/v1/devices/{device_id}/down/{type}`` (centre to device).

Validation here is structural: ranges, sizes, formats. Whether a device may speak for a unit, or an event id is
new, is the receiver's business.
"""

import base64
import enum
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.errors import VigilError

TOPIC_ROOT = "vigil/v1/devices"
MAX_PROBE_JPEG_BYTES = 256 * 1024
MAX_EVENT_BYTES = 1024 * 1024
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_ACCURACY_M = 100_000.0
MAX_SPEED_MPS = 150.0
MAX_COUNT = 2**31 - 1
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._-]{0,31}:[0-9a-f]{12}$"
"""A face network's id, ``name:version:sha256-prefix``: the same as :data:`vigil.vision.face_model.MODEL_ID_PATTERN`,
repeated because the contracts import nothing of Vigil's (a test holds the two equal)."""
"""The largest count or version an event carries: the server keeps them in 32-bit columns (PostgreSQL ``integer``),
where a larger one failed the whole request (HTTP 500) instead of being refused as malformed."""


class MalformedEvent(VigilError):
    """Bytes that are not a valid event.

    Attributes:
        reason: what is wrong, for a person.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed event: {reason}")
        self.reason = reason


class Direction(enum.StrEnum):
    """Which way an event travels."""

    UP = "up"
    DOWN = "down"


def new_event_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by creation time."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _jpeg_from_base64(value: Any) -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        try:
            data = base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ValueError("not valid base64") from exc
    else:
        raise ValueError(f"expected base64 text, got {type(value).__name__}")
    if len(data) > MAX_PROBE_JPEG_BYTES:
        raise ValueError(f"the image is {len(data):,} bytes; the limit is {MAX_PROBE_JPEG_BYTES:,}")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError("not a JPEG image (it must start with the JPEG marker FF D8 FF)")
    return data


JpegBytes = Annotated[
    bytes,
    Field(json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/jpeg"}),
    PlainSerializer(lambda data: base64.b64encode(data).decode("ascii"), return_type=str, when_used="json"),
]
"""JPEG bytes, base64 in JSON, at most 256 KiB."""


class Location(BaseModel):
    """A point on Earth (WGS 84) with its uncertainty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90, description="Latitude, degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees.")
    accuracy_m: float | None = Field(None, ge=0, le=MAX_ACCURACY_M, description="Horizontal accuracy, metres.")


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=new_event_id, description="UUIDv7; the idempotency key.")
    type: str = Field(description="What happened; each event class fixes it.")
    v: Literal[1] = Field(1, description="Schema version.")
    at: AwareDatetime = Field(default_factory=utc_now, description="When the event happened (UTC).")
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="The body camera concerned.")

    @field_validator("at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class PositionOrigin(enum.StrEnum):
    """Where a position came from."""

    GPS = "gps"
    NETWORK = "network"
    SIM = "sim"


class Position(_Event):
    """Up: where an officer's device is."""

    type: Literal["position"] = "position"
    unit_id: str = Field(min_length=1, max_length=64)
    lat: float = Field(ge=-90, le=90, description="Latitude, degrees (WGS 84).")
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees (WGS 84).")
    accuracy_m: float | None = Field(None, ge=0, le=MAX_ACCURACY_M, description="Horizontal accuracy, metres.")
    heading_deg: float | None = Field(None, ge=0, lt=360, description="Course over ground, degrees from north.")
    speed_mps: float | None = Field(None, ge=0, le=MAX_SPEED_MPS, description="Speed over ground, metres per second.")
    source: PositionOrigin = PositionOrigin.GPS


class QualitySummary(BaseModel):
    """The quality of the face that raised an alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0, le=1, description="Overall quality, the weakest part's score.")
    parts: dict[str, float] = Field(default_factory=dict, description="Each part's measured value.")


class AlertEvidence(BaseModel):
    """Which faces of the person's track backed an alert, and where in the video the decision was made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    faces_searched: int = Field(ge=1, le=100_000, description="Faces of the track searched until the decision.")
    matched_qualities: list[float] = Field(
        min_length=1,
        max_length=100,
        description="The quality score (0–1) of each face that matched the subject, nearest match first.",
    )
    best_frame: int = Field(ge=0, description="The video frame of the nearest matching face.")
    best_video_s: float = Field(ge=0, description="That frame's time, seconds from the video's start.")
    first_seen_frame: int = Field(ge=0, description="The frame where the person's track began.")
    decided_frame: int = Field(ge=0, description="The newest frame processed when the decision was made.")
    decided_video_s: float = Field(ge=0, description="That frame's time, seconds from the video's start.")

    @field_validator("matched_qualities")
    @classmethod
    def _scores(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= score <= 1.0 for score in value):
            raise ValueError("quality scores lie between 0 and 1")
        return value


class AlertRaised(_Event):
    """Up: a watchlist subject was recognised, from one or more faces of one person's track."""

    type: Literal["alert.raised"] = "alert.raised"
    alert_id: uuid.UUID
    unit_id: str = Field(min_length=1, max_length=64)
    subject_id: str = Field(min_length=1, max_length=64)
    watchlist_version: int = Field(ge=1, le=MAX_COUNT)
    model: str | None = Field(
        None,
        pattern=MODEL_ID_PATTERN,
        description="The face network that made the match's embeddings (name:version:sha12); null from older "
        "devices, whose network was dlib's.",
    )
    distance: float = Field(ge=0, le=4, description="Embedding distance of the match.")
    threshold: float = Field(gt=0, le=2, description="The watchlist's threshold when it matched.")
    quality: QualitySummary
    frames: int = Field(ge=1, le=MAX_COUNT, description="Frames of the track that matched.")
    evidence: AlertEvidence | None = Field(
        None, description="The faces that backed the alert and its place in the video (null from older devices)."
    )
    first_seen_at: AwareDatetime
    location: Location | None = None
    probe_jpeg: JpegBytes = Field(description="The matched face crop, and nothing else of the frame.")
    deployment_id: uuid.UUID | None = Field(
        None, description="The deployment the device searched under (its package's scope); None: no deployment."
    )

    @field_validator("probe_jpeg", mode="before")
    @classmethod
    def _probe_is_jpeg(cls, value: Any) -> bytes:
        return _jpeg_from_base64(value)


class ReviewDecision(enum.StrEnum):
    """A person's decision on an alert."""

    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class AlertReviewed(_Event):
    """Down: the command centre's decision on an alert."""

    type: Literal["alert.reviewed"] = "alert.reviewed"
    alert_id: uuid.UUID
    decision: ReviewDecision
    reviewer: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


class SubjectBrief(BaseModel):
    """What an officer is told about the person they are sent to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_id: str
    name: str
    category: str
    risk_notes: str = ""
    photo_jpeg: JpegBytes | None = None

    @field_validator("photo_jpeg", mode="before")
    @classmethod
    def _photo_is_jpeg(cls, value: Any) -> bytes | None:
        return None if value is None else _jpeg_from_base64(value)


class MatchEvidence(BaseModel):
    """Why control believes the subject was seen, so the officer can check the match in person.

    It travels only with a dispatch order, which only a person's confirmation of the alert can start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: uuid.UUID
    seen_at: AwareDatetime = Field(description="When the camera first saw the person (UTC).")
    distance: float = Field(ge=0, le=4, description="Embedding distance of the match.")
    threshold: float = Field(gt=0, le=2, description="The watchlist's threshold when it matched.")
    probe_jpeg: JpegBytes = Field(description="The face crop the camera matched.")
    enrolled_jpeg: JpegBytes | None = Field(None, description="The watchlist's face chip of the subject.")
    confirmed_by: str | None = Field(
        None, max_length=200, description="The operator whose confirmation of the match is its first verification."
    )
    verified_by: str | None = Field(
        None,
        max_length=200,
        description="The second person who verified the match (EU AI Act Art 14(5)); None: the identity is not yet "
        "verified by two people, and nothing may be done on the identification alone.",
    )

    @field_validator("probe_jpeg", mode="before")
    @classmethod
    def _probe_is_jpeg(cls, value: Any) -> bytes:
        return _jpeg_from_base64(value)

    @field_validator("enrolled_jpeg", mode="before")
    @classmethod
    def _enrolled_is_jpeg(cls, value: Any) -> bytes | None:
        return None if value is None else _jpeg_from_base64(value)


class IdentityVerdict(enum.StrEnum):
    """A person's second verification of a match: comparing the camera's crop with the watchlist photo."""

    SAME_PERSON = "same_person"
    NOT_THE_PERSON = "not_the_person"
    CANNOT_TELL = "cannot_tell"


class AlertVerified(_Event):
    """Up: the officer sent to a confirmed match compared the camera's crop with the watchlist photo.

    It is the match's second verification (the operator's confirmation was the first), made by the officer on
    scene before any stop.
    """

    type: Literal["alert.verified"] = "alert.verified"
    alert_id: uuid.UUID
    dispatch_id: uuid.UUID = Field(description="The order whose evidence the officer compared.")
    unit_id: str = Field(min_length=1, max_length=64)
    verdict: IdentityVerdict


class EmergencyTrigger(enum.StrEnum):
    """What raised an officer's emergency."""

    HANDSET = "handset"
    """The emergency button on Vigil's handset, held down."""
    TRACKER_SOS = "tracker_sos"
    """``alarm=sos`` from a Traccar or OsmAnd client's SOS button."""


class EmergencyBrief(BaseModel):
    """Who is in danger, on an order sending units to help them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emergency_id: uuid.UUID
    unit_id: str = Field(min_length=1, max_length=64, description="The officer's unit.")
    call_sign: str = Field(min_length=1, max_length=64)
    raised_at: AwareDatetime = Field(description="When the officer raised it (UTC).")


class DispatchOrder(_Event):
    """Down: go to the target.

    When the subject is seen again elsewhere, control sends the order again under the same ``dispatch_id`` with
    a higher ``revision`` and the new target and area; a device keeps the newest revision and the officer's
    answers so far.
    """

    type: Literal["dispatch.order"] = "dispatch.order"
    dispatch_id: uuid.UUID
    incident_id: uuid.UUID
    revision: int = Field(1, ge=1, description="Raised each time the target or area moves; the newest wins.")
    unit_id: str = Field(min_length=1, max_length=64)
    target: Location
    area: dict[str, Any] = Field(description="The search area, a GeoJSON (RFC 7946) Polygon geometry.")
    subject: SubjectBrief | None = Field(None, description="The person sought; None on an officer-in-danger order.")
    evidence: MatchEvidence | None = Field(None, description="Why control believes it; with ``subject`` only.")
    emergency: EmergencyBrief | None = Field(None, description="The officer in danger; None on a subject order.")
    instructions: str = Field("", max_length=4000)

    @model_validator(mode="after")
    def _one_purpose(self) -> "DispatchOrder":
        if self.emergency is None and (self.subject is None or self.evidence is None):
            raise ValueError("an order is for a subject (with subject and evidence) or for an officer in danger")
        if self.emergency is not None and (self.subject is not None or self.evidence is not None):
            raise ValueError("an officer-in-danger order carries no subject or match evidence")
        return self


class DispatchCancelled(_Event):
    """Down: control stands the unit down from an order (incident closed, or the order went to another unit)."""

    type: Literal["dispatch.cancelled"] = "dispatch.cancelled"
    dispatch_id: uuid.UUID
    reason: str = Field("", max_length=2000)


class DispatchState(enum.StrEnum):
    """An officer's answer to a dispatch order, in the order they usually come."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"


class DispatchStatus(_Event):
    """Up: an officer's answer to a dispatch order."""

    type: Literal["dispatch.status"] = "dispatch.status"
    dispatch_id: uuid.UUID
    status: DispatchState
    reason: str = Field("", max_length=2000, description="Why, for a decline.")


class DeploymentMode(enum.StrEnum):
    """What a deployment's matches do."""

    LIVE = "live"
    """A match alerts the officer and the control room's live queue."""
    SILENT = "silent"
    """A trial: matches are recorded for later review by trained reviewers; no officer or live queue sees them."""


class DeploymentScope(BaseModel):
    """Where, when and how a device may search with a watchlist: the authorised deployment that governs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment_id: uuid.UUID
    area: dict[str, Any] = Field(description="The deployment's area (GeoJSON, as the command centre's API takes it).")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    mode: DeploymentMode


class WatchlistAvailable(_Event):
    """Down: a new watchlist package is ready for the device."""

    type: Literal["watchlist.available"] = "watchlist.available"
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str = Field(min_length=1, max_length=2000)
    scope: DeploymentScope | None = Field(
        None,
        description="The authorised deployment the watchlist is used under: the device searches only inside its "
        "area and window. None: no deployment governs this watchlist.",
    )


class DeploymentStopReason(enum.StrEnum):
    """Why a deployment stopped before its window ended."""

    REFUSED = "refused"
    """The authority refused the urgent deployment's authorisation: its data and results are deleted."""
    LAPSED = "lapsed"
    """No authorisation came within 24 hours of an urgent start: its data and results are deleted."""
    ENDED = "ended"
    """A supervisor ended it early: what it recorded is kept (and reviewed, and retained, as any alert)."""


class DeploymentStopped(_Event):
    """Down: stop searching under this deployment now; refused or lapsed, also delete what it found."""

    type: Literal["deployment.stopped"] = "deployment.stopped"
    deployment_id: uuid.UUID
    reason: DeploymentStopReason
    delete_results: bool = Field(
        description="True: delete the deployment's alerts still waiting to be sent, and their face crops."
    )


class DeviceStatus(_Event):
    """Up: the device's health, and how many faces it has looked at (for the public report)."""

    type: Literal["device.status"] = "device.status"
    battery_pct: float | None = Field(None, ge=0, le=100)
    free_storage_mb: float | None = Field(None, ge=0)
    watchlist_version: int | None = Field(None, ge=1, le=MAX_COUNT)
    model_versions: dict[str, str] = Field(default_factory=dict)
    faces_processed: int = Field(0, ge=0, le=MAX_COUNT, description="Faces searched since the agent started.")
    last_error: str | None = Field(None, max_length=2000)
    outbox_backlog: int | None = Field(None, ge=0, le=MAX_COUNT, description="Events waiting for the server's ack.")
    outbox_in_memory: int | None = Field(
        None, ge=0, le=MAX_COUNT, description="Of those, the events only in memory (the device's storage failed)."
    )
    outbox_dropped: int | None = Field(
        None, ge=0, le=MAX_COUNT, description="Positions/statuses the device discarded, memory full: never sent."
    )
    storage_warning: str | None = Field(
        None, max_length=2000, description="Why the device's outbox cannot write to its storage; None when it can."
    )


class OfficerEmergency(_Event):
    """Up: an officer is in danger (the handset's emergency button, or a tracker's SOS).

    Sent once per emergency, through the outbox like any event; the officer's positions keep coming (more often
    while it is open) and the command centre follows them.
    """

    type: Literal["officer.emergency"] = "officer.emergency"
    emergency_id: uuid.UUID = Field(description="The emergency; a resend carries the same one.")
    unit_id: str = Field(min_length=1, max_length=64)
    trigger: EmergencyTrigger
    location: Location | None = Field(None, description="Where the officer was when it was raised, if known.")


class EmergencyAcknowledged(_Event):
    """Down: the control room has the officer's emergency; the handset shows who and when."""

    type: Literal["emergency.acknowledged"] = "emergency.acknowledged"
    emergency_id: uuid.UUID
    by: str = Field(min_length=1, max_length=200, description="The operator who acknowledged it.")
    message: str = Field("", max_length=2000, description="What control tells the officer (e.g. units sent).")


class Ack(_Event):
    """Down: the command centre has committed these events; the device may now delete them from its outbox."""

    type: Literal["ack"] = "ack"
    ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


Event = Annotated[
    Position
    | AlertRaised
    | AlertReviewed
    | DispatchOrder
    | DispatchCancelled
    | DispatchStatus
    | AlertVerified
    | WatchlistAvailable
    | DeploymentStopped
    | DeviceStatus
    | OfficerEmergency
    | EmergencyAcknowledged
    | Ack,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[_Event]] = {
    "position": Position,
    "alert.raised": AlertRaised,
    "alert.reviewed": AlertReviewed,
    "dispatch.order": DispatchOrder,
    "dispatch.cancelled": DispatchCancelled,
    "dispatch.status": DispatchStatus,
    "alert.verified": AlertVerified,
    "watchlist.available": WatchlistAvailable,
    "deployment.stopped": DeploymentStopped,
    "device.status": DeviceStatus,
    "officer.emergency": OfficerEmergency,
    "emergency.acknowledged": EmergencyAcknowledged,
    "ack": Ack,
}

DIRECTIONS: dict[str, Direction] = {
    "position": Direction.UP,
    "alert.raised": Direction.UP,
    "dispatch.status": Direction.UP,
    "alert.verified": Direction.UP,
    "device.status": Direction.UP,
    "officer.emergency": Direction.UP,
    "alert.reviewed": Direction.DOWN,
    "dispatch.order": Direction.DOWN,
    "dispatch.cancelled": Direction.DOWN,
    "watchlist.available": Direction.DOWN,
    "deployment.stopped": Direction.DOWN,
    "emergency.acknowledged": Direction.DOWN,
    "ack": Direction.DOWN,
}

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: bytes | str) -> Event:
    """Validate one JSON event.

    Raises:
        MalformedEvent: too large, not JSON, an unknown type, or a field out of its range; the reason says which.
    """
    if len(data) > MAX_EVENT_BYTES:
        raise MalformedEvent(f"{len(data):,} bytes; the limit is {MAX_EVENT_BYTES:,}")
    try:
        return _EVENT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        raise MalformedEvent(f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)") from exc


def encode_event(event: _Event) -> bytes:
    """The event as compact JSON."""
    return event.model_dump_json().encode("utf-8")


def topic_for(event: _Event) -> str:
    """The MQTT topic an event travels on."""
    return f"{TOPIC_ROOT}/{event.device_id}/{DIRECTIONS[event.type].value}/{event.type}"


def is_from_the_future(event: _Event, *, now: datetime, tolerance: timedelta = timedelta(minutes=5)) -> bool:
    """True when the event claims a time beyond ``now`` plus the clock tolerance."""
    return event.at > now + tolerance
