"""The public report's shape: the figures UK forces publish for each deployment of live facial recognition."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class Figures(BaseModel):
    """One row of the report."""

    faces_processed: int = Field(description="Faces the cameras searched the watchlist for (from device statuses).")
    alerts: int = Field(description="Alerts raised.")
    confirmed: int = Field(description="Alerts a person confirmed.")
    dismissed: int = Field(description="Alerts a person dismissed: the false alerts.")
    pending: int = Field(description="Alerts not reviewed (yet).")
    false_alert_rate: float | None = Field(description="dismissed / alerts; null without alerts.")
    faces_per_false_alert: float | None = Field(
        description='faces_processed / dismissed: "one false alert in N faces"; null without a false alert.'
    )

    @classmethod
    def of(cls, *, faces: int, confirmed: int, dismissed: int, pending: int) -> "Figures":
        """The row, with its rates computed."""
        alerts = confirmed + dismissed + pending
        return cls(
            faces_processed=faces,
            alerts=alerts,
            confirmed=confirmed,
            dismissed=dismissed,
            pending=pending,
            false_alert_rate=dismissed / alerts if alerts else None,
            faces_per_false_alert=faces / dismissed if dismissed else None,
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
