"""Officers' answers to dispatch orders (the orders themselves arrive with dispatch, a later part)."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId, string_enum
from vigil.events import DispatchState


class DispatchStatusRecord(Base):
    """One answer from a unit's device to a dispatch order."""

    __tablename__ = "dispatch_statuses"

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
    dispatch_id: Mapped[uuid.UUID] = mapped_column(index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    status: Mapped[DispatchState] = mapped_column(string_enum(DispatchState, name="dispatch_state"))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    received_at: Mapped[datetime]
