"""Alerts raised by body cameras, with the matched face crop.

The review columns stay empty until a person decides (:mod:`vigil.command.reviews.service`). Retention deletes the
crop on schedule (``probe_deleted_at``) and keeps the row and its decision for the public report.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, string_enum
from vigil.events import ReviewDecision


class Alert(Base):
    """One watchlist match reported by a device."""

    __tablename__ = "alerts"

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ingested_events.event_id"), unique=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    watchlist_version: Mapped[int]
    model: Mapped[str] = mapped_column(String(120))  # the face model whose embeddings matched (a model id)
    distance: Mapped[float]
    threshold: Mapped[float]
    quality_score: Mapped[float]
    quality_parts: Mapped[dict[str, Any]]
    frames: Mapped[int]
    evidence: Mapped[dict[str, Any] | None]  # AlertEvidence: the faces that backed it; null from older devices
    first_seen_at: Mapped[datetime]
    raised_at: Mapped[datetime] = mapped_column(index=True)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    probe_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    review_decision: Mapped[ReviewDecision | None] = mapped_column(string_enum(ReviewDecision, name="review_decision"))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewer_name: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    review_reason: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None]
    probe_deleted_at: Mapped[datetime | None]
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deployments.deployment_id"), index=True)
    silent: Mapped[bool] = mapped_column(default=False)  # a silent deployment's: for later review, never live
