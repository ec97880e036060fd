"""Errors of the alert review.

Hierarchy::

    VigilError
    └── CommandError
        └── ReviewError
            ├── ReviewerRoleMissing      reviewing needs the operator or supervisor role (403)
            ├── AlertAlreadyReviewed     a person decided this alert already (409)
            ├── ReasonRequired           a dismissal needs a reason (422)
            ├── AlertNotConfirmed        only a confirmed alert may be acted on (409)
            │   ├── AlertUnreviewed      nobody has reviewed it yet
            │   └── AlertDismissed       a person dismissed it
            └── AlertInSilentTrial       a silent trial's alert is for review only: nothing may be done on it (409)
"""

from vigil.command.errors import CommandError


class ReviewError(CommandError):
    """Base class of review errors.

    Attributes:
        alert_id: the alert concerned.
    """

    def __init__(self, message: str, *, alert_id: str) -> None:
        super().__init__(message)
        self.alert_id = alert_id


class ReviewerRoleMissing(ReviewError):
    """The person deciding holds neither the operator nor the supervisor role."""


class AlertAlreadyReviewed(ReviewError):
    """A person has decided this alert already; a decision is final.

    Attributes:
        decision: the decision on record.
        reviewed_by: who made it.
    """

    def __init__(self, *, alert_id: str, decision: str, reviewed_by: str) -> None:
        super().__init__(
            f"alert {alert_id} was already {decision} by {reviewed_by}; a review is decided once",
            alert_id=alert_id,
        )
        self.decision = decision
        self.reviewed_by = reviewed_by


class ReasonRequired(ReviewError):
    """A dismissal was sent without a reason."""


class AlertNotConfirmed(ReviewError):
    """The alert was not confirmed by a person, so nothing may be started from it."""


class AlertUnreviewed(AlertNotConfirmed):
    """Nobody has reviewed the alert yet."""


class AlertDismissed(AlertNotConfirmed):
    """A person dismissed the alert."""


class AlertRefuted(AlertNotConfirmed):
    """A second person found the confirmed match was not the person: a false alert, never acted on again."""


class AlertInSilentTrial(ReviewError):
    """The alert was made in a silent trial deployment: reviewed for the trial's figures, never acted on.

    Attributes:
        deployment_id: the silent deployment.
    """

    def __init__(self, *, alert_id: str, deployment_id: str) -> None:
        super().__init__(
            f"alert {alert_id} was made in silent trial deployment {deployment_id}: matches in a silent trial are "
            "for review only; nothing may be done on them (no incident, no dispatch)",
            alert_id=alert_id,
        )
        self.deployment_id = deployment_id
