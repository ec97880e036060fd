"""Shapes of governed watchlists in the API and the feed (never embeddings; face chips have their own URLs)."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from vigil.command.watchlists.models import SubjectState, ThresholdBasis, VersionReason
from vigil.vision.quality import FaceQuality
from vigil.watchlist.subject import SUBJECT_ID_PATTERN, SubjectCategory

LooserThresholdReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)]
"""Why a chosen threshold may be looser than the one by size: at least 10 characters besides spaces."""


class WatchlistCreate(BaseModel):
    """A new watchlist, usually one per deployment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="A name people recognise, e.g. the operation.")
    threshold: float | None = Field(
        None,
        gt=0,
        le=2,
        description=(
            "Operating distance threshold; null: chosen for each version by its face model and number of live "
            "subjects, for 1 false alert in 10,000 faces (vigil.watchlist.operating_point). A chosen threshold "
            "stricter than that applies; a looser one only with looser_threshold_reason."
        ),
    )
    looser_threshold_reason: LooserThresholdReason | None = Field(
        None,
        description=(
            "Why the chosen threshold may be looser than the one for the watchlist's size and model (more false "
            "alerts): audited and printed on the public report. Without it a looser threshold is refused, and one "
            "that becomes looser as the watchlist grows gives way to the one by size."
        ),
    )
    area: dict[str, Any] | None = Field(
        None, description="The deployment's area: a GeoJSON Polygon, or a Feature of one or of a circle."
    )
    starts_at: AwareDatetime | None = Field(None, description="Packages are made from this time on (UTC).")
    ends_at: AwareDatetime | None = Field(None, description="No package is valid after this time (UTC).")

    @model_validator(mode="after")
    def _reason_needs_threshold(self) -> "WatchlistCreate":
        if self.looser_threshold_reason is not None and self.threshold is None:
            raise ValueError("looser_threshold_reason goes with a chosen threshold; without one the size decides")
        return self


class ThresholdChange(BaseModel):
    """``PUT /api/v1/watchlists/{id}/threshold``: another chosen threshold, or none (by size)."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        description="Operating distance threshold; null: by the watchlist's face model and size.", gt=0, le=2
    )
    looser_threshold_reason: LooserThresholdReason | None = Field(
        None,
        description="Why it may be looser than the one by size (audited, printed on the public report).",
    )

    @model_validator(mode="after")
    def _reason_needs_threshold(self) -> "ThresholdChange":
        if self.looser_threshold_reason is not None and self.threshold is None:
            raise ValueError("looser_threshold_reason goes with a chosen threshold; without one the size decides")
        return self


class ExpectationOut(BaseModel):
    """What a threshold is expected to do on a watchlist of some size (vigil.watchlist.operating_point)."""

    model_config = ConfigDict(frozen=True)

    watchlist_size: int = Field(description="People on the watchlist (an empty one counts as one).")
    threshold: float = Field(description="The distance threshold.")
    false_alerts_per_10k: float | None = Field(description="Passers-by's faces alerted per 10,000; null: not measured.")
    false_alerts_at_most: bool = Field(description="The false alerts are an upper bound, not a measurement.")
    true_match_rate: float | None = Field(
        description="Share of the listed people's other photos found (single photos); null: not measured."
    )
    true_match_at_least: bool = Field(description="The share found is a rough lower bound, not a measurement.")
    measured: bool = Field(description="Both figures were measured at this threshold for this size (interpolated).")
    note: str = Field(description="Where the figures come from.")
    sentence: str = Field(description="The expectation in one sentence, as the approver and the public report read it.")


class ThresholdOut(BaseModel):
    """The threshold a watchlist runs at with some number of people, and how it was chosen."""

    model_config = ConfigDict(frozen=True)

    watchlist_size: int = Field(description="People on the watchlist.")
    threshold: float = Field(description="The threshold that applies.")
    size_threshold: float = Field(description="The one measured for its face model and size.")
    chosen_threshold: float | None = Field(description="The one a supervisor chose; null: none.")
    basis: ThresholdBasis = Field(description="Which applies: by size, a stricter chosen one, a looser one.")
    looser_threshold_reason: str | None = Field(description="Why a looser chosen one may apply.")
    expected: ExpectationOut


class QualityVerdict(BaseModel):
    """The face engine's verdict on an enrolled face, shown to the approver."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="The photo it came from.")
    chip_url: str | None = Field(description="The aligned face chip (JPEG); null once deleted by retention.")
    quality: FaceQuality


class SubjectProposal(BaseModel):
    """What the proposer gives about a subject (the photos travel beside it)."""

    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(pattern=SUBJECT_ID_PATTERN, description="Stable id, e.g. a case reference.")
    display_name: str = Field(min_length=1, max_length=200, description="Name shown to officers.")
    category: SubjectCategory
    legal_basis: str = Field(min_length=3, max_length=2000, description="The power or order relied on.")
    expires_at: AwareDatetime = Field(description="When the entry stops being searched for (UTC).")
    notes: str = Field("", max_length=4000, description="Notes for officers: risks, how to approach.")


class Photo(BaseModel):
    """One photo of the subject, base64 (JPEG, PNG or WebP); it is not kept: only its template is."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The file's name, for messages and the record.")
    image_base64: str = Field(min_length=4, description="The file's bytes, base64.")


class ProposalRequest(BaseModel):
    """``POST /api/v1/watchlists/{id}/subjects``."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectProposal
    photos: list[Photo] = Field(min_length=1, description="Each must show exactly one face that passes the bar.")


class RemovalRequest(BaseModel):
    """Removing a subject (or declining a proposal)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000, description="Why, for the record.")


class DeviceAssignment(BaseModel):
    """Which watchlist a device carries."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=64)


class SubjectOut(BaseModel):
    """A subject and its record."""

    model_config = ConfigDict(frozen=True)

    watchlist_id: uuid.UUID
    subject_id: str
    display_name: str
    category: SubjectCategory
    legal_basis: str
    expires_at: datetime
    notes: str
    state: SubjectState
    proposed_by: str
    proposed_by_name: str
    proposed_at: datetime
    approved_by: str | None
    approved_by_name: str | None
    approved_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    templates: list[QualityVerdict]


class VersionOut(BaseModel):
    """One watchlist version."""

    model_config = ConfigDict(frozen=True)

    version: int
    watchlist_id: uuid.UUID
    reason: VersionReason
    subject_id: str | None
    made_by: str
    created_at: datetime
    valid_until: datetime = Field(description="No package of this version is valid after it (UTC).")
    subject_ids: list[str]
    threshold: float = Field(description="The operating threshold its packages carry.")
    model: str = Field(description="The face model of its templates (a model id), which its packages name.")
    size_threshold: float | None = Field(
        description="The threshold measured for its model and size; null for versions made before it was recorded."
    )
    chosen_threshold: float | None = Field(description="The watchlist's chosen threshold then; null: none.")
    threshold_basis: ThresholdBasis | None = Field(description="Which applied; null before it was recorded.")
    looser_threshold_reason: str | None = Field(description="Why a looser chosen threshold applied.")
    expected: ExpectationOut | None = Field(description="What its threshold was expected to do at its size.")


class WatchlistOut(BaseModel):
    """A watchlist with its scope and state."""

    model_config = ConfigDict(frozen=True)

    watchlist_id: uuid.UUID
    name: str
    threshold: float | None = Field(description="The threshold a supervisor chose; null: by its size.")
    operating_threshold: float | None = Field(
        description="The threshold its current version's packages carry; null before the first version."
    )
    model: str = Field(description="The face model its templates are made with (a model id).")
    looser_threshold_reason: str | None = Field(
        description="Why its chosen threshold may be looser than the one for its size and model; null: none given."
    )
    expected: ExpectationOut | None = Field(
        description="What its current version's threshold is expected to do; null before the first version."
    )
    area: dict[str, Any] | None
    starts_at: datetime | None
    ends_at: datetime | None
    current_version: int | None
    created_by: str
    created_at: datetime
    devices: list[str] = Field(description="Devices carrying it.")
    counts: dict[SubjectState, int] = Field(description="Subjects in each state.")


class ApprovalOut(SubjectOut):
    """An approved subject, and what the version it went live in is expected to do."""

    version: int = Field(description="The version it went live in.")
    threshold: float = Field(description="The version's operating threshold.")
    size_threshold: float = Field(description="The threshold measured for its face model and size.")
    threshold_basis: ThresholdBasis = Field(description="Which applies: by size, a stricter or a looser chosen one.")
    expected: ExpectationOut = Field(description="What the version's threshold is expected to do at its size.")


class WatchlistList(BaseModel):
    """Every watchlist, newest first."""

    watchlists: list[WatchlistOut]


class WatchlistDetail(BaseModel):
    """A watchlist, every subject and every version."""

    watchlist: WatchlistOut
    subjects: list[SubjectOut]
    versions: list[VersionOut]
    packages_enabled: bool = Field(description="Whether the server has the keys to make device packages.")


class WatchlistVersionMade(BaseModel):
    """Feed payload: a new watchlist version was made."""

    model_config = ConfigDict(frozen=True)

    version: int
    watchlist_id: uuid.UUID
    watchlist_name: str
    reason: VersionReason
    subject_id: str | None
    made_by: str
    subjects: int
    valid_until: datetime


class Reembedded(BaseModel):
    """What re-embedding a watchlist with the server's face model did."""

    model_config = ConfigDict(frozen=True)

    watchlist_id: uuid.UUID
    from_model: str = Field(description="The model its templates were made with.")
    to_model: str = Field(description="The server's model, which they are made with now.")
    templates_reembedded: int = Field(description="Templates embedded again from their stored face chips.")
    templates_without_chip: int = Field(
        description="Templates whose chip (and embedding) retention had deleted: nothing to embed again."
    )
    subjects_without_templates: list[str] = Field(
        description="Proposed or live subjects left with no template of the new model: no device searches for them "
        "until they are proposed again with new photos."
    )
    version: int | None = Field(
        description="The version made with the new model (reason model_change); null when the watchlist had none."
    )


class PackageKeyIssued(BaseModel):
    """Where a device's new package key was written (once; the server keeps it only wrapped)."""

    device_id: str
    key_file: str = Field(description="64 hex characters, the format of `vigil watchlist device-key` files.")
