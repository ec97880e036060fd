"""Shapes of units and their positions in the API and the feed."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vigil.command.units.models import UnitKind, UnitStatus


class UnitPosition(BaseModel):
    """A unit's latest known position."""

    model_config = ConfigDict(frozen=True)

    lat: float = Field(description="Latitude, degrees (WGS 84).")
    lon: float = Field(description="Longitude, degrees (WGS 84).")
    accuracy_m: float | None = Field(description="Horizontal accuracy, metres.")
    heading_deg: float | None = Field(description="Course over ground, degrees from north.")
    speed_mps: float | None = Field(description="Speed over ground, metres per second.")
    source: str = Field(description="gps, network or sim.")
    at: datetime = Field(description="When the device took it (UTC).")
    age_s: float = Field(description="Seconds between `at` and the response; old positions deserve doubt.")


class UnitOut(BaseModel):
    """A unit as the operators see it."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    status: UnitStatus
    status_changed_at: datetime
    device_ids: list[str] = Field(description="The unit's devices that are not revoked.")
    position: UnitPosition | None = Field(description="Latest position; None until a device reports one.")


class UnitList(BaseModel):
    """Every unit."""

    units: list[UnitOut]


class TrackPoint(BaseModel):
    """One position of a unit's track."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    heading_deg: float | None
    speed_mps: float | None
    source: str
    device_id: str


class Track(BaseModel):
    """A unit's positions in time order (oldest first)."""

    unit_id: str
    points: list[TrackPoint]


class PositionReported(BaseModel):
    """Feed payload: a unit's device reported a position."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    unit_id: str
    device_id: str
    at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    heading_deg: float | None
    speed_mps: float | None
    source: str
    is_latest: bool = Field(description="False when an older position arrived late: the track grew, the map not.")
