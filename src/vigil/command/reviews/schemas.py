"""Shapes of the review in the API and the feed (never images: the probe crop and enrolled chip have their URLs)."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.command.verifications.schemas import IdentityOut, VerificationRecord
from vigil.events import AlertEvidence, ReviewDecision
from vigil.watchlist.subject import SubjectCategory


class QueuedAlert(BaseModel):
    """An alert awaiting review."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    subject_id: str
    device_id: str
    unit_id: str
    raised_at: datetime
    age_s: float = Field(description="Seconds since it was raised.")
    escalated: bool = Field(description="Whether it was escalated to supervisors for being unreviewed too long.")
    distance: float
    threshold: float
    detail_url: str


class ReviewQueue(BaseModel):
    """Alerts awaiting review, oldest first."""

    alerts: list[QueuedAlert]
    pending: int = Field(description="How many alerts await review in all.")


class ReviewSubject(BaseModel):
    """What the watchlist says about the matched subject."""

    model_config = ConfigDict(frozen=True)

    watchlist_id: uuid.UUID
    watchlist_name: str
    watchlist_threshold: float = Field(description="The threshold the matched watchlist version carried.")
    subject_id: str
    display_name: str
    category: SubjectCategory
    legal_basis: str
    notes: str
    expires_at: datetime
    state: str


class ReviewDetail(BaseModel):
    """Everything a reviewer needs to decide: the evidence, the context and the subject's record."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    probe_url: str | None = Field(description="The camera's face crop (JPEG); null once deleted by retention.")
    enrolled_url: str | None = Field(description="The watchlist's face chip of the subject (JPEG), when known.")
    distance: float = Field(description="Embedding distance of the match (smaller is closer).")
    threshold: float = Field(description="The device's threshold when it matched.")
    margin: float = Field(description="threshold − distance: how far inside the threshold the match is.")
    quality_score: float = Field(description="Quality of the nearest matching face, 0–1.")
    quality_parts: dict[str, Any]
    frames: int = Field(description="Faces of the person's track that matched the subject.")
    evidence: AlertEvidence | None = Field(
        description="Every matching face's quality and how many faces were searched; null from older devices."
    )
    device_id: str
    unit_id: str
    officer: str = Field(description="The unit's call sign.")
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    inside_deployment: bool | None = Field(
        description="Whether the alert's position lies in its deployment's area (the authorised deployment's, else "
        "the watchlist's; null: no area or no position)."
    )
    first_seen_at: datetime
    raised_at: datetime
    watchlist_version: int
    subject_id: str
    subject: ReviewSubject | None = Field(description="The subject's record; null when the version is not known here.")
    decision: ReviewDecision | None
    reviewed_by: str | None
    reviewer_name: str | None
    reviewed_at: datetime | None
    reason: str | None
    escalated_at: datetime | None
    deployment_id: uuid.UUID | None = Field(
        description="The authorised deployment it was raised under; null when no deployment governs its watchlist."
    )
    silent: bool = Field(
        description="Raised in a silent trial: decide it for the trial's figures; nothing may be done on it."
    )
    identity: IdentityOut | None = Field(
        description="Once confirmed, whether a second person verified the match (EU AI Act Art 14(5)); null while "
        "unconfirmed."
    )
    verifications: list[VerificationRecord] = Field(
        description="The second looks at the confirmed match, oldest first (cannot_tell settles nothing)."
    )


class ReviewRequest(BaseModel):
    """A person's decision on an alert."""

    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    reason: str = Field("", max_length=2000, description="Why; required to dismiss.")

    @field_validator("reason")
    @classmethod
    def _trimmed(cls, reason: str) -> str:
        return reason.strip()


class ReviewOutcome(BaseModel):
    """A decision on an alert (the response, and the feed payload)."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    device_id: str
    unit_id: str
    subject_id: str
    decision: ReviewDecision
    reviewed_by: str
    reviewer_name: str
    reviewed_at: datetime
    reason: str
    silent: bool = Field(
        description="A silent trial's alert: the decision is recorded for the trial only (no feed, no device, no "
        "dispatch)."
    )


class TrialAlert(BaseModel):
    """An alert of a silent trial deployment, for later review."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    subject_id: str
    device_id: str
    unit_id: str
    raised_at: datetime
    distance: float
    threshold: float
    decision: ReviewDecision | None = Field(description="The reviewer's decision; null while it awaits review.")
    reviewed_at: datetime | None
    detail_url: str


class TrialReview(BaseModel):
    """A silent trial deployment's alerts, oldest first, and the trial's figures so far."""

    deployment_id: uuid.UUID
    deployment_name: str
    alerts: list[TrialAlert]
    pending: int = Field(description="How many of its silent alerts await review.")
    confirmed: int = Field(description="How many a reviewer confirmed (true matches).")
    dismissed: int = Field(description="How many a reviewer dismissed (false matches).")


class AlertEscalated(BaseModel):
    """Feed payload: an alert still unreviewed past the escalation time; supervisors should act."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    device_id: str
    unit_id: str
    subject_id: str
    raised_at: datetime
    pending_s: float = Field(description="Seconds it had waited when escalated.")
    escalated_at: datetime
    to_role: str = Field("supervisor", description="Who is to act.")
