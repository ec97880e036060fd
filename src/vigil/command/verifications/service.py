"""Second verifications of confirmed matches: recording them, and where each identification stands.

The operator's confirmation of an alert is the match's first verification; the second is made by another
person in the control room (:func:`verify`, through the API) or by the officer sent to the match, comparing the
camera's crop with the watchlist photo on the handset (:func:`record_officer_verification`, from an
``alert.verified`` event). ``same_person`` and ``not_the_person`` settle the identity and are final;
``cannot_tell`` records the look and settles nothing. A ``not_the_person`` verification makes the alert a false
one, as a dismissal does.

Rules:

* **Two different people.** The operator who confirmed the alert cannot verify it (:class:`ConfirmerCannotVerify`).
* **Only a live, confirmed match.** An alert not confirmed, dismissed, or made in a silent trial is refused.
* **An officer verifies only what they were sent.** Their unit must have been sent the order they name, for an
  incident on that alert (:func:`check_officer_verification`).
* **Every verification is audited and on the feed** (``alert.verified``). Sending the units the verified identity
  (a new revision of their orders) is the incidents' work
  (:func:`~vigil.command.incidents.service.send_verified_identity`), which the callers run after these.

The caller commits.
"""

import logging
import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.chain import DEVICE_ACTOR_PREFIX
from vigil.command.audit.service import record_action, record_by
from vigil.command.errors import UnknownAlert
from vigil.command.feed.service import FeedKind, append_entry, open_feed_for_writing
from vigil.command.incidents.models import DispatchOrderRecord, Incident
from vigil.command.reviews.errors import AlertDismissed, AlertInSilentTrial, AlertUnreviewed
from vigil.command.units.models import Unit
from vigil.command.verifications.errors import ConfirmerCannotVerify, IdentityAlreadySettled, OfficerNotSent
from vigil.command.verifications.models import AlertVerification, VerifierKind
from vigil.command.verifications.schemas import (
    IdentityOut,
    IdentityState,
    VerificationOut,
    VerificationRecord,
    VerificationRequest,
)
from vigil.events import AlertVerified, IdentityVerdict, ReviewDecision

_log = logging.getLogger(__name__)

SETTLING = frozenset({IdentityVerdict.SAME_PERSON, IdentityVerdict.NOT_THE_PERSON})
"""Verdicts that settle an identity, and are final."""


def identity_of(*, session: Session, alert_id: uuid.UUID) -> IdentityOut | None:
    """Where an alert's identification stands; None while nobody confirmed it (unreviewed or dismissed)."""
    row = session.execute(
        select(Alert.review_decision, Alert.reviewer_name, Alert.reviewed_by, Alert.reviewed_at).where(
            Alert.alert_id == alert_id
        )
    ).first()
    if row is None:
        return None
    decision, reviewer_name, reviewed_by, reviewed_at = row
    if decision is not ReviewDecision.CONFIRMED or reviewed_at is None:
        return None
    settled = _settling(session, alert_id)
    return IdentityOut(
        state=_state_of(settled),
        confirmed_by=reviewer_name or reviewed_by or "unknown",
        confirmed_at=reviewed_at,
        verified_by=settled.verifier_name if settled is not None else None,
        verified_at=settled.verified_at if settled is not None else None,
        verifier_kind=settled.verifier_kind if settled is not None else None,
    )


def identity_of_incident(*, session: Session, incident: Incident) -> IdentityOut | None:
    """Whether two people verified the match an incident acts on; None for an officer's emergency.

    An incident pursues one subject through confirmed sightings: its identity is its target's sighting's when a
    second person settled that one, else its opening alert's when settled, else its target's (awaiting).
    """
    alert_ids = list(dict.fromkeys(i for i in (incident.target_alert_id, incident.alert_id) if i is not None))
    identities = (identity_of(session=session, alert_id=alert_id) for alert_id in alert_ids)
    found = [identity for identity in identities if identity is not None]
    settled = [identity for identity in found if identity.state is not IdentityState.AWAITING_SECOND]
    return settled[0] if settled else (found[0] if found else None)


def verifications_of(*, session: Session, alert_id: uuid.UUID) -> list[VerificationRecord]:
    """An alert's second looks, oldest first."""
    incident_id = _incident_of(session, alert_id)
    return [
        _record(row, incident_id)
        for row in session.scalars(
            select(AlertVerification)
            .where(AlertVerification.alert_id == alert_id)
            .order_by(AlertVerification.recorded_at, AlertVerification.verification_id)
        )
    ]


def verify(
    *, session: Session, alert_id: uuid.UUID, request: VerificationRequest, actor: Actor, now: datetime
) -> VerificationOut:
    """Record a second person's verification from the control room; audited and on the feed. The caller commits.

    Raises:
        UnknownAlert: no such alert.
        AlertInSilentTrial: it was made in a silent trial (review only).
        AlertUnreviewed, AlertDismissed: nobody confirmed it.
        ConfirmerCannotVerify: the actor confirmed it.
        IdentityAlreadySettled: a second person verified or refuted it already.
    """
    open_feed_for_writing(session=session)  # before the alert's row lock (vigil.command.feed.service)
    alert = _locked_alert(session, alert_id)
    _check_verifiable(session, alert)
    if alert.reviewed_by == actor.user_id:
        raise ConfirmerCannotVerify(
            f"a second verification must be made by someone other than {alert.reviewer_name or actor.display_name}, "
            f"who confirmed it: ask another operator or supervisor, or the officer sent to the match (alert "
            f"{alert_id})",
            alert_id=str(alert_id),
        )
    row = AlertVerification(
        verification_id=uuid.uuid4(),
        alert_id=alert_id,
        verdict=request.verdict,
        verifier_kind=VerifierKind.CONTROL_ROOM,
        verified_by=actor.user_id,
        verifier_name=actor.display_name[:200],
        verified_at=now,
        recorded_at=now,
    )
    out = _recorded(session, row, now)
    record_by(
        actor,
        session=session,
        action="alert.verified",
        record_type="alert",
        record_id=str(alert_id),
        details={"verdict": request.verdict.value, "verifier_kind": VerifierKind.CONTROL_ROOM.value},
        now=now,
    )
    return out


def check_officer_verification(
    *, session: Session, event: AlertVerified, unit_id: str, settled: Collection[uuid.UUID]
) -> None:
    """Check an officer's ``alert.verified`` before it is stored (ingestion turns an error into a rejection).

    Locks the alert's row (after opening the feed for writing), so that two second verifications never race.

    Args:
        session: ingestion's transaction.
        event: the officer's verification.
        unit_id: the unit of the device that sent it.
        settled: alerts settled earlier in the same batch.

    Raises:
        UnknownAlert, AlertInSilentTrial, AlertUnreviewed, AlertDismissed, IdentityAlreadySettled: as :func:`verify`.
        OfficerNotSent: the unit was never sent that order for an incident on the alert.
    """
    open_feed_for_writing(session=session)
    alert = _locked_alert(session, event.alert_id)
    if event.verdict in SETTLING and event.alert_id in settled:
        raise IdentityAlreadySettled(
            alert_id=str(event.alert_id), verdict="settled", verifier_name="an earlier event of this batch"
        )
    _check_verifiable(session, alert)
    sent = session.scalar(
        select(DispatchOrderRecord.dispatch_id)
        .join(Incident, Incident.incident_id == DispatchOrderRecord.incident_id)
        .where(
            DispatchOrderRecord.dispatch_id == event.dispatch_id,
            DispatchOrderRecord.unit_id == unit_id,
            or_(Incident.alert_id == event.alert_id, Incident.target_alert_id == event.alert_id),
        )
    )
    if sent is None:
        raise OfficerNotSent(
            f"unit {unit_id!r} was never sent order {event.dispatch_id} for an incident on alert {event.alert_id}: "
            "an officer verifies only a match whose evidence they were sent",
            alert_id=str(event.alert_id),
        )


def record_officer_verification(*, session: Session, event: AlertVerified, received_at: datetime) -> VerificationOut:
    """Store an officer's verification (checked by :func:`check_officer_verification`); audited and on the feed.

    The verifier is the unit (its id, and its call sign as the name). The caller commits.
    """
    unit = session.get(Unit, event.unit_id)
    row = AlertVerification(
        verification_id=uuid.uuid4(),
        alert_id=event.alert_id,
        verdict=event.verdict,
        verifier_kind=VerifierKind.OFFICER,
        verified_by=event.unit_id,
        verifier_name=unit.call_sign if unit is not None else event.unit_id,
        verified_at=event.at,
        recorded_at=received_at,
        device_id=event.device_id,
        dispatch_id=event.dispatch_id,
        event_id=event.id,
    )
    out = _recorded(session, row, received_at)
    record_action(
        session=session,
        actor=f"{DEVICE_ACTOR_PREFIX}{event.device_id}",
        action="alert.verified",
        record_type="alert",
        record_id=str(event.alert_id),
        address=None,
        details={
            "verdict": event.verdict.value,
            "verifier_kind": VerifierKind.OFFICER.value,
            "unit_id": event.unit_id,
            "dispatch_id": str(event.dispatch_id),
        },
        now=received_at,
    )
    return out


def _recorded(session: Session, row: AlertVerification, now: datetime) -> VerificationOut:
    """Add the row, put it on the feed and log it; returns it with the identity after it."""
    session.add(row)
    session.flush()
    identity = identity_of(session=session, alert_id=row.alert_id)
    if identity is None:  # checked under the alert's lock moments ago
        raise AlertUnreviewed(f"alert {row.alert_id} is not confirmed", alert_id=str(row.alert_id))
    out = VerificationOut(
        **_record(row, _incident_of(session, row.alert_id)).model_dump(),
        identity=identity,
    )
    append_entry(session=session, kind=FeedKind.ALERT_VERIFIED, payload=out, now=now)
    _log.info(
        "alert.verified",
        extra={
            "alert_id": str(row.alert_id),
            "verdict": row.verdict.value,
            "verifier_kind": row.verifier_kind.value,
            "state": identity.state.value,
        },
    )
    return out


def _locked_alert(session: Session, alert_id: uuid.UUID) -> Alert:
    alert = session.scalar(
        select(Alert).options(defer(Alert.probe_jpeg)).where(Alert.alert_id == alert_id).with_for_update()
    )
    if alert is None:
        raise UnknownAlert(f"no alert {alert_id}", alert_id=str(alert_id))
    return alert


def _check_verifiable(session: Session, alert: Alert) -> None:
    alert_id = str(alert.alert_id)
    if alert.silent:
        raise AlertInSilentTrial(alert_id=alert_id, deployment_id=str(alert.deployment_id))
    match alert.review_decision:
        case None:
            raise AlertUnreviewed(
                f"alert {alert_id} has not been confirmed: an operator confirms a match first, and only then can a "
                f"second person verify it",
                alert_id=alert_id,
            )
        case ReviewDecision.DISMISSED:
            raise AlertDismissed(
                f"alert {alert_id} was dismissed by {alert.reviewer_name or alert.reviewed_by}: there is no match "
                "to verify",
                alert_id=alert_id,
            )
    settled = _settling(session, alert.alert_id)
    if settled is not None:
        raise IdentityAlreadySettled(
            alert_id=alert_id, verdict=settled.verdict.value, verifier_name=settled.verifier_name
        )


def _settling(session: Session, alert_id: uuid.UUID) -> AlertVerification | None:
    return session.scalar(
        select(AlertVerification)
        .where(AlertVerification.alert_id == alert_id, AlertVerification.verdict.in_(sorted(SETTLING)))
        .order_by(AlertVerification.recorded_at, AlertVerification.verification_id)
        .limit(1)
    )


def _state_of(settled: AlertVerification | None) -> IdentityState:
    if settled is None:
        return IdentityState.AWAITING_SECOND
    return IdentityState.VERIFIED if settled.verdict is IdentityVerdict.SAME_PERSON else IdentityState.REFUTED


def _incident_of(session: Session, alert_id: uuid.UUID) -> uuid.UUID | None:
    """The newest incident opened on the alert, or whose target it placed."""
    return session.scalar(
        select(Incident.incident_id)
        .where(or_(Incident.alert_id == alert_id, Incident.target_alert_id == alert_id))
        .order_by(Incident.opened_at.desc())
        .limit(1)
    )


def _record(row: AlertVerification, incident_id: uuid.UUID | None) -> VerificationRecord:
    return VerificationRecord(
        verification_id=row.verification_id,
        alert_id=row.alert_id,
        incident_id=incident_id,
        verdict=row.verdict,
        verifier_kind=row.verifier_kind,
        verifier_name=row.verifier_name,
        verified_at=row.verified_at,
    )
