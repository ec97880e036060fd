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
            ├── WatchlistModelMismatch      the watchlist was made with another face model than the server's (409)
            ├── AlreadyOnModel              re-embedding asked for the model the watchlist is made with (409)
            ├── ChipUnusable                a stored face chip cannot be re-embedded (500: damaged data)
            ├── LooserThresholdRefused      a threshold looser than the one by size, without a reason (422)
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


class WatchlistModelMismatch(GovernanceError):
    """The watchlist's templates were made with another face model than the one the server runs now.

    Embeddings of two models cannot be compared, so nothing is enrolled onto the watchlist until it is re-embedded
    with the server's model.

    Attributes:
        watchlist_id: the watchlist.
        watchlist_model: the model id its templates are made with.
        server_model: the model id the server's face engine runs.
    """

    def __init__(self, *, watchlist_id: str, watchlist_model: str, server_model: str) -> None:
        super().__init__(
            f"watchlist {watchlist_id} is made with face model {watchlist_model}, but this server runs "
            f"{server_model}: their embeddings cannot be compared. Re-embed the watchlist with the server's model "
            f"first (`vigil watchlist reembed --watchlist {watchlist_id}`, or POST "
            f"/api/v1/watchlists/{watchlist_id}/reembed as a supervisor), then enrol again"
        )
        self.watchlist_id = watchlist_id
        self.watchlist_model = watchlist_model
        self.server_model = server_model


class AlreadyOnModel(GovernanceError):
    """Re-embedding was asked for with the model the watchlist is made with already.

    Attributes:
        watchlist_id: the watchlist.
        model: the model id of both.
    """

    def __init__(self, *, watchlist_id: str, model: str) -> None:
        super().__init__(
            f"watchlist {watchlist_id} is made with face model {model} already, the server's: nothing to re-embed"
        )
        self.watchlist_id = watchlist_id
        self.model = model


class ChipUnusable(GovernanceError):
    """A stored face chip cannot be decoded into the 150 px chip the embedder takes (damaged data).

    Attributes:
        template_id: the template whose chip it is.
    """

    def __init__(self, message: str, *, template_id: int) -> None:
        super().__init__(message)
        self.template_id = template_id


class LooserThresholdRefused(GovernanceError):
    """A chosen threshold is looser than the one measured for the watchlist's size and model, and no reason was given.

    Attributes:
        threshold: the threshold chosen.
        size_threshold: the one for the watchlist's size and model.
        watchlist_size: the number of people it was measured for.
    """

    def __init__(self, *, threshold: float, size_threshold: float, watchlist_size: int, expected: str) -> None:
        super().__init__(
            f"threshold {threshold:.3f} is looser than {size_threshold:.3f}, the threshold for this watchlist's size "
            f"and face model, and would raise more false alerts. {expected} at {size_threshold:.3f}. Choose "
            f"{size_threshold:.3f} or less, or give looser_threshold_reason (at least 10 characters: it is audited "
            "and printed on the public report)"
        )
        self.threshold = threshold
        self.size_threshold = size_threshold
        self.watchlist_size = watchlist_size


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
