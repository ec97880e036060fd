"""Watchlists, their subjects and templates, their versions, and the packages made for each device.

A watchlist is one deployment's list (UK forces build one per deployment), optionally scoped to an area and a
time window. Subjects are proposed by one person and go live only when a supervisor who did not propose them
approves. Each approval, removal, expiry or renewal makes a new *version*; version numbers are drawn from one
sequence for the whole server, so an alert's ``watchlist_version`` names its watchlist, and a device moved to
another watchlist always receives a higher number than the one it holds. Rows are never deleted: a removed or
expired subject keeps its record (who proposed, approved, removed it and why) and only its templates are
deleted once the retention period has passed.
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId, JsonDocument, string_enum
from vigil.watchlist.subject import SubjectCategory


class SubjectState(enum.StrEnum):
    """Where a subject stands."""

    PROPOSED = "proposed"
    LIVE = "live"
    REMOVED = "removed"
    EXPIRED = "expired"


class VersionReason(enum.StrEnum):
    """Why a new watchlist version was made."""

    APPROVAL = "approval"
    REMOVAL = "removal"
    EXPIRY = "expiry"
    RENEWAL = "renewal"
    MODEL_CHANGE = "model_change"
    """The watchlist was re-embedded with another face model (:mod:`vigil.command.watchlists.reembedding`)."""
    THRESHOLD_CHANGE = "threshold_change"
    """A supervisor chose another threshold (:mod:`vigil.command.watchlists.thresholds`)."""


class ThresholdBasis(enum.StrEnum):
    """Which threshold a version runs at (:mod:`vigil.command.watchlists.thresholds`)."""

    SIZE = "size"
    """The threshold measured for its model and number of people."""
    STRICTER = "stricter"
    """A supervisor's chosen threshold, stricter than the one by size."""
    LOOSER = "looser"
    """A supervisor's chosen threshold, looser than the one by size, with the reason they gave."""


class Watchlist(Base):
    """One deployment's watchlist and its scope."""

    __tablename__ = "watchlists"

    watchlist_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    threshold: Mapped[float | None]  # chosen by a supervisor; None: by the live subjects' number, per version
    looser_threshold_reason: Mapped[str | None] = mapped_column(Text)  # why the chosen one may be looser than by size
    model: Mapped[str] = mapped_column(String(120))  # the face model its templates are made with (a model id)
    area: Mapped[dict[str, Any] | None]  # GeoJSON of the deployment's area, if scoped
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    current_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class WatchlistSubject(Base):
    """A subject on one watchlist, from proposal to removal or expiry."""

    __tablename__ = "watchlist_subjects"
    __table_args__ = (UniqueConstraint("watchlist_id", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    watchlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("watchlists.watchlist_id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[SubjectCategory] = mapped_column(string_enum(SubjectCategory, name="subject_category"))
    legal_basis: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    notes: Mapped[str] = mapped_column(Text)
    state: Mapped[SubjectState] = mapped_column(string_enum(SubjectState, name="subject_state"), index=True)
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_by_name: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_by_name: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(200))
    end_reason: Mapped[str | None] = mapped_column(Text)
    templates_deleted_at: Mapped[datetime | None]


class WatchlistTemplate(Base):
    """One enrolled face: the embedding and aligned chip (never the photo), and the quality verdict it passed."""

    __tablename__ = "watchlist_templates"

    id: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    subject_row_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("watchlist_subjects.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))  # the photo's file name, for people
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # (model's embedding size,) float32, little-endian
    model: Mapped[str] = mapped_column(String(120))  # the face model that made the embedding (a model id)
    chip_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    quality_score: Mapped[float]
    quality: Mapped[dict[str, Any]]  # the face engine's verdict, every part


class WatchlistVersion(Base):
    """One version of a watchlist: which subjects it holds, why it was made, and until when its packages hold."""

    __tablename__ = "watchlist_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    watchlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("watchlists.watchlist_id"), index=True)
    reason: Mapped[VersionReason] = mapped_column(string_enum(VersionReason, name="version_reason"))
    subject_id: Mapped[str | None] = mapped_column(String(64))  # the subject whose change made it
    made_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    subject_ids: Mapped[list[str]] = mapped_column(JsonDocument)  # the live subjects it holds, by id
    threshold: Mapped[float]  # the operating threshold its packages carry
    model: Mapped[str] = mapped_column(String(120))  # the face model of its templates, which its packages name
    # How the threshold was chosen (null for versions made before revision 0010): the one for its model and size,
    # the watchlist's chosen one then, which of them applies, the reason a looser one was allowed, and what the
    # threshold was expected to do (vigil.command.watchlists.schemas.ExpectationOut, as JSON).
    size_threshold: Mapped[float | None]
    chosen_threshold: Mapped[float | None]
    threshold_basis: Mapped[ThresholdBasis | None] = mapped_column(string_enum(ThresholdBasis, name="threshold_basis"))
    looser_threshold_reason: Mapped[str | None] = mapped_column(Text)
    expected: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)


class WatchlistDevice(Base):
    """Which watchlist a device carries (one at a time)."""

    __tablename__ = "watchlist_devices"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), primary_key=True)
    watchlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("watchlists.watchlist_id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime]


class DevicePackageKey(Base):
    """A device's AES-256 package key, encrypted under the server's key-wrapping key."""

    __tablename__ = "device_package_keys"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class DevicePackage(Base):
    """The newest package made for a device: signed, encrypted under its key, announced with this sha256."""

    __tablename__ = "device_packages"
    __table_args__ = (Index("ix_device_packages_version", "version"),)

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"), primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("watchlist_versions.version"))
    sha256: Mapped[str] = mapped_column(String(64))
    package: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime]
