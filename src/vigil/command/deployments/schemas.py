"""Shapes of deployments in the API: the request that records one, the authority's decision, ending, and the record."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from vigil.command.deployments.models import DeploymentPurpose, DeploymentState
from vigil.events import DeploymentMode

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name or reference: not blank once trimmed."""
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
"""An explanation for the record: not blank once trimmed."""


class Authorisation(BaseModel):
    """The authority's express, specific decision that authorised the deployment (EU AI Act Art 5(3))."""

    model_config = ConfigDict(extra="forbid")

    authority: Text = Field(description="The judicial or independent administrative authority, e.g. the court.")
    reference: Text = Field(description="The authority's reference for its decision.")
    authorised_by_name: Text = Field(description="The judge or official who decided.")
    decided_at: AwareDatetime = Field(description="When the authority decided (UTC); not in the future.")


class DeploymentCreate(BaseModel):
    """``POST /api/v1/deployments``: record an authorised deployment, or start one in urgency.

    Give exactly one of ``authorisation`` (the authority has decided: the deployment runs in its window) and
    ``urgent: true`` (no decision yet: it starts at once and its authorisation must be recorded within 24 hours,
    or it lapses and everything it found is deleted).
    """

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(description="A name people recognise, e.g. the operation.")
    purpose: DeploymentPurpose = Field(description="The legal ground: one of the three objectives of Art 5(1)(h).")
    purpose_detail: LongText = Field(description="The specific victim, threat or offence the deployment is for.")
    mode: DeploymentMode = Field(description="live: matches alert officers; silent: recorded for later review only.")
    area: dict[str, Any] = Field(description="Where it may search: a GeoJSON Polygon, or a Feature of one or a circle.")
    starts_at: AwareDatetime | None = Field(
        None, description="When it may start searching (UTC); default now. An urgent deployment starts at once."
    )
    ends_at: AwareDatetime = Field(description="When it stops searching (UTC).")
    watchlist_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=50, description="The watchlists it may use (each in one running deployment at most)."
    )
    authorisation: Authorisation | None = Field(None, description="The authority's decision, when it has decided.")
    urgent: bool = Field(False, description="Start without authorisation, in a duly justified urgency.")


class DecisionRequest(BaseModel):
    """``POST /api/v1/deployments/{id}/decision``: the authority's decision on an urgent deployment."""

    model_config = ConfigDict(extra="forbid")

    granted: bool = Field(description="True: authorised; false: refused (it stops and its data is deleted).")
    authority: Text
    reference: Text
    authorised_by_name: Text = Field(description="The judge or official who decided.")
    decided_at: AwareDatetime = Field(description="When the authority decided (UTC); not in the future.")
    reason: LongText | None = Field(None, description="Why it was refused (required when refused).")


class EndRequest(BaseModel):
    """``POST /api/v1/deployments/{id}/end``: a supervisor ends a deployment before its window ends."""

    model_config = ConfigDict(extra="forbid")

    reason: LongText = Field(description="Why, for the record.")


class DeploymentOut(BaseModel):
    """A deployment's record: its authorisation (or urgent clock), scope, state, and what carries it."""

    model_config = ConfigDict(frozen=True)

    deployment_id: uuid.UUID
    name: str
    purpose: DeploymentPurpose
    purpose_detail: str
    mode: DeploymentMode
    area: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    state: DeploymentState
    searching: bool = Field(description="Whether it searches now: a running state, and its window holds now.")
    urgent: bool
    requested_by: str
    requested_by_name: str
    requested_at: datetime
    authorisation_due_at: datetime | None = Field(description="Urgent: when its 24 hours end (UTC).")
    authority: str | None
    authority_reference: str | None
    authorised_by_name: str | None
    decided_at: datetime | None
    decision_recorded_by: str | None
    decision_recorded_at: datetime | None
    refusal_reason: str | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    data_deleted_at: datetime | None
    alerts_deleted: int | None
    watchlist_ids: list[uuid.UUID]
    devices: list[str] = Field(description="The devices carrying its watchlists, by id.")


class DeploymentList(BaseModel):
    """Deployments, newest first."""

    deployments: list[DeploymentOut]
