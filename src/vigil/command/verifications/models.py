"""A match's second verification, by a second person in the control room or by the officer on scene.

The operator's confirmation of an alert (:mod:`vigil.command.reviews`) is the match's first verification. The EU
AI Act (Art 14(5)) wants no action or decision taken on an identification unless it is separately verified and
confirmed by at least two natural persons: each row here is one such second look, by someone other than the
operator who confirmed it: ``same_person`` verifies the identity, ``not_the_person`` makes the alert a false one
(as a dismissal does), ``cannot_tell`` records the look and verifies nothing. Rows are never changed.
"""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, string_enum
from vigil.events import IdentityVerdict


class VerifierKind(enum.StrEnum):
    """Who made a second verification."""

    CONTROL_ROOM = "control_room"
    """A second person in the control room, signed in (not the operator who confirmed the alert)."""
    OFFICER = "officer"
    """The officer sent to the match, on their handset, from the order's evidence."""


class AlertVerification(Base):
    """One second look at a confirmed match."""

    __tablename__ = "alert_verifications"

    verification_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.alert_id"), index=True)
    verdict: Mapped[IdentityVerdict] = mapped_column(string_enum(IdentityVerdict, name="identity_verdict"))
    verifier_kind: Mapped[VerifierKind] = mapped_column(string_enum(VerifierKind, name="verifier_kind"))
    verified_by: Mapped[str] = mapped_column(String(200))  # a user id (control room) or a unit id (officer)
    verifier_name: Mapped[str] = mapped_column(String(200))  # the user's display name, or the unit's call sign
    verified_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.device_id"))  # an officer's: their device
    dispatch_id: Mapped[uuid.UUID | None]  # an officer's: the order whose evidence they compared
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
