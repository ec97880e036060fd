"""Registered body cameras (and phones running an OsmAnd client), and the statuses they report."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId


class Device(Base):
    """A device bound to one unit, with the hashes of its machine token and its latest status.

    ``token_sha256`` checks the token over HTTP; ``broker_password_hash`` is the same token hashed for the MQTT
    broker's password file (Mosquitto's ``$7$`` format), None for devices registered before broker credentials.
    ``osmand_secret_sha256`` checks the secret an OsmAnd tracker (Traccar Client) puts in its URL; None: the
    device may not send OsmAnd positions.
    """

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    broker_password_hash: Mapped[str | None] = mapped_column(String(200))
    osmand_secret_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    status_at: Mapped[datetime | None]
    battery_pct: Mapped[float | None]
    free_storage_mb: Mapped[float | None]
    watchlist_version: Mapped[int | None]
    faces_processed: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DeviceStatusRecord(Base):
    """One reported device status."""

    __tablename__ = "device_statuses"
    __table_args__ = (Index("ix_device_statuses_device_id_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    at: Mapped[datetime]
    battery_pct: Mapped[float | None]
    free_storage_mb: Mapped[float | None]
    watchlist_version: Mapped[int | None]
    model_versions: Mapped[dict[str, Any]]
    faces_processed: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
