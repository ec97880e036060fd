"""What a retention run did (ids and counts only: never an image)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class RetentionReport(BaseModel):
    """One run of the retention policy."""

    ran_at: datetime
    actor: str
    dismissed_probes_deleted: list[uuid.UUID] = Field(description="Alerts whose crop went: dismissed long enough.")
    confirmed_probes_deleted: list[uuid.UUID] = Field(
        description="Alerts whose crop went: confirmed longer than the case period, held by nothing."
    )
    held: list[uuid.UUID] = Field(description="Confirmed alerts past the case period kept because a hold needs them.")
    subjects_cleared: list[str] = Field(
        description="Subjects (watchlist_id/subject_id) removed or expired long enough whose templates went."
    )
    packages_deleted: int = Field(description="Device packages past their validity, deleted.")
    rejected_events_deleted: int = Field(0, description="Rejected events (dead letters) older than their period.")
