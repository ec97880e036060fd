"""A watchlist subject: who they are, why they may lawfully be searched for, until when, and who approved it."""

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vigil.vision.face_model import MODEL_ID_PATTERN

SUBJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

MIN_EMBEDDING_SIZE = 2
MAX_EMBEDDING_SIZE = 4096


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
    """One enrolled face of a subject: its embedding, the network that made it, and its aligned chip.

    Never the original photo. The chip is enough to re-embed the template with another network.

    Attributes:
        subject_id: whose face it is.
        embedding: (d,) float32 embedding, d the model's embedding size (2–4,096; 128 for dlib's).
        chip_jpeg: the aligned 150×150 chip, JPEG-encoded, shown to officers and reviewers beside a live match.
        quality: the face's overall quality score at enrolment, 0–1.
        model: the id of the face network that made the embedding
            (:attr:`~vigil.vision.face_model.ModelIdentity.model_id`).
    """

    subject_id: str
    embedding: npt.NDArray[np.float32]
    chip_jpeg: bytes
    quality: float
    model: str

    def __post_init__(self) -> None:
        shape, dtype = self.embedding.shape, self.embedding.dtype
        if len(shape) != 1 or not MIN_EMBEDDING_SIZE <= shape[0] <= MAX_EMBEDDING_SIZE or dtype != np.float32:
            raise ValueError(
                f"a template embedding is (d,) float32 with d from {MIN_EMBEDDING_SIZE} to {MAX_EMBEDDING_SIZE:,}, "
                f"got {shape} {dtype}"
            )
        if re.fullmatch(MODEL_ID_PATTERN, self.model) is None:
            raise ValueError(f"a template's model is an id like 'name:version:0123456789ab', got {self.model!r}")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
