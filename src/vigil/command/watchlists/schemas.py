"""Shapes of governed watchlists in the API and the feed (never embeddings; face chips have their own URLs)."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vigil.command.watchlists.models import SubjectState, VersionReason
from vigil.vision.quality import FaceQuality
from vigil.watchlist.subject import SUBJECT_ID_PATTERN, SubjectCategory


class WatchlistCreate(BaseModel):
    """A new watchlist, usually one per deployment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="A name people recognise, e.g. the operation.")
    threshold: float | None = Field(
        None,
        gt=0,
        le=2,
        description=(
            "Operating distance threshold; null: chosen for each version by its number of live subjects, for 1 "
            "false alert in 10,000 faces (vigil.watchlist.operating_point)."
        ),
    )
    area: dict[str, Any] | None = Field(
        None, description="The deployment's area: a GeoJSON Polygon, or a Feature of one or of a circle."
    )
    starts_at: AwareDatetime | None = Field(None, description="Packages are made from this time on (UTC).")
    ends_at: AwareDatetime | None = Field(None, description="No package is valid after this time (UTC).")


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


class WatchlistOut(BaseModel):
    """A watchlist with its scope and state."""

    model_config = ConfigDict(frozen=True)

    watchlist_id: uuid.UUID
    name: str
    threshold: float | None = Field(description="The threshold a supervisor chose; null: by its size.")
    operating_threshold: float | None = Field(
        description="The threshold its current version's packages carry; null before the first version."
    )
    area: dict[str, Any] | None
    starts_at: datetime | None
    ends_at: datetime | None
    current_version: int | None
    created_by: str
    created_at: datetime
    devices: list[str] = Field(description="Devices carrying it.")
    counts: dict[SubjectState, int] = Field(description="Subjects in each state.")


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


class PackageKeyIssued(BaseModel):
    """Where a device's new package key was written (once; the server keeps it only wrapped)."""

    device_id: str
    key_file: str = Field(description="64 hex characters, the format of `vigil watchlist device-key` files.")
