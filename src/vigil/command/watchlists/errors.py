"""Errors of watchlist governance on the server.

Hierarchy::

    VigilError
    └── CommandError
        └── GovernanceError
            ├── UnknownWatchlist            no watchlist has this id (404)
            ├── UnknownSubject              the watchlist has no subject with this id (404)
            ├── SubjectIdTaken              the watchlist already has a subject with this id (409)
            ├── TwoPersonRuleBroken         the approver proposed the subject, or lacks the supervisor role (403)
            ├── SubjectStateConflict        the subject is not in a state that allows this (409)
            ├── ProposalRefused             a proposal cannot be accepted: its fields or photos (422)
            ├── InvalidDeploymentScope      the area or time window is not usable (422)
            ├── PackagesNotConfigured       the signing or key-wrapping key is not configured (503)
            ├── PackageKeyExists            the device has a package key already (409)
            └── NoPackage                   no package of that version was made for the device (404)
"""

from vigil.command.errors import CommandError


class GovernanceError(CommandError):
    """Base class of watchlist governance errors."""


class UnknownWatchlist(GovernanceError):
    """No watchlist has this id.

    Attributes:
        watchlist_id: the id asked for.
    """

    def __init__(self, watchlist_id: str) -> None:
        super().__init__(f"no watchlist {watchlist_id}; GET /api/v1/watchlists lists them")
        self.watchlist_id = watchlist_id


class UnknownSubject(GovernanceError):
    """The watchlist has no subject with this id.

    Attributes:
        subject_id: the id asked for.
    """

    def __init__(self, subject_id: str) -> None:
        super().__init__(f"this watchlist has no subject {subject_id!r}")
        self.subject_id = subject_id


class SubjectIdTaken(GovernanceError):
    """The watchlist already has a subject with this id (removed and expired ones keep theirs)."""

    def __init__(self, subject_id: str) -> None:
        super().__init__(
            f"this watchlist already has a subject {subject_id!r} (ids of removed or expired subjects stay taken, so "
            "their records stay unambiguous); choose another id"
        )
        self.subject_id = subject_id


class TwoPersonRuleBroken(GovernanceError):
    """The approver proposed the subject, or is not a supervisor."""


class SubjectStateConflict(GovernanceError):
    """The subject is not in a state that allows this action.

    Attributes:
        subject_id: the subject.
        state: its state.
    """

    def __init__(self, message: str, *, subject_id: str, state: str) -> None:
        super().__init__(message)
        self.subject_id = subject_id
        self.state = state


class ProposalRefused(GovernanceError):
    """A proposal cannot be accepted.

    Attributes:
        problems: each problem, for a person (a photo's name and why it was refused, or a field).
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"the proposal was refused: {'; '.join(problems)}")
        self.problems = problems


class InvalidDeploymentScope(GovernanceError):
    """The deployment's area or time window is not usable."""


class PackagesNotConfigured(GovernanceError):
    """The signing key or the key-wrapping key is not configured."""


class PackageKeyExists(GovernanceError):
    """The device has a package key already.

    Attributes:
        device_id: the device.
    """

    def __init__(self, device_id: str) -> None:
        super().__init__(
            f"device {device_id!r} has a package key already; pass --replace to issue a new one (the old key stops "
            "opening new packages)"
        )
        self.device_id = device_id


class NoPackage(GovernanceError):
    """No package of that version was made for the device.

    Attributes:
        device_id: the device.
        version: the version asked for.
    """

    def __init__(self, message: str, *, device_id: str, version: int | None) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.version = version
