"""The local watchlist file: one SQLite database holding subjects, their templates and the operating threshold.

Every change (an enrolment, an approval, a removal, a new threshold) raises the watchlist's version, so a device
package made from it can be told apart from an older one. Only entries that are approved by a second person and
not expired are *live*: only those are searched or exported.

Every template records the face network that made it (:attr:`Template.model`), and all templates of one file
share one: enrolling faces embedded by another network is refused. Files of format 1, from before templates
recorded their network, are brought to format 2 when opened; their templates were all made by dlib's network.
"""

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

import numpy as np

from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.watchlist.errors import (
    DuplicateSubject,
    ModelMismatch,
    SelfApproval,
    SubjectExpired,
    SubjectNotFound,
    WatchlistFileError,
)
from vigil.watchlist.operating_point import OperatingTable
from vigil.watchlist.subject import Subject, Template, utc_now

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE subjects (
    subject_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    category TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    notes TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT
);
CREATE TABLE templates (
    template_id INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects(subject_id) ON DELETE CASCADE,
    embedding BLOB NOT NULL,
    chip_jpeg BLOB NOT NULL,
    quality REAL NOT NULL,
    model TEXT NOT NULL
);
CREATE INDEX templates_by_subject ON templates(subject_id);
"""

# Format 1 to 2: templates record their face network; those made before were all dlib's.
_UPGRADE_FROM_1 = f"ALTER TABLE templates ADD COLUMN model TEXT NOT NULL DEFAULT '{DLIB_MODEL_ID}'"

_BY_SIZE = "by_size"


@dataclass(frozen=True)
class WatchlistEntry:
    """A subject with its templates."""

    subject: Subject
    templates: tuple[Template, ...]


class WatchlistStore:
    """A watchlist file. Use :meth:`create` or :meth:`open`, then close it (or use it as a context manager)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def create(cls, path: Path, *, name: str, threshold: float | None = None) -> "WatchlistStore":
        """Create a new, empty watchlist file.

        Args:
            path: where.
            name: a name people recognise.
            threshold: the operating distance threshold; None: chosen by the watchlist's size
                (by the operating table of its network, see :meth:`operating_threshold`).

        Raises:
            WatchlistFileError: the file already exists.
        """
        if path.exists():
            raise WatchlistFileError(f"{path} already exists; choose another file or remove it first")
        connection = sqlite3.connect(path)
        with connection:
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("watchlist_id", str(uuid.uuid4())),
                    ("name", name),
                    ("threshold", _BY_SIZE if threshold is None else repr(float(threshold))),
                    ("version", "1"),
                    ("created_at", utc_now().isoformat()),
                ],
            )
        return cls._configured(connection, path)

    @classmethod
    def open(cls, path: Path) -> "WatchlistStore":
        """Open an existing watchlist file.

        A file of format 1 is brought to the current format first (its templates are dlib's).

        Raises:
            WatchlistFileError: the file is missing, not a Vigil watchlist, from a newer Vigil, or of format 1
                and cannot be written to bring it up to date.
        """
        if not path.is_file():
            raise WatchlistFileError(f"no watchlist file at {path}; create one with `vigil watchlist create`")
        connection = sqlite3.connect(path)
        try:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            connection.execute("SELECT value FROM meta WHERE key = 'watchlist_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise WatchlistFileError(f"{path} is not a Vigil watchlist file ({exc})") from exc
        if version == 1:
            try:
                with connection:
                    connection.execute(_UPGRADE_FROM_1)
                    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except sqlite3.DatabaseError as exc:
                connection.close()
                raise WatchlistFileError(
                    f"{path} has watchlist format 1 and cannot be brought to format {SCHEMA_VERSION} ({exc}); "
                    "make the file writable and open it again"
                ) from exc
        elif version != SCHEMA_VERSION:
            connection.close()
            raise WatchlistFileError(f"{path} has watchlist format {version}; this Vigil reads format {SCHEMA_VERSION}")
        return cls._configured(connection, path)

    @classmethod
    def _configured(cls, connection: sqlite3.Connection, path: Path) -> "WatchlistStore":
        connection.execute("PRAGMA foreign_keys = ON")
        return cls(connection, path)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> "WatchlistStore":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise WatchlistFileError(f"{self.path} lacks its {key!r} setting; the file is damaged")
        return str(row[0])

    def _bump_version(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")

    @property
    def watchlist_id(self) -> str:
        """The watchlist's UUID, fixed at creation."""
        return self._meta("watchlist_id")

    @property
    def name(self) -> str:
        """The watchlist's name."""
        return self._meta("name")

    @property
    def version(self) -> int:
        """The version, raised by every change."""
        return int(self._meta("version"))

    @property
    def model(self) -> str | None:
        """The id of the face network every template was made with; None while the watchlist has no template."""
        row = self._db.execute("SELECT model FROM templates LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    @property
    def chosen_threshold(self) -> float | None:
        """The threshold a person set (by calibration or at creation); None when it follows the size."""
        value = self._meta("threshold")
        return None if value == _BY_SIZE else float(value)

    def operating_threshold(self, table: OperatingTable) -> float:
        """The operating distance threshold: a probe at or below it matches.

        Args:
            table: the operating table of the network the file's templates were made with (e.g.
                :func:`vigil.watchlist.operating_point.table_for_embedder`).

        Returns:
            The chosen one, else the table's for the number of live subjects (at least one).

        Raises:
            ModelMismatch: the table is another network's than the templates'.
        """
        model = self.model
        if model is not None and model != table.model_id:
            raise ModelMismatch(
                expected=model,
                got=table.model_id,
                what="the threshold table",
                remedy=f"Give the manifest of {model} (--model) so that its own thresholds apply",
            )
        chosen = self.chosen_threshold
        return chosen if chosen is not None else table.threshold_for_size(len(self.live_entries()))

    def set_threshold(self, threshold: float | None) -> None:
        """Store a new operating threshold (from calibration), or None to follow the watchlist's size again.

        Raises:
            ValueError: the threshold is not in (0, 2].
        """
        if threshold is not None and not 0 < threshold <= 2:
            raise ValueError(f"a distance threshold lies in (0, 2], got {threshold}")
        value = _BY_SIZE if threshold is None else repr(float(threshold))
        with self._db:
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'threshold'", (value,))
            self._bump_version()

    def add(self, subject: Subject, templates: Sequence[Template]) -> None:
        """Add a subject with its templates, awaiting a second person's approval.

        Raises:
            DuplicateSubject: the id is taken.
            ModelMismatch: the templates were made with another face network than the watchlist's, or with
                several.
            ValueError: no templates, or templates of another subject, or an already approved subject.
        """
        if not templates:
            raise ValueError(f"subject {subject.subject_id!r} needs at least one template")
        if any(t.subject_id != subject.subject_id for t in templates):
            raise ValueError(f"every template must belong to subject {subject.subject_id!r}")
        expected = self.model or templates[0].model
        for template in templates:
            if template.model != expected:
                raise ModelMismatch(expected=expected, got=template.model, subject_id=subject.subject_id)
        if subject.approved_by is not None:
            raise ValueError("a new entry cannot arrive approved; a second person approves it afterwards")
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO subjects (subject_id, display_name, category, legal_basis, expires_at, notes,"
                    " proposed_by, proposed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        subject.subject_id,
                        subject.display_name,
                        subject.category.value,
                        subject.legal_basis,
                        subject.expires_at.isoformat(),
                        subject.notes,
                        subject.proposed_by,
                        subject.proposed_at.isoformat(),
                    ),
                )
                self._db.executemany(
                    "INSERT INTO templates (subject_id, embedding, chip_jpeg, quality, model) VALUES (?, ?, ?, ?, ?)",
                    [(t.subject_id, t.embedding.tobytes(), t.chip_jpeg, t.quality, t.model) for t in templates],
                )
                self._bump_version()
        except sqlite3.IntegrityError as exc:
            raise DuplicateSubject(subject.subject_id) from exc

    def approve(self, subject_id: str, *, approver: str, now: datetime | None = None) -> Subject:
        """Approve an entry: a second person confirms it may go live.

        Raises:
            SubjectNotFound: no such subject.
            SelfApproval: the approver proposed the entry.
            SubjectExpired: the entry has already expired.
        """
        now = now or utc_now()
        subject = self.subject(subject_id)
        if approver.strip().casefold() == subject.proposed_by.strip().casefold():
            raise SelfApproval(
                f"{subject.proposed_by} proposed {subject_id!r} and cannot also approve it; "
                "a second person must approve"
            )
        if now >= subject.expires_at:
            raise SubjectExpired(f"{subject_id!r} expired at {subject.expires_at.isoformat()}; it cannot go live")
        with self._db:
            self._db.execute(
                "UPDATE subjects SET approved_by = ?, approved_at = ? WHERE subject_id = ?",
                (approver, now.isoformat(), subject_id),
            )
            self._bump_version()
        return self.subject(subject_id)

    def remove(self, subject_id: str) -> None:
        """Remove a subject and its templates.

        Raises:
            SubjectNotFound: no such subject.
        """
        with self._db:
            removed = self._db.execute("DELETE FROM subjects WHERE subject_id = ?", (subject_id,)).rowcount
            if removed == 0:
                raise SubjectNotFound(subject_id)
            self._bump_version()

    def subject(self, subject_id: str) -> Subject:
        """One subject, without templates.

        Raises:
            SubjectNotFound: no such subject.
        """
        row = self._db.execute(f"{_SELECT_SUBJECTS} WHERE subject_id = ?", (subject_id,)).fetchone()
        if row is None:
            raise SubjectNotFound(subject_id)
        return _subject_from_row(row)

    def subjects(self) -> list[Subject]:
        """Every subject, live or not, by id."""
        return [_subject_from_row(row) for row in self._db.execute(f"{_SELECT_SUBJECTS} ORDER BY subject_id")]

    def template_counts(self) -> dict[str, int]:
        """How many templates each subject has."""
        rows = self._db.execute("SELECT subject_id, COUNT(*) FROM templates GROUP BY subject_id")
        return {str(subject_id): int(count) for subject_id, count in rows}

    def live_entries(self, now: datetime | None = None) -> list[WatchlistEntry]:
        """The entries that may be searched: approved by a second person and not expired at ``now``."""
        now = now or utc_now()
        live = {s.subject_id: s for s in self.subjects() if s.is_live(now)}
        templates: dict[str, list[Template]] = {subject_id: [] for subject_id in live}
        rows = self._db.execute(
            "SELECT subject_id, embedding, chip_jpeg, quality, model FROM templates ORDER BY subject_id, template_id"
        )
        for subject_id, embedding, chip_jpeg, quality, model in rows:
            if subject_id in templates:
                templates[subject_id].append(
                    Template(
                        subject_id=subject_id,
                        embedding=np.frombuffer(embedding, dtype=np.float32).copy(),
                        chip_jpeg=bytes(chip_jpeg),
                        quality=float(quality),
                        model=str(model),
                    )
                )
        return [WatchlistEntry(subject=live[s], templates=tuple(templates[s])) for s in sorted(live)]


_SELECT_SUBJECTS = (
    "SELECT subject_id, display_name, category, legal_basis, expires_at, notes, proposed_by, proposed_at,"
    " approved_by, approved_at FROM subjects"
)


def _subject_from_row(row: tuple[str | None, ...]) -> Subject:
    names = (
        "subject_id",
        "display_name",
        "category",
        "legal_basis",
        "expires_at",
        "notes",
        "proposed_by",
        "proposed_at",
        "approved_by",
        "approved_at",
    )
    return Subject.model_validate(dict(zip(names, row, strict=True)))
