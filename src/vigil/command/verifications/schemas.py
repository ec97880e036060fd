"""Shapes of second verifications in the API and the feed (never images)."""

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vigil.command.verifications.models import VerifierKind
from vigil.events import IdentityVerdict


class IdentityState(enum.StrEnum):
    """Where a confirmed match's identification stands (EU AI Act Art 14(5): two people)."""

    AWAITING_SECOND = "awaiting_second"
    """Confirmed by an operator only: nothing may be done on the identification alone."""
    VERIFIED = "verified"
    """A second person saw the same person."""
    REFUTED = "refuted"
    """A second person saw someone else: a false alert."""


class IdentityOut(BaseModel):
    """A confirmed match's two verifications: the operator's confirmation, and the second person's look."""

    model_config = ConfigDict(frozen=True)

    state: IdentityState
    confirmed_by: str = Field(description="The operator who confirmed the alert (its first verification).")
    confirmed_at: datetime
    verified_by: str | None = Field(
        description="Who settled it, verified or refuted (a person's name, or an officer's call sign); null while "
        "it awaits a second person."
    )
    verified_at: datetime | None
    verifier_kind: VerifierKind | None = Field(
        None, description="Whether the officer on scene or a second person in the control room settled it."
    )


class VerificationRequest(BaseModel):
    """``POST /api/v1/reviews/{alert_id}/verification``: a second person's verdict on a confirmed match."""

    model_config = ConfigDict(extra="forbid")

    verdict: IdentityVerdict = Field(
        description="same_person verifies the identity; not_the_person makes the alert a false one; cannot_tell "
        "records the look and settles nothing (another person may look)."
    )


class VerificationRecord(BaseModel):
    """One second look at a confirmed match."""

    model_config = ConfigDict(frozen=True)

    verification_id: uuid.UUID
    alert_id: uuid.UUID
    incident_id: uuid.UUID | None = Field(description="The incident acting on the alert, if one is.")
    verdict: IdentityVerdict
    verifier_kind: VerifierKind
    verifier_name: str = Field(description="The person's display name, or the officer's call sign.")
    verified_at: datetime


class VerificationOut(VerificationRecord):
    """A second look, with where the identity stands after it (the response, and the feed payload)."""

    identity: IdentityOut
