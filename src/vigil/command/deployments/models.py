"""A deployment: one authorised use of live face recognition, bounded in purpose, place and time.

The EU AI Act (Art 5(1)(h), 5(2)–(7)) allows real-time remote biometric identification in public spaces only for
three narrow purposes and only with the express, specific, prior authorisation of a judicial or independent
administrative authority. In urgency a use may start without it, but authorisation must be requested within 24
hours; if it is refused, the use stops at once and all its data and results are deleted. A deployment row is that
authorisation (or, for an urgent start, the request and its clock), with the watchlists it may use: the devices
carrying those watchlists search only inside its area and window, and the server refuses alerts from outside.

Rows are never deleted: a refused or lapsed deployment keeps its record (who asked, who refused, when its data
was deleted and how much) while everything it found goes.
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, string_enum
from vigil.events import DeploymentMode


class DeploymentPurpose(enum.StrEnum):
    """The legal ground: the three objectives of EU AI Act Art 5(1)(h)."""

    VICTIM_SEARCH = "victim_search"
    """(i) The targeted search for specific victims of abduction, trafficking or sexual exploitation, or for
    missing persons."""
    THREAT_PREVENTION = "threat_prevention"
    """(ii) The prevention of a specific, substantial and imminent threat to life or physical safety, or of a
    genuine and present or foreseeable terrorist attack."""
    SUSPECT_LOCALISATION = "suspect_localisation"
    """(iii) The localisation or identification of a person suspected of a criminal offence listed in Annex II and
    punishable by at least four years' custody, for investigation, prosecution or the execution of a penalty."""


class DeploymentState(enum.StrEnum):
    """Where a deployment stands (whether it is searching now also depends on its window)."""

    AUTHORISED = "authorised"
    """Authorised by the authority: before it started, or (urgent) within its 24 hours."""
    URGENT = "urgent"
    """Started without authorisation in urgency; the authorisation is requested and its 24-hour clock runs."""
    REFUSED = "refused"
    """The authority refused: stopped on every device, and its alerts, crops and results deleted."""
    LAPSED = "lapsed"
    """Urgent, and no authorisation came within 24 hours: stopped and deleted as if refused."""
    ENDED = "ended"
    """Ended early by a supervisor; what it recorded is kept like any alert."""


RUNNING_STATES = frozenset({DeploymentState.AUTHORISED, DeploymentState.URGENT})
"""The states in which a deployment may search (inside its window)."""


class Deployment(Base):
    """One authorised (or urgently started) use of live face recognition."""

    __tablename__ = "deployments"

    deployment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[DeploymentPurpose] = mapped_column(string_enum(DeploymentPurpose, name="deployment_purpose"))
    purpose_detail: Mapped[str] = mapped_column(Text)  # the specific victim, threat or offence
    mode: Mapped[DeploymentMode] = mapped_column(string_enum(DeploymentMode, name="deployment_mode"))
    area: Mapped[dict[str, Any]]  # GeoJSON, as areas are given to the API
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[DeploymentState] = mapped_column(string_enum(DeploymentState, name="deployment_state"), index=True)
    urgent: Mapped[bool]
    requested_by: Mapped[str] = mapped_column(String(200))  # the user who recorded it
    requested_by_name: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    authorisation_due_at: Mapped[datetime | None]  # urgent: the 24-hour clock's end
    authority: Mapped[str | None] = mapped_column(String(200))  # the court or independent authority
    authority_reference: Mapped[str | None] = mapped_column(String(200))  # its reference for the decision
    authorised_by_name: Mapped[str | None] = mapped_column(String(200))  # the judge or official who decided
    decided_at: Mapped[datetime | None]  # when the authority decided (granted or refused)
    decision_recorded_by: Mapped[str | None] = mapped_column(String(200))  # the user who recorded the decision
    decision_recorded_at: Mapped[datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(200))  # a user, or "system" when the clock ran out
    end_reason: Mapped[str | None] = mapped_column(Text)
    data_deleted_at: Mapped[datetime | None]
    alerts_deleted: Mapped[int | None]


class DeploymentWatchlist(Base):
    """A watchlist a deployment may use; the devices carrying it search under the deployment."""

    __tablename__ = "deployment_watchlists"

    deployment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deployments.deployment_id"), primary_key=True)
    watchlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("watchlists.watchlist_id"), primary_key=True, index=True)
