"""Incidents and the dispatch orders sent for them."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, string_enum
from vigil.command.emergencies.models import Emergency
from vigil.dispatch.unit import UnitStatus


class IncidentStatus(enum.StrEnum):
    """Whether units are still working an incident."""

    OPEN = "open"
    CLOSED = "closed"


class IncidentOutcome(enum.StrEnum):
    """How an incident ended; ``wrong_person`` counts as a false alert in the public report."""

    ARREST = "arrest"
    NOT_FOUND = "not_found"
    WRONG_PERSON = "wrong_person"
    OTHER = "other"


class OrderState(enum.StrEnum):
    """Where a dispatch order stands: sent, each answer of the officer's, or stood down by control."""

    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


FINISHED_ORDER_STATES = frozenset({OrderState.DECLINED, OrderState.CLEARED, OrderState.CANCELLED})
"""States after which an order asks nothing more of its unit."""


class IncidentKind(enum.StrEnum):
    """What an incident is for: a subject of a confirmed alert, or an officer in danger."""

    SUBJECT = "subject"
    OFFICER_EMERGENCY = "officer_emergency"


class Incident(Base):
    """A confirmed alert or an officer's emergency acted on: the target, the search area, and the outcome.

    Exactly one of ``alert_id`` (with ``subject_id`` and ``target_alert_id``) and ``emergency_id`` is set.
    """

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_subject_id_status", "subject_id", "status"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alerts.alert_id"), unique=True)
    emergency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(Emergency.emergency_id), unique=True)
    subject_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[IncidentStatus] = mapped_column(string_enum(IncidentStatus, name="incident_status"))
    target_lat: Mapped[float]
    target_lon: Mapped[float]
    target_accuracy_m: Mapped[float | None]
    target_at: Mapped[datetime] = mapped_column(doc="When the subject (or the officer) was there (UTC).")
    target_alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alerts.alert_id"))
    target_revision: Mapped[int] = mapped_column(doc="Raised each time the target or the area changes.")
    area: Mapped[dict[str, Any]] = mapped_column(doc="The search area, GeoJSON (a circle as a Point Feature).")
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    outcome: Mapped[IncidentOutcome | None] = mapped_column(string_enum(IncidentOutcome, name="incident_outcome"))
    outcome_notes: Mapped[str | None] = mapped_column(Text)

    @property
    def kind(self) -> IncidentKind:
        """What the incident is for."""
        return IncidentKind.SUBJECT if self.emergency_id is None else IncidentKind.OFFICER_EMERGENCY


class DispatchOrderRecord(Base):
    """An order sent to a unit for an incident, and what became of it."""

    __tablename__ = "dispatch_orders"
    __table_args__ = (Index("ix_dispatch_orders_incident_id", "incident_id"),)

    dispatch_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.incident_id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    state: Mapped[OrderState] = mapped_column(string_enum(OrderState, name="order_state"))
    revision: Mapped[int] = mapped_column(doc="The incident's target revision the unit was last sent.")
    unit_status_before: Mapped[UnitStatus] = mapped_column(
        string_enum(UnitStatus, name="unit_status"), doc="What the unit was doing before: a decline returns it there."
    )
    instructions: Mapped[str] = mapped_column(Text)
    sent_by: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime]
    answered_at: Mapped[datetime | None] = mapped_column(doc="The officer's latest answer (UTC).")
    escalated_at: Mapped[datetime | None] = mapped_column(doc="When the operator was told it went unanswered.")
    finished_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, doc="A decline's reason, or why control stood the unit down.")
