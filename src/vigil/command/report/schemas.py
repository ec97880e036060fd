"""The public report's shape: the figures UK forces publish for each deployment of live facial recognition."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from vigil.command.watchlists.models import ThresholdBasis


class Figures(BaseModel):
    """One row of the report."""

    faces_processed: int = Field(description="Faces the cameras searched the watchlist for (from device statuses).")
    alerts: int = Field(description="Alerts raised.")
    confirmed: int = Field(description="Alerts a person confirmed.")
    dismissed: int = Field(description="Alerts a person dismissed: false alerts.")
    wrong_person: int = Field(
        0, description="Confirmed alerts whose incident closed with the wrong person found: false alerts too."
    )
    pending: int = Field(description="Alerts not reviewed (yet).")
    false_alerts: int = Field(0, description="dismissed + wrong_person.")
    false_alert_rate: float | None = Field(description="false_alerts / alerts; null without alerts.")
    faces_per_false_alert: float | None = Field(
        description='faces_processed / false_alerts: "one false alert in N faces"; null without a false alert.'
    )

    @classmethod
    def of(cls, *, faces: int, confirmed: int, dismissed: int, pending: int, wrong_person: int = 0) -> "Figures":
        """The row, with its rates computed."""
        alerts = confirmed + dismissed + pending
        false_alerts = dismissed + wrong_person
        return cls(
            faces_processed=faces,
            alerts=alerts,
            confirmed=confirmed,
            dismissed=dismissed,
            wrong_person=wrong_person,
            pending=pending,
            false_alerts=false_alerts,
            false_alert_rate=false_alerts / alerts if alerts else None,
            faces_per_false_alert=faces / false_alerts if false_alerts else None,
        )


class DeviceRow(BaseModel):
    """One device's figures."""

    device_id: str
    unit_id: str | None
    figures: Figures


class DeploymentRow(BaseModel):
    """One deployment's (watchlist's) figures; ``watchlist_id`` null for versions this server did not make."""

    watchlist_id: uuid.UUID | None
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    figures: Figures


class VersionRow(BaseModel):
    """One watchlist version's figures; ``version`` null for faces counted without a watchlist version."""

    version: int | None
    watchlist_id: uuid.UUID | None
    watchlist_name: str | None
    subjects: int | None = Field(description="Subjects the version held.")
    model: str | None = Field(None, description="The face model it was made with (a model id).")
    threshold: float | None = Field(None, description="The operating threshold its packages carried.")
    size_threshold: float | None = Field(
        None, description="The threshold measured for its model and size; null if not recorded (older versions)."
    )
    threshold_basis: ThresholdBasis | None = Field(
        None, description="Which applied: by size, a supervisor's stricter one, or a looser one with a reason."
    )
    looser_threshold_reason: str | None = Field(None, description="Why a looser threshold than by size was chosen.")
    expected: str | None = Field(
        None, description="What its threshold was expected to do at its size, in one sentence; null if not recorded."
    )
    figures: Figures


class PublicReport(BaseModel):
    """``vigil report`` and ``GET /api/v1/report``."""

    period_from: datetime = Field(description="Start of the period, inclusive (UTC).")
    period_to: datetime = Field(description="End of the period, exclusive (UTC).")
    generated_at: datetime
    totals: Figures
    devices: list[DeviceRow]
    deployments: list[DeploymentRow]
    versions: list[VersionRow]
