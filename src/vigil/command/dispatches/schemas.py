"""Shapes of dispatch answers in the feed."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from vigil.events import DispatchState


class DispatchStatusReported(BaseModel):
    """Feed payload: a unit answered a dispatch order."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    dispatch_id: uuid.UUID
    device_id: str
    unit_id: str
    status: DispatchState
    reason: str
    at: datetime
