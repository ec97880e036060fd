"""Writing the feed: each accepted event adds one entry in the same transaction as its effect."""

import enum
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from vigil.command.feed.models import FeedEntry


class FeedKind(enum.StrEnum):
    """What a feed entry reports."""

    UNIT_POSITION = "unit.position"
    ALERT_RAISED = "alert.raised"
    DEVICE_STATUS = "device.status"
    DISPATCH_STATUS = "dispatch.status"


def append_entry(*, session: Session, kind: FeedKind, payload: BaseModel, now: datetime) -> None:
    """Add an entry; it becomes visible when the caller commits."""
    session.add(FeedEntry(kind=kind.value, payload=payload.model_dump(mode="json"), created_at=now))
