"""A watchlist subject: who they are, why they may lawfully be searched for, until when, and who approved it."""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SUBJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class SubjectCategory(enum.StrEnum):
    """Why a person is on the watchlist; officers see it with every alert."""

    WANTED_ON_WARRANT = "wanted_on_warrant"
    WANTED_SUSPECT = "wanted_suspect"
    MISSING_PERSON = "missing_person"
    VULNERABLE_PERSON = "vulnerable_person"
    COURT_ORDER = "court_order"


class Subject(BaseModel):
    """A watchlist entry, without its templates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_id: str = Field(pattern=SUBJECT_ID_PATTERN, description="Stable id, e.g. a case reference.")
    display_name: str = Field(min_length=1, max_length=200, description="Name shown to officers.")
    category: SubjectCategory = Field(description="Why the person is on the watchlist.")
    legal_basis: str = Field(min_length=3, max_length=2000, description="Reference to the power or order relied on.")
    expires_at: AwareDatetime = Field(description="When the entry stops being searched for (UTC).")
    notes: str = Field("", max_length=4000, description="Notes for officers: risks, how to approach.")
    proposed_by: str = Field(min_length=1, max_length=200, description="Who proposed the entry.")
    proposed_at: AwareDatetime = Field(description="When it was proposed (UTC).")
    approved_by: str | None = Field(None, description="The second person who approved it; null until then.")
    approved_at: AwareDatetime | None = Field(None, description="When it was approved (UTC).")

    def is_live(self, now: datetime) -> bool:
        """True when the entry is approved and not expired at ``now`` (timezone-aware)."""
        return self.approved_by is not None and now < self.expires_at

    def status(self, now: datetime) -> str:
        """``live``, ``awaiting approval`` or ``expired``, for people."""
        if now >= self.expires_at:
            return "expired"
        return "live" if self.approved_by is not None else "awaiting approval"


@dataclass(frozen=True)
class Template:
    """One enrolled face of a subject: its embedding and aligned chip, never the original photo.

    Attributes:
        subject_id: whose face it is.
        embedding: (128,) float32 embedding.
        chip_jpeg: the aligned 150×150 chip, JPEG-encoded, shown to officers and reviewers beside a live match.
        quality: the face's overall quality score at enrolment, 0–1.
    """

    subject_id: str
    embedding: npt.NDArray[np.float32]
    chip_jpeg: bytes
    quality: float

    def __post_init__(self) -> None:
        if self.embedding.shape != (128,) or self.embedding.dtype != np.float32:
            raise ValueError(
                f"a template embedding is (128,) float32, got {self.embedding.shape} {self.embedding.dtype}"
            )


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
