"""Errors of the second verification of a match.

Hierarchy::

    VigilError
    └── CommandError
        └── VerificationError
            ├── ConfirmerCannotVerify    the operator who confirmed the alert cannot be its second person (409)
            ├── IdentityAlreadySettled   a second person verified or refuted the match already (409)
            └── OfficerNotSent           an officer's verification from a unit never sent that alert's order

An alert nobody confirmed, or one dismissed, is refused by the review's errors
(:class:`~vigil.command.reviews.errors.AlertNotConfirmed`), and a silent trial's by
:class:`~vigil.command.reviews.errors.AlertInSilentTrial`. Ingestion records :class:`OfficerNotSent` (and the
others, for an officer's ``alert.verified``) as a rejected event; it never reaches the API.
"""

from vigil.command.errors import CommandError


class VerificationError(CommandError):
    """Base class of second-verification errors.

    Attributes:
        alert_id: the alert concerned.
    """

    def __init__(self, message: str, *, alert_id: str) -> None:
        super().__init__(message)
        self.alert_id = alert_id


class ConfirmerCannotVerify(VerificationError):
    """The person verifying is the one who confirmed the alert: two different people must look."""


class IdentityAlreadySettled(VerificationError):
    """A same-person or not-the-person verification is on record; it is final.

    Attributes:
        verdict: the verdict on record.
        verifier_name: who made it.
    """

    def __init__(self, *, alert_id: str, verdict: str, verifier_name: str) -> None:
        super().__init__(
            f"alert {alert_id} was already verified by {verifier_name} ({verdict.replace('_', ' ')}): a second "
            "verification that settles the identity is final",
            alert_id=alert_id,
        )
        self.verdict = verdict
        self.verifier_name = verifier_name


class OfficerNotSent(VerificationError):
    """An officer's verification names an order their unit was never sent for an incident on that alert."""
