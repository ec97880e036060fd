"""The human review of every alert: the queue, the reviewer's view, the decision, escalation, and the gate.

Every stored alert is *pending* until a person confirms or dismisses it. The decision is taken once (a second
one is refused: :class:`AlertAlreadyReviewed`; there is no override, so the record the device and the report
saw never changes), audited, put on the live feed and sent to the device as ``alert.reviewed``, all in one
transaction. A confirmation is the match's first verification; the reviewer's view shows the second
(:mod:`vigil.command.verifications`). Each view of the evidence (the detail, the probe crop, the enrolled chip)
is audited.

:func:`confirmed_alert` is the gate for anything acted on from an alert (a dispatch): it raises unless a person
confirmed it. :func:`escalate_unreviewed` puts an alert still pending after the escalation time on the feed for
supervisors, once.

A silent trial deployment's alerts (``Alert.silent``) stay out of all of that live work: they are not in the
queue, never escalated, and their decision goes neither on the feed nor to the device (the officer never saw the
alert). Trained reviewers find them by deployment (:mod:`vigil.command.reviews.trial`) and decide them here, for
the trial's figures; :func:`confirmed_alert` refuses every one of them (:class:`AlertInSilentTrial`), confirmed
or not: nothing may be done on a match made in a silent trial.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, defer

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.service import record_by
from vigil.command.deployments.models import Deployment
from vigil.command.downlink.service import enqueue
from vigil.command.errors import UnknownAlert
from vigil.command.feed.service import FeedKind, append_entry, open_feed_for_writing
from vigil.command.reviews.errors import (
    AlertAlreadyReviewed,
    AlertDismissed,
    AlertInSilentTrial,
    AlertRefuted,
    AlertUnreviewed,
    ReasonRequired,
    ReviewerRoleMissing,
)
from vigil.command.reviews.schemas import (
    AlertEscalated,
    QueuedAlert,
    ReviewDetail,
    ReviewOutcome,
    ReviewQueue,
    ReviewRequest,
    ReviewSubject,
)
from vigil.command.units.models import Unit
from vigil.command.verifications.schemas import IdentityState
from vigil.command.verifications.service import identity_of, verifications_of
from vigil.command.watchlists.models import Watchlist, WatchlistSubject, WatchlistTemplate, WatchlistVersion
from vigil.command.watchlists.service import DEPLOYMENT_AREA_LIMITS
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import DispatchError
from vigil.dispatch.geodesy import GeoPoint
from vigil.events import AlertEvidence, AlertReviewed, ReviewDecision

REVIEWER_ROLES = frozenset({"operator", "supervisor"})

_DETAIL_URL = "/api/v1/reviews/{alert_id}"


@dataclass(frozen=True)
class ConfirmedAlert:
    """An alert a person confirmed: what may start a dispatch.

    Attributes:
        alert_id: the alert.
        subject_id: who was matched.
        device_id: the device that raised it.
        unit_id: its unit.
        lat: where (degrees), if known.
        lon: where (degrees), if known.
        reviewed_by: who confirmed it.
        reviewed_at: when (UTC).
    """

    alert_id: uuid.UUID
    subject_id: str
    device_id: str
    unit_id: str
    lat: float | None
    lon: float | None
    reviewed_by: str
    reviewed_at: datetime


def review_queue(*, session: Session, now: datetime, limit: int) -> ReviewQueue:
    """Alerts awaiting review live, oldest first, at most ``limit``, with their age (silent trials' are not)."""
    pending = Alert.review_decision.is_(None) & Alert.silent.is_(False)
    rows = session.scalars(
        select(Alert)
        .options(defer(Alert.probe_jpeg))
        .where(pending)
        .order_by(Alert.raised_at, Alert.alert_id)
        .limit(limit)
    )
    total = int(session.scalar(select(func.count()).select_from(Alert).where(pending)) or 0)
    return ReviewQueue(
        alerts=[
            QueuedAlert(
                alert_id=alert.alert_id,
                subject_id=alert.subject_id,
                device_id=alert.device_id,
                unit_id=alert.unit_id,
                raised_at=alert.raised_at,
                age_s=max(0.0, (now - alert.raised_at).total_seconds()),
                escalated=alert.escalated_at is not None,
                distance=alert.distance,
                threshold=alert.threshold,
                detail_url=_DETAIL_URL.format(alert_id=alert.alert_id),
            )
            for alert in rows
        ],
        pending=total,
    )


def review_detail(*, session: Session, alert_id: uuid.UUID, actor: Actor, now: datetime) -> ReviewDetail:
    """What the reviewer sees; the view is audited. The caller commits.

    Raises:
        UnknownAlert: no such alert.
    """
    alert = _alert(session, alert_id)
    has_probe = session.scalar(select(Alert.probe_jpeg.is_not(None)).where(Alert.alert_id == alert_id))
    found = matched_subject(session, alert)
    subject = None
    enrolled_url = None
    inside = None
    if found is not None:
        watchlist, row = found
        subject = ReviewSubject(
            watchlist_id=watchlist.watchlist_id,
            watchlist_name=watchlist.name,
            watchlist_threshold=session.get_one(WatchlistVersion, alert.watchlist_version).threshold,
            subject_id=row.subject_id,
            display_name=row.display_name,
            category=row.category,
            legal_basis=row.legal_basis,
            notes=row.notes,
            expires_at=row.expires_at,
            state=row.state.value,
        )
        if enrolled_chip(session, row) is not None:
            enrolled_url = f"{_DETAIL_URL.format(alert_id=alert_id)}/enrolled.jpg"
        inside = _inside(watchlist.area, alert)
    if alert.deployment_id is not None:  # the authorised area, where a deployment governs the watchlist
        inside = _inside(session.get_one(Deployment, alert.deployment_id).area, alert)
    unit = session.get(Unit, alert.unit_id)
    record_by(
        actor,
        session=session,
        action="alert.review_viewed",
        record_type="alert",
        record_id=str(alert_id),
        details={"subject_id": alert.subject_id},
        now=now,
    )
    return ReviewDetail(
        alert_id=alert.alert_id,
        probe_url=f"{_DETAIL_URL.format(alert_id=alert_id)}/probe.jpg" if has_probe else None,
        enrolled_url=enrolled_url,
        distance=alert.distance,
        threshold=alert.threshold,
        margin=alert.threshold - alert.distance,
        quality_score=alert.quality_score,
        quality_parts=alert.quality_parts,
        frames=alert.frames,
        evidence=AlertEvidence.model_validate(alert.evidence) if alert.evidence is not None else None,
        device_id=alert.device_id,
        unit_id=alert.unit_id,
        officer=unit.call_sign if unit is not None else alert.unit_id,
        lat=alert.lat,
        lon=alert.lon,
        accuracy_m=alert.accuracy_m,
        inside_deployment=inside,
        first_seen_at=alert.first_seen_at,
        raised_at=alert.raised_at,
        watchlist_version=alert.watchlist_version,
        subject_id=alert.subject_id,
        subject=subject,
        decision=alert.review_decision,
        reviewed_by=alert.reviewed_by,
        reviewer_name=alert.reviewer_name,
        reviewed_at=alert.reviewed_at,
        reason=alert.review_reason,
        escalated_at=alert.escalated_at,
        deployment_id=alert.deployment_id,
        silent=alert.silent,
        identity=identity_of(session=session, alert_id=alert_id),
        verifications=verifications_of(session=session, alert_id=alert_id),
    )


def review_probe(*, session: Session, alert_id: uuid.UUID, actor: Actor, now: datetime) -> bytes:
    """The camera's face crop of an alert, JPEG; the view is audited. The caller commits.

    Raises:
        UnknownAlert: no such alert, or its crop was deleted by retention.
    """
    probe = session.scalar(select(Alert.probe_jpeg).where(Alert.alert_id == alert_id))
    if probe is None:
        raise UnknownAlert(f"no face crop is stored for alert {alert_id}", alert_id=str(alert_id))
    record_by(
        actor,
        session=session,
        action="alert.probe_viewed",
        record_type="alert",
        record_id=str(alert_id),
        details={},
        now=now,
    )
    return probe


def review_enrolled_chip(*, session: Session, alert_id: uuid.UUID, actor: Actor, now: datetime) -> bytes:
    """The watchlist's face chip of the alert's subject (its best-quality template), JPEG; audited.

    Raises:
        UnknownAlert: no such alert, its watchlist version is not known here, or the chip was deleted.
    """
    alert = _alert(session, alert_id)
    found = matched_subject(session, alert)
    chip = enrolled_chip(session, found[1]) if found is not None else None
    if chip is None:
        raise UnknownAlert(f"no enrolled face chip is stored for alert {alert_id}'s subject", alert_id=str(alert_id))
    record_by(
        actor,
        session=session,
        action="alert.enrolled_chip_viewed",
        record_type="alert",
        record_id=str(alert_id),
        details={"subject_id": alert.subject_id},
        now=now,
    )
    return chip


def decide(
    *, session: Session, alert_id: uuid.UUID, request: ReviewRequest, actor: Actor, now: datetime
) -> ReviewOutcome:
    """Record a person's decision, audit it, put it on the feed and queue ``alert.reviewed`` for the device.

    The caller commits (which publishes the decision to the device). A silent trial's alert is decided and audited
    alike, but its decision goes neither on the feed nor to the device: it never reached either live.

    Raises:
        UnknownAlert: no such alert.
        ReviewerRoleMissing: the actor is neither operator nor supervisor.
        ReasonRequired: a dismissal without a reason.
        AlertAlreadyReviewed: a decision is on record already (also when another reviewer won a race).
    """
    if not actor.holds(REVIEWER_ROLES):
        raise ReviewerRoleMissing("reviewing alerts needs the operator or supervisor role", alert_id=str(alert_id))
    if request.decision is ReviewDecision.DISMISSED and not request.reason:
        raise ReasonRequired(
            f"say why alert {alert_id} is dismissed: the reason is kept with the decision", alert_id=str(alert_id)
        )
    open_feed_for_writing(session=session)
    alert = _alert(session, alert_id)
    # One statement decides: of two reviewers racing (on any server), only one finds the alert still pending.
    decided = session.execute(
        update(Alert)
        .where(Alert.alert_id == alert_id, Alert.review_decision.is_(None))
        .values(
            review_decision=request.decision,
            reviewed_by=actor.user_id,
            reviewer_name=actor.display_name,
            reviewed_at=now,
            review_reason=request.reason,
        )
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(alert)
        raise AlertAlreadyReviewed(
            alert_id=str(alert_id),
            decision=str(alert.review_decision),
            reviewed_by=alert.reviewer_name or alert.reviewed_by or "someone",
        )
    outcome = ReviewOutcome(
        alert_id=alert_id,
        device_id=alert.device_id,
        unit_id=alert.unit_id,
        subject_id=alert.subject_id,
        decision=request.decision,
        reviewed_by=actor.user_id,
        reviewer_name=actor.display_name,
        reviewed_at=now,
        reason=request.reason,
        silent=alert.silent,
    )
    # The reason is kept with the decision on the alert; the audit holds ids and flags only.
    details = {
        "decision": request.decision.value,
        "with_reason": bool(request.reason),
        "subject_id": alert.subject_id,
        "silent": alert.silent,
    }
    record_by(
        actor,
        session=session,
        action=f"alert.{request.decision.value}",
        record_type="alert",
        record_id=str(alert_id),
        details=details,
        now=now,
    )
    if alert.silent:
        return outcome
    append_entry(session=session, kind=FeedKind.ALERT_REVIEWED, payload=outcome, now=now)
    enqueue(
        session=session,
        event=AlertReviewed(
            device_id=alert.device_id,
            alert_id=alert_id,
            decision=request.decision,
            reviewer=actor.display_name[:200],
            reason=request.reason,
            at=now,
        ),
        now=now,
    )
    return outcome


def confirmed_alert(*, session: Session, alert_id: uuid.UUID) -> ConfirmedAlert:
    """The alert, if a person confirmed it and it was not made in a silent trial: the gate every dispatch passes.

    Raises:
        UnknownAlert: no such alert.
        AlertInSilentTrial: it was made in a silent trial deployment, whose matches are for review only.
        AlertUnreviewed: nobody has reviewed it yet.
        AlertDismissed: a person dismissed it.
        AlertRefuted: a second person found it was not the person.
    """
    alert = _alert(session, alert_id)
    if alert.silent:
        raise AlertInSilentTrial(alert_id=str(alert_id), deployment_id=str(alert.deployment_id))
    match alert.review_decision:
        case None:
            raise AlertUnreviewed(
                f"alert {alert_id} has not been reviewed: a person must confirm it before anyone acts on it",
                alert_id=str(alert_id),
            )
        case ReviewDecision.DISMISSED:
            raise AlertDismissed(
                f"alert {alert_id} was dismissed by {alert.reviewer_name or alert.reviewed_by}: it cannot start a "
                "dispatch",
                alert_id=str(alert_id),
            )
    if alert.reviewed_by is None or alert.reviewed_at is None:
        raise AlertUnreviewed(f"alert {alert_id} has a decision but no reviewer on record", alert_id=str(alert_id))
    identity = identity_of(session=session, alert_id=alert_id)
    if identity is not None and identity.state is IdentityState.REFUTED:
        raise AlertRefuted(
            f"alert {alert_id} was confirmed, then {identity.verified_by} found it is not the person: a false alert "
            "cannot start a dispatch",
            alert_id=str(alert_id),
        )
    return ConfirmedAlert(
        alert_id=alert.alert_id,
        subject_id=alert.subject_id,
        device_id=alert.device_id,
        unit_id=alert.unit_id,
        lat=alert.lat,
        lon=alert.lon,
        reviewed_by=alert.reviewed_by,
        reviewed_at=alert.reviewed_at,
    )


def escalate_unreviewed(*, session: Session, escalation_s: float, now: datetime) -> list[AlertEscalated]:
    """Put every alert pending for ``escalation_s`` or longer, and not yet escalated, on the feed for supervisors.

    Each alert is escalated once; a silent trial's never is (it waits for later review). The caller commits.

    Returns:
        The escalations made, oldest alert first.
    """
    open_feed_for_writing(session=session)
    cutoff = now - timedelta(seconds=escalation_s)
    due = session.scalars(
        select(Alert)
        .options(defer(Alert.probe_jpeg))
        .where(
            Alert.review_decision.is_(None),
            Alert.silent.is_(False),
            Alert.escalated_at.is_(None),
            Alert.raised_at <= cutoff,
        )
        .order_by(Alert.raised_at, Alert.alert_id)
        .with_for_update(skip_locked=True)
    ).all()
    escalations = []
    for alert in due:
        alert.escalated_at = now
        escalation = AlertEscalated(
            alert_id=alert.alert_id,
            device_id=alert.device_id,
            unit_id=alert.unit_id,
            subject_id=alert.subject_id,
            raised_at=alert.raised_at,
            pending_s=(now - alert.raised_at).total_seconds(),
            escalated_at=now,
        )
        append_entry(session=session, kind=FeedKind.ALERT_ESCALATED, payload=escalation, now=now)
        escalations.append(escalation)
    return escalations


def _alert(session: Session, alert_id: uuid.UUID) -> Alert:
    alert = session.scalar(select(Alert).options(defer(Alert.probe_jpeg)).where(Alert.alert_id == alert_id))
    if alert is None:
        raise UnknownAlert(f"no alert {alert_id}", alert_id=str(alert_id))
    return alert


def matched_subject(session: Session, alert: Alert) -> tuple[Watchlist, WatchlistSubject] | None:
    """The watchlist and subject record an alert matched, when its version was made by this server (else None)."""
    row = session.execute(
        select(Watchlist, WatchlistSubject)
        .join(WatchlistVersion, WatchlistVersion.watchlist_id == Watchlist.watchlist_id)
        .join(WatchlistSubject, WatchlistSubject.watchlist_id == Watchlist.watchlist_id)
        .where(WatchlistVersion.version == alert.watchlist_version, WatchlistSubject.subject_id == alert.subject_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def enrolled_chip(session: Session, subject: WatchlistSubject) -> bytes | None:
    """The subject's best-quality enrolled face chip (JPEG), or None when retention deleted them."""
    return session.scalar(
        select(WatchlistTemplate.chip_jpeg)
        .where(WatchlistTemplate.subject_row_id == subject.id, WatchlistTemplate.chip_jpeg.is_not(None))
        .order_by(WatchlistTemplate.quality_score.desc(), WatchlistTemplate.id)
        .limit(1)
    )


def _inside(area: dict[str, Any] | None, alert: Alert) -> bool | None:
    if area is None or alert.lat is None or alert.lon is None:
        return None
    try:
        return parse_area(area, limits=DEPLOYMENT_AREA_LIMITS).contains(GeoPoint(alert.lat, alert.lon))
    except DispatchError:
        return None
