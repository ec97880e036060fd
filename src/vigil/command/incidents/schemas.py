"""Shapes of incidents and dispatch orders in the API and the feed."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.command.incidents.models import IncidentKind, IncidentOutcome, IncidentStatus, OrderState
from vigil.command.verifications.schemas import IdentityOut
from vigil.dispatch.unit import UnitKind


class IncidentOpen(BaseModel):
    """``POST /api/v1/incidents``: act on a confirmed alert."""

    model_config = ConfigDict(extra="forbid")

    alert_id: uuid.UUID = Field(description="A confirmed alert: the only thing that may start a dispatch.")
    area: dict[str, Any] = Field(
        default_factory=dict,
        description="GeoJSON search area (as for /api/v1/units/in-area); omitted: the default circle around the alert.",
    )


class AreaChange(BaseModel):
    """``PUT /api/v1/incidents/{incident_id}/area``: the operator redraws the search area."""

    model_config = ConfigDict(extra="forbid")

    area: dict[str, Any] = Field(description="GeoJSON search area; empty: the default circle around the target.")


class DispatchRequest(BaseModel):
    """``POST /api/v1/incidents/{incident_id}/dispatches``: send units."""

    model_config = ConfigDict(extra="forbid")

    unit_ids: list[str] = Field(min_length=1, max_length=20, description="The units to send, each once.")
    instructions: str = Field("", max_length=4000, description="What the officers are to do, for their handsets.")

    @field_validator("unit_ids")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("name each unit once")
        return value


class IncidentClose(BaseModel):
    """``POST /api/v1/incidents/{incident_id}/close``: how it ended (``wrong_person`` is a false alert).

    ``arrest`` needs the match verified by a second person (the officer on the handset, or another person in the
    control room); the other outcomes do not.
    """

    model_config = ConfigDict(extra="forbid")

    outcome: IncidentOutcome
    notes: str = Field("", max_length=4000)


class TargetOut(BaseModel):
    """Where the subject was last seen, or where the officer in danger last was."""

    model_config = ConfigDict(frozen=True)

    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime = Field(description="When the subject was seen there, or the officer was there (UTC).")
    alert_id: uuid.UUID | None = Field(
        description="The confirmed alert that placed the target here; None on an officer's emergency."
    )
    revision: int = Field(description="Raised each time the target or the area changes.")


class SubjectOut(BaseModel):
    """Who is sought."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    name: str
    category: str


class DispatchOut(BaseModel):
    """An order sent to a unit, and where it stands."""

    model_config = ConfigDict(frozen=True)

    dispatch_id: uuid.UUID
    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    state: OrderState
    revision: int = Field(description="The target revision the unit was last sent.")
    sent_by: str
    sent_at: datetime
    answered_at: datetime | None
    overdue: bool = Field(description="Unanswered past the acknowledgement timeout.")
    escalated_at: datetime | None
    finished_at: datetime | None
    reason: str


class IncidentOut(BaseModel):
    """An incident with its target, area and orders: for a subject, or for an officer in danger."""

    model_config = ConfigDict(frozen=True)

    incident_id: uuid.UUID
    kind: IncidentKind
    alert_id: uuid.UUID | None = Field(description="The confirmed alert it was opened on; None for an emergency.")
    subject: SubjectOut | None = Field(description="Who is sought; None for an officer's emergency.")
    identity: IdentityOut | None = Field(
        description="Whether two people verified the match (its target's sighting when a second person settled it, "
        "else the opening alert's); None for an officer's emergency. An arrest needs ``verified``."
    )
    emergency_id: uuid.UUID | None = Field(description="The officer's emergency it answers; None for a subject.")
    status: IncidentStatus
    outcome: IncidentOutcome | None
    outcome_notes: str | None
    target: TargetOut
    area: dict[str, Any] = Field(description="The search area, GeoJSON (a circle as a Point Feature with radius_m).")
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    dispatches: list[DispatchOut]


class IncidentList(BaseModel):
    """Incidents, newest first."""

    incidents: list[IncidentOut]


class IncidentChanged(BaseModel):
    """Feed payload: an incident opened, its area or target moved, units were sent, or it closed."""

    model_config = ConfigDict(frozen=True)

    change: str = Field(description="opened, area_changed, target_moved, dispatched, answered or closed.")
    incident: IncidentOut


class DispatchEscalated(BaseModel):
    """Feed payload: an order went unanswered past the timeout, or was declined; a replacement is proposed."""

    model_config = ConfigDict(frozen=True)

    incident_id: uuid.UUID
    dispatch_id: uuid.UUID
    unit_id: str
    call_sign: str
    why: str = Field(description="unanswered or declined.")
    proposed_unit_id: str | None = Field(description="The next nearest available unit; None when the area has none.")
    proposed_call_sign: str | None
    proposed_eta_s: float | None
