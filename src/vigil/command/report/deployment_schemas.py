"""One deployment's report, as the Metropolitan Police publishes one for each deployment of live facial recognition.

Its authorisation (who authorised what, where and when), and its figures: faces processed, alerts, what each
verification step found, the incidents' outcomes, the false alerts and their rates, and the thresholds and
watchlist sizes it ran with. A silent trial's figures are its true and false matches. A refused or lapsed
deployment's report says when its data was deleted and shows no figures.
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from vigil.command.deployments.models import DeploymentPurpose, DeploymentState
from vigil.command.verifications.models import VerifierKind
from vigil.events import DeploymentMode


class WatchlistRef(BaseModel):
    """A watchlist the deployment could use."""

    watchlist_id: uuid.UUID
    name: str


class ReportedAuthorisation(BaseModel):
    """The deployment's record: what it was for, who authorised it, where and when it could search."""

    deployment_id: uuid.UUID
    name: str
    purpose: DeploymentPurpose
    purpose_detail: str = Field(description="The specific victim, threat or offence it was for.")
    mode: DeploymentMode = Field(description="live: matches alerted officers; silent: a trial, for review only.")
    state: DeploymentState
    urgent: bool = Field(description="Started in urgency, before the authority decided.")
    authorisation_due_at: datetime | None = Field(description="Urgent: when its authorisation was due (UTC).")
    authority: str | None = Field(description="The judicial or independent authority; null while none decided.")
    authority_reference: str | None
    authorised_by_name: str | None = Field(description="The judge or official who decided.")
    decided_at: datetime | None = Field(description="When the authority decided (UTC).")
    refusal_reason: str | None
    requested_by_name: str = Field(description="Who recorded the deployment.")
    requested_at: datetime
    area: dict[str, Any] = Field(description="Where it could search, GeoJSON as recorded.")
    area_description: str = Field(description="The area in words: a circle's centre and radius, a polygon's corners.")
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None = Field(description="When it was stopped before its window ended, if it was.")
    end_reason: str | None
    watchlists: list[WatchlistRef]


class FirstVerification(BaseModel):
    """The operator's review of each alert."""

    confirmed: int = Field(description="Confirmed as a match (in a silent trial: true matches at this step).")
    dismissed: int = Field(description="Dismissed: false alerts at the first step (silent trial: false matches).")
    pending: int = Field(description="Not reviewed (yet).")


class VerifierLooks(BaseModel):
    """The second looks one kind of verifier took, by verdict."""

    verifier_kind: VerifierKind
    same_person: int
    not_the_person: int
    cannot_tell: int


class SecondVerification(BaseModel):
    """What second verifiers found of the confirmed alerts; each confirmed alert is counted once."""

    same_person: int = Field(description="Verified as the same person, and no verifier said otherwise.")
    not_the_person: int = Field(description="A verifier found it was not the person: false alerts at this step.")
    cannot_tell_only: int = Field(description="Looked at, but every verifier said they could not tell.")
    awaiting: int = Field(description="Confirmed and not looked at a second time.")
    by_verifier: list[VerifierLooks] = Field(description="Every look, by who took it (control room, officer).")


class Outcomes(BaseModel):
    """How the incidents opened on its alerts ended; each incident counted once."""

    arrest: int
    not_found: int
    wrong_person: int = Field(description="Officers found someone else: false alerts the verifications missed.")
    other: int
    open: int = Field(description="Incidents still open.")


class DeploymentFigures(BaseModel):
    """The deployment's figures."""

    faces_processed: int = Field(description="Faces its devices searched in its window (the method is in `notes`).")
    alerts: int
    first_verification: FirstVerification
    second_verification: SecondVerification
    outcomes: Outcomes
    alerts_acted_on: int = Field(description="Alerts an incident was opened on (or moved to): sent to officers.")
    false_alerts: int = Field(
        description="Dismissed, not the person at the second verification, or the wrong person found; each alert "
        "counted once."
    )
    false_alerts_per_1000_faces: float | None = Field(description="Null when no face was processed.")
    faces_per_false_alert: float | None = Field(description='"One false alert in N faces"; null without a false alert.')
    false_alerts_per_alert: float | None = Field(description="false_alerts / alerts; null without alerts.")


class TrialMatches(BaseModel):
    """A silent trial's figures as matches: what it would have found, measured before a force goes live."""

    true_matches: int = Field(description="Confirmed, and found false by no later step.")
    false_matches: int = Field(description="Every false alert: dismissed, or found false by a later step.")
    unreviewed: int
    false_match_rate: float | None = Field(description="false_matches / alerts; null without alerts.")
    faces_per_false_match: float | None = Field(description='"One false match in N faces"; null without one.')


class VersionBasis(enum.StrEnum):
    """Why a watchlist version is in the report."""

    MATCHED = "matched"
    """Alerts of the deployment matched it."""
    IN_FORCE_AT_START = "in_force_at_start"
    """No alert matched any version; this one was the watchlist's newest when the window opened."""
    FIRST_IN_WINDOW = "first_in_window"
    """No alert matched any version, none existed when the window opened; this was the first made in it."""


class VersionInForce(BaseModel):
    """A watchlist version the deployment ran with: its threshold and how many people it held."""

    version: int
    watchlist_id: uuid.UUID | None = Field(description="Null for a version this server has no record of.")
    watchlist_name: str | None
    threshold: float | None = Field(description="The operating threshold its packages carried (a face distance).")
    subjects: int | None = Field(description="The watchlist's size: the people the version held.")
    alerts: int = Field(description="The deployment's alerts that matched it.")
    basis: VersionBasis


class DeviceFaces(BaseModel):
    """One device's faces processed under the deployment's watchlists, in its window."""

    device_id: str
    unit_id: str | None
    faces_processed: int


class DeletedData(BaseModel):
    """What a refused or lapsed deployment's deletion removed (EU AI Act Art 5(3))."""

    deleted_at: datetime | None = Field(description="When; null if the deletion has not run yet.")
    alerts_deleted: int | None = Field(description="How many alerts, with everything made from them.")


class DeploymentReport(BaseModel):
    """``GET /api/v1/deployments/{deployment_id}/report``."""

    generated_at: datetime
    deployment: ReportedAuthorisation
    silent_trial: bool = Field(description="A silent trial: no alert reached an officer; figures are matches.")
    counted_from: datetime = Field(description="The window counted: its start (UTC, inclusive).")
    counted_to: datetime = Field(description="Its end (UTC, exclusive): the window's end, or when it was stopped.")
    figures: DeploymentFigures | None = Field(description="Null when its data was deleted (`deleted`).")
    trial: TrialMatches | None = Field(description="A silent trial's true and false matches; null for a live one.")
    versions: list[VersionInForce]
    devices: list[DeviceFaces]
    deleted: DeletedData | None = Field(description="Set for a refused or lapsed deployment: its data is deleted.")
    notes: list[str] = Field(description="How the figures were counted, in sentences.")
