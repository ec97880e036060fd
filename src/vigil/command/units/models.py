"""Units (an officer or a crew with a call sign) and the positions their devices report.

On PostgreSQL the migrations add a PostGIS ``geography(Point, 4326)`` column, ``geog``, to ``units`` (the
latest position) and ``positions``, computed by the database from ``lat``/``lon``; these models do not map it,
so they run unchanged on SQLite.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId, string_enum
from vigil.dispatch.unit import UnitKind, UnitStatus

__all__ = ["PositionRecord", "Unit", "UnitKind", "UnitStatus"]


class Unit(Base):
    """A unit and its latest known position."""

    __tablename__ = "units"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(64))
    radio_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[UnitKind] = mapped_column(string_enum(UnitKind, name="unit_kind"))
    status: Mapped[UnitStatus] = mapped_column(string_enum(UnitStatus, name="unit_status"))
    status_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    position_lat: Mapped[float | None]
    position_lon: Mapped[float | None]
    position_accuracy_m: Mapped[float | None]
    position_heading_deg: Mapped[float | None]
    position_speed_mps: Mapped[float | None]
    position_source: Mapped[str | None] = mapped_column(String(16))
    position_at: Mapped[datetime | None]


class PositionRecord(Base):
    """One reported position: a unit's track."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_unit_id_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    at: Mapped[datetime]
    lat: Mapped[float]
    lon: Mapped[float]
    accuracy_m: Mapped[float | None]
    heading_deg: Mapped[float | None]
    speed_mps: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
