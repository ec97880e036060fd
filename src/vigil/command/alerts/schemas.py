"""Shapes of alerts in the API and the feed (never with the image: that has its own URL)."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigil.events import ReviewDecision


class AlertSummary(BaseModel):
    """An alert without its face crop."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID
    event_id: uuid.UUID
    device_id: str
    unit_id: str
    subject_id: str
    watchlist_version: int
    model: str = Field(description="The face model whose embeddings matched (a model id), the version's.")
    distance: float = Field(description="Embedding distance of the match.")
    threshold: float = Field(description="The watchlist's threshold when it matched.")
    quality_score: float
    quality_parts: dict[str, Any]
    frames: int
    first_seen_at: datetime
    raised_at: datetime
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    received_at: datetime
    has_probe: bool = Field(description="Whether the face crop is still stored.")
    probe_url: str = Field(description="Path of the face crop, JPEG.")
    review_decision: ReviewDecision | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    deployment_id: uuid.UUID | None = Field(
        description="The authorised deployment it was raised under; null when no deployment governs its watchlist."
    )
    silent: bool = Field(
        description="Raised in a silent trial deployment: for later review only; nothing may be done on it."
    )


class AlertList(BaseModel):
    """Alerts, newest first."""

    alerts: list[AlertSummary]
