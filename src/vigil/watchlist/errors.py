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
        ├── ModelMismatch               embeddings of one face network met a gallery or device of another
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


class ModelMismatch(WatchlistError):
    """Embeddings of one face network were to be compared with another's, whose distances mean nothing.

    Attributes:
        expected: the id of the model the watchlist was made with.
        got: the id of the model offered against it (a probe's, a template's, a device's).
    """

    def __init__(
        self,
        *,
        expected: str,
        got: str,
        what: str = "the probe",
        subject_id: str | None = None,
        remedy: str | None = None,
    ) -> None:
        """Say who offers ``got`` against a watchlist made with ``expected``, and what to do.

        Args:
            expected: the watchlist's model id.
            got: the model id offered against it.
            what: who offers it, for the message: "the probe", "this device".
            subject_id: set when the odd one out is a template of this subject among the watchlist's own.
            remedy: what to do, where the default advice (re-embed, or run the device with the watchlist's model)
                does not fit.
        """
        if subject_id is not None:
            message = (
                f"subject {subject_id!r} has a template made with face model {got}, but the watchlist's are made "
                f"with {expected}: one watchlist holds one model's templates. Enrol the subject with {expected}, or "
                f"re-embed the whole watchlist with {got} (`vigil watchlist reembed`)"
            )
        else:
            message = (
                f"{what} uses face model {got}, but the watchlist was made with {expected}: embeddings of two models "
                "cannot be compared. "
                + (
                    remedy
                    or f"Re-enrol or re-embed the watchlist with {got} (`vigil watchlist reembed`), or run the device "
                    f"with {expected}, the model the watchlist was made with"
                )
            )
        super().__init__(message)
        self.expected = expected
        self.got = got


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
