"""Officers' emergencies: who raised one, how, where, and what control did about it."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, string_enum
from vigil.events import EmergencyTrigger


class EmergencyStatus(enum.StrEnum):
    """Where an emergency stands: raised, taken by an operator, or over."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Emergency(Base):
    """An officer's emergency, raised once (a resend carries the same id) and followed until resolved."""

    __tablename__ = "emergencies"
    __table_args__ = (Index("ix_emergencies_unit_id_status", "unit_id", "status"),)

    emergency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    trigger: Mapped[EmergencyTrigger] = mapped_column(string_enum(EmergencyTrigger, name="emergency_trigger"))
    status: Mapped[EmergencyStatus] = mapped_column(string_enum(EmergencyStatus, name="emergency_status"))
    raised_at: Mapped[datetime] = mapped_column(doc="When the officer raised it (UTC, the device's clock).")
    received_at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(doc="Where the officer was when it was raised; None when unknown.")
    lon: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), doc="The operator's display name.")
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200), doc="The operator's display name.")
    resolved_at: Mapped[datetime | None]
    resolution_notes: Mapped[str | None] = mapped_column(Text)
