"""Events for devices, stored in the transaction that decided them and published to the bus afterwards."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId


class DownlinkMessage(Base):
    """One event for one device; ``published_at`` is set once the bus has accepted it."""

    __tablename__ = "downlink"
    __table_args__ = (
        Index("ix_downlink_published_at_id", "published_at", "id"),
        # What a device was sent of a type (its watchlist announcements, which its alerts must match).
        Index("ix_downlink_device_id_type", "device_id", "type"),
    )

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    type: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
