"""Settings of dispatch: area limits, position ages, speed profiles, escalation.

:class:`DispatchSettings` is a section of the command centre's settings (``VIGIL_DISPATCH__…``).
"""

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.dispatch.unit import UnitKind


class AreaLimits(BaseModel):
    """What areas operators may draw, and the circle drawn for them around an alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_radius_m: float = Field(
        1_000.0, gt=0, le=50_000, description="Radius of the circle around an alert's position, metres."
    )
    min_radius_m: float = Field(10.0, gt=0, le=10_000, description="Smallest circle radius, metres.")
    max_radius_m: float = Field(20_000.0, gt=0, le=100_000, description="Largest circle radius, metres.")
    max_span_m: float = Field(
        40_000.0, gt=0, le=200_000, description="Largest distance between two corners of a polygon, metres."
    )
    min_area_m2: float = Field(100.0, ge=0, le=1_000_000, description="Smallest polygon area, square metres.")
    max_positions: int = Field(
        2_000, ge=4, le=100_000, description="Most positions in a polygon, all its rings together."
    )

    @model_validator(mode="after")
    def _radii_in_order(self) -> Self:
        if not self.min_radius_m <= self.default_radius_m <= self.max_radius_m:
            raise ValueError(
                f"need min_radius_m ≤ default_radius_m ≤ max_radius_m, got {self.min_radius_m:g} m, "
                f"{self.default_radius_m:g} m and {self.max_radius_m:g} m"
            )
        return self


class PositionAges(BaseModel):
    """How old a unit's last position may be before it is doubted, then ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_after_s: float = Field(
        60.0, gt=0, le=3_600, description="A position older than this is shown, flagged stale, seconds."
    )
    max_age_s: float = Field(
        600.0, gt=0, le=86_400, description="A position older than this is left out of every answer, seconds."
    )

    @model_validator(mode="after")
    def _stale_before_excluded(self) -> Self:
        if self.stale_after_s > self.max_age_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g} s) must not exceed max_age_s ({self.max_age_s:g} s)"
            )
        return self


class SpeedProfile(BaseModel):
    """How fast a kind of unit covers ground in town, for a straight-line estimate of its arrival."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed_mps: float = Field(gt=0, le=70, description="Average speed on the way, metres per second.")
    detour_factor: float = Field(
        ge=1, le=3, description="Route length over straight-line distance (streets are not straight)."
    )
    start_s: float = Field(0.0, ge=0, le=600, description="Time to get going before moving, seconds.")


class RankingSettings(BaseModel):
    """How units are ranked for a target, and how many are suggested."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    foot: SpeedProfile = Field(
        default_factory=lambda: SpeedProfile(speed_mps=1.4, detour_factor=1.3),
        description="Officers on foot: walking pace.",
    )
    car: SpeedProfile = Field(
        default_factory=lambda: SpeedProfile(speed_mps=8.0, detour_factor=1.4, start_s=30.0),
        description="Cars in town traffic (about 29 km/h on average).",
    )
    motorcycle: SpeedProfile = Field(
        default_factory=lambda: SpeedProfile(speed_mps=10.0, detour_factor=1.3, start_s=15.0),
        description="Motorcycles in town traffic (about 36 km/h on average).",
    )
    suggest_count: int = Field(3, ge=1, le=50, description="Units suggested for a dispatch (the nearest N).")
    road_network_path: Path | None = Field(
        None,
        description=(
            "A GeoJSON file of streets (LineStrings; see vigil.dispatch.road_network): arrival estimates then "
            "follow the streets. None: straight line with the detour factors."
        ),
    )
    max_snap_m: float = Field(
        300.0,
        gt=0,
        le=5_000,
        description="A unit or target farther than this from the street network is estimated in a straight line, "
        "metres.",
    )

    def profile(self, kind: UnitKind) -> SpeedProfile:
        """The speed profile of a kind of unit."""
        match kind:
            case UnitKind.FOOT:
                return self.foot
            case UnitKind.CAR:
                return self.car
            case UnitKind.MOTORCYCLE:
                return self.motorcycle


class EscalationSettings(BaseModel):
    """When an unanswered order is escalated to the operator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ack_timeout_s: float = Field(
        60.0,
        ge=5,
        le=3_600,
        description="An order no officer has answered this long after it was sent is overdue, seconds.",
    )


class DispatchSettings(BaseModel):
    """Everything dispatch needs: a section of the command centre's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    areas: AreaLimits = Field(default_factory=AreaLimits)
    positions: PositionAges = Field(default_factory=PositionAges)
    ranking: RankingSettings = Field(default_factory=RankingSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
