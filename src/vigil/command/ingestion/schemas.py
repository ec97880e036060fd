"""Shapes of ingestion results, in the API and in process."""

import enum
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from vigil.command.ingestion.group import ShareGroupStatus
from vigil.command.ingestion.models import RejectReason, Transport


class Outcome(enum.StrEnum):
    """What became of one event."""

    ACCEPTED = "accepted"
    """Committed now."""
    DUPLICATE = "duplicate"
    """Committed before: this copy changed nothing."""
    REJECTED = "rejected"
    """Turned away and stored among the rejected events, with the reason."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The result for one event; it is returned only after the database committed it.

    A plain dataclass, not a model: ingestion makes one per event, thousands a second, and a pydantic model costs
    ten times as much to make. The API's :class:`EventOutcome` carries the same fields.

    Raises:
        ValueError: a rejection without a reason, or a reason given for another outcome.
    """

    outcome: Outcome
    event_id: uuid.UUID | None
    """The event's id; for a rejected event the id it claimed, None when none could be read."""
    type: str | None
    """The event's type, or the type it claimed."""
    reason: RejectReason | None = None
    """Why it was rejected; None otherwise."""
    message: str | None = None
    """The rejection, for a person."""

    def __post_init__(self) -> None:
        if (self.reason is not None) != (self.outcome is Outcome.REJECTED):
            raise ValueError(f"a {self.outcome.value} result has reason {self.reason}; only rejections have one")

    @classmethod
    def accepted(cls, event_id: uuid.UUID, event_type: str) -> "IngestResult":
        """The result of an accepted event."""
        return cls(Outcome.ACCEPTED, event_id, event_type)

    @property
    def committed(self) -> bool:
        """Whether the event is in the database (now or from before)."""
        return self.outcome is not Outcome.REJECTED


class EventOutcome(BaseModel):
    """The result for one event of a request."""

    index: int = Field(ge=0, description="The event's position in the request (0 for a single event).")
    outcome: Outcome
    event_id: uuid.UUID | None = Field(
        description="The event's id; for a rejected event the id it claimed, None when none could be read."
    )
    type: str | None = Field(description="The event's type, or the type it claimed.")
    reason: RejectReason | None = Field(None, description="Why it was rejected; None otherwise.")
    message: str | None = Field(None, description="The rejection, for a person.")

    @classmethod
    def of(cls, index: int, result: IngestResult) -> "EventOutcome":
        """The API's form of one event's result."""
        return cls(index=index, **asdict(result))

    @property
    def committed(self) -> bool:
        """Whether the event is in the database (now or from before)."""
        return self.outcome is not Outcome.REJECTED


class IngestResponse(BaseModel):
    """The result of ``POST /api/v1/events``."""

    results: list[EventOutcome]
    committed: list[uuid.UUID] = Field(description="Ids stored, now or before: the device may forget them.")
    accepted: int
    duplicates: int
    rejected: int


class TransportCounts(BaseModel):
    """Events by outcome, for one transport."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0


class IngestionTiming(BaseModel):
    """Where ingestion's time went since the server started: wall-clock seconds per stage.

    Summed over every transaction (bus and HTTP): a stage's time per event is the difference of two readings
    over the difference of ``events``. A stage that waits on the database counts the wait.
    """

    batches: int = Field(0, description="Transactions (a bus batch, or an HTTP event).")
    events: int = Field(0, description="Events in them, whatever their outcome.")
    read_s: float = Field(0.0, description="Each event read on its own: JSON, schema, face crop; no database.")
    check_s: float = Field(
        0.0, description="The checks that read the database: sender, duplicates, alerts' watchlists, emergencies."
    )
    store_s: float = Field(
        0.0, description="The events' rows, units moved, emergencies followed, devices' last contact; not the feed."
    )
    feed_s: float = Field(0.0, description="The feed entries the control rooms follow (in the same transaction).")
    commit_s: float = Field(0.0, description="The commits.")
    ack_s: float = Field(0.0, description="Publishing acks to devices (the bus; on a thread of its own).")
    acks: int = Field(0, description="Ack messages published.")


class IngestionCounts(BaseModel):
    """Events by outcome since the server started."""

    accepted: int
    duplicate: int
    rejected: int
    rejected_by_reason: dict[RejectReason, int]
    by_transport: dict[Transport, TransportCounts]
    share_group: ShareGroupStatus | None = Field(
        None, description="MQTT: the servers sharing the devices' events, and any holding a share while away."
    )
    timing: IngestionTiming = Field(default_factory=IngestionTiming)


class MetricsReport(BaseModel):
    """``GET /api/v1/metrics``: the server's counters since it started."""

    started_at: datetime
    uptime_s: float
    ingestion: IngestionCounts
