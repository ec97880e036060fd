"""Shapes of units and their positions in the API and the feed."""

import uuid
from datetime import datetime
from typing import Any

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


class UnitChanged(BaseModel):
    """Feed payload: a unit as it is now, after it was created or its status or details changed."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    status: UnitStatus
    status_changed_at: datetime
    reason: str = Field("", description='Why the status changed, for a person (e.g. "dispatch accepted").')


class UnitStatusChange(BaseModel):
    """``PATCH /api/v1/units/{unit_id}``: an operator sets what a unit is doing (e.g. off duty at shift's end)."""

    model_config = ConfigDict(extra="forbid")

    status: UnitStatus
    reason: str = Field("", max_length=500)


class Target(BaseModel):
    """The point units are ranked for: the subject's last position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90, description="Latitude, degrees (WGS 84).")
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees (WGS 84).")


class AreaQuery(BaseModel):
    """``POST /api/v1/units/in-area``: which units are inside this area now, ranked for this target."""

    model_config = ConfigDict(extra="forbid")

    area: dict[str, Any] = Field(
        description=(
            "GeoJSON (RFC 7946): a Polygon, or a Feature of a Polygon, or a Feature of a Point with "
            "properties.radius_m (a circle, metres). Omit it for the default circle around the target."
        ),
        default_factory=dict,
    )
    target: Target


class AreaUnit(BaseModel):
    """A unit inside the area, with what an operator needs to choose it."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    call_sign: str
    radio_id: str | None = Field(description="The unit's radio; None: reachable only through its devices.")
    kind: UnitKind
    status: UnitStatus
    lat: float
    lon: float
    distance_m: float = Field(description="Great-circle distance to the target, metres.")
    eta_s: float = Field(description="Estimated time to reach the target, seconds.")
    eta_basis: str = Field(description="straight_line (speed profile and detour factor) or road (street network).")
    accuracy_m: float | None = Field(description="The position's accuracy, metres; None when the device did not say.")
    position_age_s: float = Field(description="Seconds since the position was taken.")
    stale: bool = Field(description="The position is old enough that the unit may have moved.")
    suggested: bool = Field(description="Among the nearest available units the server suggests dispatching.")


class AreaUnits(BaseModel):
    """The units inside an area, ranked by estimated arrival, then distance, then unit id."""

    area: dict[str, Any] = Field(description="The area as the server read it (GeoJSON; a circle as a Point Feature).")
    target: Target
    units: list[AreaUnit]
