"""What ingestion records: every event id it has committed, and every event it turned away, with why."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId, string_enum


class Transport(enum.StrEnum):
    """How an event reached the server."""

    MQTT = "mqtt"
    HTTP = "http"
    OSMAND = "osmand"


class RejectReason(enum.StrEnum):
    """Why an event was turned away."""

    MALFORMED = "malformed"
    """Not JSON, not an event, or a field out of its range (coordinates included)."""
    DOWN_ONLY_TYPE = "down_only_type"
    """A type only the command centre sends (an ack, an order …)."""
    PROBE_TOO_LARGE = "probe_too_large"
    """The alert's face crop is over the byte or pixel limit."""
    PROBE_NOT_JPEG = "probe_not_jpeg"
    """The alert's face crop is not a readable JPEG."""
    FROM_THE_FUTURE = "from_the_future"
    """Stamped later than now plus the allowed clock skew."""
    UNKNOWN_DEVICE = "unknown_device"
    """No device is registered under the sender's id."""
    REVOKED_DEVICE = "revoked_device"
    """The sender was revoked."""
    DEVICE_MISMATCH = "device_mismatch"
    """The event names another device than the one that sent it."""
    UNIT_MISMATCH = "unit_mismatch"
    """The event speaks for another unit than the device's."""
    CONFLICT = "conflict"
    """It contradicts a stored event (an alert id already stored under another event id)."""
    NOT_AUTHENTICATED = "not_authenticated"
    """An OsmAnd fix whose secret does not match (or whose device is unknown, revoked or has no OsmAnd secret)."""
    VERSION_NOT_SENT = "version_not_sent"
    """An alert naming a watchlist version the device was never sent."""
    SUBJECT_NOT_SENT = "subject_not_sent"
    """An alert naming a subject the watchlist version it names did not hold."""
    MODEL_MISMATCH = "model_mismatch"
    """An alert made with another face model than the watchlist version it names (its distance means nothing)."""
    OUTSIDE_DEPLOYMENT = "outside_deployment"
    """An alert from outside the area or time window of the deployment that governs its watchlist (or with no
    location to show it inside), or naming another deployment than that one."""
    DEPLOYMENT_NOT_RUNNING = "deployment_not_running"
    """An alert on a watchlist whose deployments are all stopped (refused, lapsed or ended) or not yet started."""
    VERIFICATION_REFUSED = "verification_refused"
    """An officer's verification of a match their unit was not sent, of an alert not confirmed (or of a silent
    trial), or of one whose identity a second person settled already."""


class IngestedEvent(Base):
    """The idempotency record: an event id here has been committed, and a copy is only acknowledged."""

    __tablename__ = "ingested_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), index=True)
    transport: Mapped[Transport] = mapped_column(string_enum(Transport, name="transport"))
    at: Mapped[datetime]
    received_at: Mapped[datetime]


class RejectedEvent(Base):
    """An event turned away: the dead letters, kept for diagnosis (see :mod:`vigil.command.ingestion.rejections`).

    ``raw`` is an excerpt of what arrived, never an alert's face crop; ``raw_size`` the size of the whole.
    """

    __tablename__ = "rejected_events"
    __table_args__ = (Index("ix_rejected_events_transport_id", "transport", "id"),)

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    transport: Mapped[Transport] = mapped_column(string_enum(Transport, name="transport"))
    sender_device_id: Mapped[str | None] = mapped_column(String(200), index=True)
    claimed_device_id: Mapped[str | None] = mapped_column(String(200))
    claimed_event_id: Mapped[uuid.UUID | None]
    claimed_type: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[RejectReason] = mapped_column(string_enum(RejectReason, name="reject_reason"))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int]
