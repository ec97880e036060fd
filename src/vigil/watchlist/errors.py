"""Errors of the watchlist.

Hierarchy::

    VigilError
    └── WatchlistError
        ├── WatchlistFileError          the watchlist file is missing, not a watchlist, or of a newer format
        ├── SubjectNotFound
        ├── DuplicateSubject
        ├── GovernanceError             a rule of lawful use was broken
        │   ├── SelfApproval            the proposer tried to approve their own entry
        │   └── SubjectExpired          an entry past its expiry date
        ├── EnrolmentRefused            a photo cannot become a template; ``reasons`` says why
        ├── CalibrationError            too little or inconsistent data to calibrate a threshold
        └── PackageError                a device package cannot be used
            ├── PackageCorrupt          not a package, or cut short
            ├── PackageSignatureInvalid the command centre's signature does not verify: tampered or forged
            ├── PackageKeyMismatch      signed correctly, but encrypted for another device's key
            ├── PackageOutdated         older than (or the same as) the version the device holds: a replay
            └── PackageExpired          past its validity
"""

from vigil.errors import VigilError


class WatchlistError(VigilError):
    """Base class of every watchlist error."""


class WatchlistFileError(WatchlistError):
    """The watchlist file cannot be used."""


class SubjectNotFound(WatchlistError):
    """No subject has the given id."""

    def __init__(self, subject_id: str) -> None:
        super().__init__(f"no subject with id {subject_id!r} on this watchlist; `vigil watchlist list` shows them")
        self.subject_id = subject_id


class DuplicateSubject(WatchlistError):
    """A subject with that id already exists."""

    def __init__(self, subject_id: str) -> None:
        super().__init__(f"a subject with id {subject_id!r} is already on this watchlist; choose another id")
        self.subject_id = subject_id


class GovernanceError(WatchlistError):
    """A rule of lawful use was broken."""


class SelfApproval(GovernanceError):
    """The person who proposed an entry may not approve it."""


class SubjectExpired(GovernanceError):
    """The entry is past its expiry date."""


class EnrolmentRefused(WatchlistError):
    """A photo cannot become a template.

    Attributes:
        source: the photo.
        reasons: each reason, for a person.
    """

    def __init__(self, source: str, reasons: list[str]) -> None:
        super().__init__(f"{source}: enrolment refused: {'; '.join(reasons)}")
        self.source = source
        self.reasons = reasons


class CalibrationError(WatchlistError):
    """Too little or inconsistent data to calibrate a threshold."""


class PackageError(WatchlistError):
    """A device package cannot be used."""


class PackageCorrupt(PackageError):
    """The bytes are not a Vigil watchlist package, or it is cut short."""


class PackageSignatureInvalid(PackageError):
    """The command centre's signature does not verify: the package was altered or forged."""


class PackageKeyMismatch(PackageError):
    """The package is genuine but was encrypted for another device."""


class PackageOutdated(PackageError):
    """The package is not newer than the one the device holds (a replay or a stale download)."""


class PackageExpired(PackageError):
    """The package is past its validity."""
