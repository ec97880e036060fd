"""Incidents: open one on a confirmed alert, mark the area, send units, follow their answers, move the target, close.

An incident is for a subject of a confirmed alert or for an officer in danger
(:mod:`vigil.command.emergencies`): the emergency's incident targets the officer, follows their positions
(:func:`follow_officer`) and sends orders naming the officer instead of a subject; answers, escalation,
stand-down and closing are the same.

Rules a control room relies on:

* **A person first.** An incident opens only on an alert a person confirmed
  (:func:`~vigil.command.reviews.service.confirmed_alert`); every order comes from an incident.
* **Never from a silent trial.** An alert made in a silent trial deployment is reviewed for the trial's figures
  only: the same gate refuses to open an incident on it, confirmed or not
  (:class:`~vigil.command.reviews.errors.AlertInSilentTrial`).
* **One incident per subject at a time.** A new confirmed sighting of the same subject moves the open incident's
  target (:func:`follow_sighting`) and sends the units already on it the new revision of their order.
* **Orders are outbox events.** Each order, update and stand-down is stored with the change that made it and
  published after the commit (:mod:`vigil.command.downlink`), to every live device of the unit.
* **Units' status follows the officers.** Sending an order makes a unit ``dispatched``; its officer's answers move
  it on (:func:`~vigil.dispatch.unit.status_after_answer`); a decline returns it to what it was doing; closing the
  incident stands down every order still open and frees its unit.
* **Two people before an arrest.** The operator's confirmation is a match's first verification; orders say who
  made it and, once a second person verified the match (:mod:`vigil.command.verifications`), who did: a
  ``same_person`` verification sends every live order the new revision (:func:`send_verified_identity`).
  Closing with an arrest is refused until then (:class:`IdentityNotVerified`); the other outcomes are not.
* **Escalation.** An order nobody answered within ``ack_timeout_s``, or one declined, is put on the feed once, with
  the next nearest available unit proposed (:func:`escalate_overdue`, run by the scheduler).
* **Everything is audited and on the feed.** The caller commits.
"""

import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.service import record_action, record_by
from vigil.command.devices.models import Device
from vigil.command.downlink.service import enqueue
from vigil.command.emergencies.models import Emergency
from vigil.command.feed.service import FeedKind, append_entry, open_feed_for_writing
from vigil.command.incidents.errors import (
    AlertAlreadyActedOn,
    AlertWithoutPlace,
    IdentityNotVerified,
    IncidentClosed,
    SubjectAlreadyPursued,
    UnitNotDispatchable,
    UnknownIncident,
)
from vigil.command.incidents.models import (
    FINISHED_ORDER_STATES,
    DispatchOrderRecord,
    Incident,
    IncidentOutcome,
    IncidentStatus,
    OrderState,
)
from vigil.command.incidents.orders import order_event
from vigil.command.incidents.schemas import (
    AreaChange,
    DispatchEscalated,
    DispatchOut,
    DispatchRequest,
    IncidentChanged,
    IncidentClose,
    IncidentList,
    IncidentOpen,
    IncidentOut,
    SubjectOut,
    TargetOut,
)
from vigil.command.reviews.service import ConfirmedAlert, confirmed_alert, matched_subject
from vigil.command.units.areas import read_area
from vigil.command.units.models import Unit
from vigil.command.units.service import change_status
from vigil.command.verifications.schemas import IdentityState
from vigil.command.verifications.service import identity_of_incident
from vigil.dispatch.area import Area, CircleArea
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.escalation import SentOrder, escalate
from vigil.dispatch.eta import EtaModel
from vigil.dispatch.geodesy import GeoPoint, distance_m
from vigil.dispatch.ranking import rank_units
from vigil.dispatch.settings import DispatchSettings
from vigil.dispatch.unit import UnitStatus, status_after_answer
from vigil.dispatch.unit_index import UnitIndex
from vigil.events import DispatchCancelled, DispatchState, DispatchStatus

_log = logging.getLogger(__name__)

_PROGRESS = (OrderState.SENT, OrderState.ACCEPTED, OrderState.EN_ROUTE, OrderState.ON_SCENE, OrderState.CLEARED)
_ANSWERED = frozenset(_PROGRESS[1:]) | {OrderState.DECLINED}
_OFFICER_MOVED_M = 25.0
"""An officer in danger must have moved at least this far before the units are sent a new target, metres."""
_OFFICER_EVERY = timedelta(seconds=10)
"""And at most this often (by the positions' times): a position a second would flood the units' handsets."""


def open_incident(
    *, session: Session, request: IncidentOpen, actor: Actor, now: datetime, settings: DispatchSettings
) -> IncidentOut:
    """Open an incident on a confirmed alert, with the area drawn or the default circle around the alert.

    Raises:
        UnknownAlert: no such alert.
        AlertInSilentTrial: it was made in a silent trial deployment: for review only, never acted on.
        AlertNotConfirmed: nobody confirmed it (unreviewed, or dismissed).
        AlertAlreadyActedOn: an incident was opened for it already.
        SubjectAlreadyPursued: an incident for the same subject is open.
        AlertWithoutPlace: the alert has no location.
        InvalidArea: the area drawn is not one Vigil accepts.
    """
    open_feed_for_writing(session=session)
    confirmed = confirmed_alert(session=session, alert_id=request.alert_id)
    existing = session.scalar(select(Incident.incident_id).where(Incident.alert_id == request.alert_id))
    if existing is not None:
        raise AlertAlreadyActedOn(
            f"incident {existing} was opened for alert {request.alert_id} already", incident_id=str(existing)
        )
    pursued = _open_incident_of(session, confirmed.subject_id)
    if pursued is not None:
        raise SubjectAlreadyPursued(
            f"incident {pursued.incident_id} for {confirmed.subject_id} is open: new sightings move its target",
            incident_id=str(pursued.incident_id),
        )
    target = _place_of(confirmed)
    area = read_area(request.area, target=target, settings=settings)
    alert = session.get(Alert, confirmed.alert_id)
    incident = Incident(
        incident_id=uuid.uuid4(),
        alert_id=confirmed.alert_id,
        subject_id=confirmed.subject_id,
        status=IncidentStatus.OPEN,
        target_lat=target.lat,
        target_lon=target.lon,
        target_accuracy_m=alert.accuracy_m if alert is not None else None,
        target_at=alert.first_seen_at if alert is not None else confirmed.reviewed_at,
        target_alert_id=confirmed.alert_id,
        target_revision=1,
        area=area.to_geojson(),
        opened_by=actor.user_id,
        opened_at=now,
    )
    session.add(incident)
    session.flush()
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_OPENED,
        change="opened",
        action="incident.opened",
        details={"alert_id": str(confirmed.alert_id)},
        actor=actor,
        now=now,
        settings=settings,
    )


def open_emergency_incident(
    *,
    session: Session,
    emergency_id: uuid.UUID,
    target: GeoPoint,
    accuracy_m: float | None,
    at: datetime,
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut:
    """Open the incident answering an officer's emergency, around the officer's latest position.

    The emergencies service calls it when units are first sent; it has checked that none is open for the
    emergency.

    Args:
        session: in the caller's transaction; the caller commits.
        emergency_id: the emergency.
        target: where the officer last was.
        accuracy_m: that position's accuracy, metres (None when unknown).
        at: when the officer was there (UTC).
        actor: who sends the units.
        now: the time of the change (UTC).
        settings: dispatch settings (the default circle).
    """
    open_feed_for_writing(session=session)
    incident = Incident(
        incident_id=uuid.uuid4(),
        emergency_id=emergency_id,
        status=IncidentStatus.OPEN,
        target_lat=target.lat,
        target_lon=target.lon,
        target_accuracy_m=accuracy_m,
        target_at=at,
        target_revision=1,
        area=read_area({}, target=target, settings=settings).to_geojson(),
        opened_by=actor.user_id,
        opened_at=now,
    )
    session.add(incident)
    session.flush()
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_OPENED,
        change="opened",
        action="incident.opened",
        details={"emergency_id": str(emergency_id)},
        actor=actor,
        now=now,
        settings=settings,
    )


def emergency_incident(*, session: Session, emergency_id: uuid.UUID) -> Incident | None:
    """The incident answering an emergency (open or closed), if units were sent."""
    return session.scalar(select(Incident).where(Incident.emergency_id == emergency_id))


def get_incident(*, session: Session, incident_id: uuid.UUID, now: datetime, settings: DispatchSettings) -> IncidentOut:
    """One incident with its orders.

    Raises:
        UnknownIncident: no such incident.
    """
    return incident_out(session=session, incident=_incident(session, incident_id), now=now, settings=settings)


def list_incidents(
    *, session: Session, status: IncidentStatus | None, limit: int, now: datetime, settings: DispatchSettings
) -> IncidentList:
    """Incidents, newest first (only open or closed ones when ``status`` says)."""
    query = select(Incident).order_by(Incident.opened_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Incident.status == status)
    return IncidentList(
        incidents=[
            incident_out(session=session, incident=i, now=now, settings=settings) for i in session.scalars(query)
        ]
    )


def change_area(
    *,
    session: Session,
    incident_id: uuid.UUID,
    request: AreaChange,
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut:
    """Redraw the search area; the units on the incident are sent the new revision of their order.

    Raises:
        UnknownIncident, IncidentClosed, InvalidArea.
    """
    incident = _open(session, incident_id)
    area = read_area(request.area, target=_target(incident), settings=settings)
    incident.area = area.to_geojson()
    incident.target_revision += 1
    _resend(session, incident, area, now)
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_CHANGED,
        change="area_changed",
        action="incident.area_changed",
        details={"revision": incident.target_revision},
        actor=actor,
        now=now,
        settings=settings,
    )


def dispatch_units(
    *,
    session: Session,
    incident_id: uuid.UUID,
    request: DispatchRequest,
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut:
    """Send units to the incident's target: each gets an order on every live device, and becomes ``dispatched``.

    Raises:
        UnknownIncident, IncidentClosed: the incident is missing or closed.
        UnitNotDispatchable: a unit is unknown, off duty, has no live device, or already has an open order for
            this incident (nothing is sent to any unit then).
    """
    incident = _open(session, incident_id)
    area = _area(incident, settings)
    busy = {
        order.unit_id for order in _orders(session, incident.incident_id) if order.state not in FINISHED_ORDER_STATES
    }
    units: list[tuple[Unit, list[str]]] = []
    for unit_id in request.unit_ids:
        unit = session.get(Unit, unit_id)
        devices = _devices_of(session, unit_id)
        problem = (
            "is not a unit"
            if unit is None
            else "is off duty"
            if unit.status is UnitStatus.OFF_DUTY
            else "has no device to receive the order"
            if not devices
            else "already has an order for this incident"
            if unit_id in busy
            else None
        )
        if problem is not None or unit is None:
            raise UnitNotDispatchable(
                f"unit {unit_id} {problem}: nothing was sent", incident_id=str(incident_id), unit_id=unit_id
            )
        units.append((unit, devices))
    for unit, devices in units:
        order = DispatchOrderRecord(
            dispatch_id=uuid.uuid4(),
            incident_id=incident.incident_id,
            unit_id=unit.unit_id,
            state=OrderState.SENT,
            revision=incident.target_revision,
            unit_status_before=unit.status,
            instructions=request.instructions,
            sent_by=actor.user_id,
            sent_at=now,
            reason="",
        )
        session.add(order)
        session.flush()
        for device_id in devices:
            enqueue(
                session=session,
                event=order_event(session=session, incident=incident, order=order, area=area, device_id=device_id),
                now=now,
            )
        change_status(
            session=session,
            unit_id=unit.unit_id,
            status=UnitStatus.DISPATCHED,
            reason=f"dispatched to incident {str(incident.incident_id)[:8]}",
            now=now,
        )
    return _announced(
        session,
        incident,
        kind=FeedKind.DISPATCH_SENT,
        change="dispatched",
        action="dispatch.sent",
        details={"unit_ids": [unit.unit_id for unit, _ in units]},
        actor=actor,
        now=now,
        settings=settings,
    )


def record_answer(*, session: Session, answer: DispatchStatus, unit_id: str, now: datetime) -> None:
    """Apply an officer's answer (ingestion calls it in the event's transaction).

    The answer moves the order forward (never back: answers can arrive out of order after a coverage gap) and the
    unit's status with it (both on the feed: the answer itself, and the unit's change). An answer to an order this
    unit was never sent, or one already stood down, changes nothing but is kept by ingestion as it arrived.
    """
    open_feed_for_writing(session=session)
    order = session.scalar(
        select(DispatchOrderRecord)
        .where(DispatchOrderRecord.dispatch_id == answer.dispatch_id, DispatchOrderRecord.unit_id == unit_id)
        .with_for_update()
    )
    if order is None or order.state is OrderState.CANCELLED:
        _log.info("dispatch.answer_ignored", extra={"dispatch_id": str(answer.dispatch_id), "unit_id": unit_id})
        return
    state = OrderState(answer.status.value)
    if not _moves_forward(order.state, state):
        return
    order.state = state
    order.answered_at = answer.at
    if state is OrderState.DECLINED:
        order.reason = answer.reason
    if state in FINISHED_ORDER_STATES:
        order.finished_at = now
    change_status(
        session=session,
        unit_id=unit_id,
        status=status_after_answer(answer.status, before_order=order.unit_status_before),
        reason=f"answered {answer.status.value.replace('_', ' ')}",
        now=now,
    )


def follow_sighting(
    *, session: Session, alert: ConfirmedAlert, actor: Actor, now: datetime, settings: DispatchSettings
) -> IncidentOut | None:
    """Move the subject's open incident to a newer confirmed sighting, and tell the units on it.

    A default circle (drawn by the server) moves with the target; an area the operator drew stays. An older
    sighting, or one without a place, changes nothing.

    Returns:
        The incident after the move; None when no incident for the subject is open, or it did not move.
    """
    open_feed_for_writing(session=session)
    incident = _open_incident_of(session, alert.subject_id, lock=True)
    if incident is None or incident.alert_id == alert.alert_id or alert.lat is None or alert.lon is None:
        return None
    row = session.get(Alert, alert.alert_id)
    seen_at = row.first_seen_at if row is not None else alert.reviewed_at
    if seen_at <= incident.target_at:
        return None
    old_target = _target(incident)
    area = _area(incident, settings)
    incident.target_lat, incident.target_lon = alert.lat, alert.lon
    incident.target_accuracy_m = row.accuracy_m if row is not None else None
    incident.target_at = seen_at
    incident.target_alert_id = alert.alert_id
    incident.target_revision += 1
    if isinstance(area, CircleArea) and area.centre == old_target:
        area = CircleArea(centre=_target(incident), radius_m=area.radius_m)
        incident.area = area.to_geojson()
    _resend(session, incident, area, now)
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_CHANGED,
        change="target_moved",
        action="incident.target_moved",
        details={"alert_id": str(alert.alert_id)},
        actor=actor,
        now=now,
        settings=settings,
    )


def follow_officer(
    *,
    session: Session,
    emergency_id: uuid.UUID,
    position: GeoPoint,
    accuracy_m: float | None,
    at: datetime,
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut | None:
    """Move an emergency's open incident to the officer's newer position, and tell the units on it.

    The target moves when the officer is at least 25 m from it and its time is at least 10 s old (by the
    positions' times), so that a position a second does not flood the units; a default circle moves with it.
    Ingestion calls it in the position's transaction: an incident an operator is changing at that moment is
    skipped (its row is locked), and the officer's next position moves it.

    Returns:
        The incident after the move; None when it did not move (or none is open, or it was busy).
    """
    open_feed_for_writing(session=session)
    incident = session.scalar(
        select(Incident)
        .where(Incident.emergency_id == emergency_id, Incident.status == IncidentStatus.OPEN)
        .with_for_update(skip_locked=True)
    )
    if incident is None or at < incident.target_at + _OFFICER_EVERY:
        return None
    old_target = _target(incident)
    if distance_m(old_target, position) < _OFFICER_MOVED_M:
        return None
    area = _area(incident, settings)
    incident.target_lat, incident.target_lon = position.lat, position.lon
    incident.target_accuracy_m, incident.target_at = accuracy_m, at
    incident.target_revision += 1
    if isinstance(area, CircleArea) and area.centre == old_target:
        area = CircleArea(centre=position, radius_m=area.radius_m)
        incident.area = area.to_geojson()
    _resend(session, incident, area, now)
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_CHANGED,
        change="target_moved",
        action="incident.target_moved",
        details={"emergency_id": str(emergency_id), "revision": incident.target_revision},
        actor=actor,
        now=now,
        settings=settings,
    )


def send_verified_identity(
    *, session: Session, alert_id: uuid.UUID, now: datetime, settings: DispatchSettings
) -> list[uuid.UUID]:
    """Send every live order of the open incidents on a just-verified alert again, saying who verified it.

    Each incident opened on the alert, or whose target it placed, moves to a new revision, and the units still on
    it are sent that revision (the order's evidence now names the second person). Call it in the verification's
    transaction; the caller commits.

    Returns:
        The incidents whose orders were sent again.
    """
    open_feed_for_writing(session=session)  # before the incidents' row locks
    incidents = session.scalars(
        select(Incident)
        .where(
            or_(Incident.alert_id == alert_id, Incident.target_alert_id == alert_id),
            Incident.status == IncidentStatus.OPEN,
        )
        .order_by(Incident.opened_at)
        .with_for_update()
    ).all()
    for incident in incidents:
        incident.target_revision += 1
        _resend(session, incident, _area(incident, settings), now)
    if incidents:
        _log.info(
            "incident.identity_verified",
            extra={"alert_id": str(alert_id), "incidents": [str(i.incident_id) for i in incidents]},
        )
    return [incident.incident_id for incident in incidents]


def close_incident(
    *,
    session: Session,
    incident_id: uuid.UUID,
    request: IncidentClose,
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut:
    """Close with an outcome: open orders are stood down and their units freed.

    Raises:
        UnknownIncident, IncidentClosed.
        IdentityNotVerified: an arrest, on a match no second person verified as the same person.
    """
    incident = _open(session, incident_id)
    if request.outcome is IncidentOutcome.ARREST:
        _check_verified(session, incident)
    reason = f"incident closed: {request.outcome.value.replace('_', ' ')}"
    for order in _orders(session, incident.incident_id):
        if order.state in FINISHED_ORDER_STATES:
            continue
        order.state, order.finished_at, order.reason = OrderState.CANCELLED, now, reason
        for device_id in _devices_of(session, order.unit_id):
            enqueue(
                session=session,
                event=DispatchCancelled(device_id=device_id, dispatch_id=order.dispatch_id, reason=reason, at=now),
                now=now,
            )
        unit = session.get(Unit, order.unit_id)
        if unit is not None and unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE):
            change_status(session=session, unit_id=order.unit_id, status=UnitStatus.AVAILABLE, reason=reason, now=now)
    incident.status = IncidentStatus.CLOSED
    incident.outcome, incident.outcome_notes = request.outcome, request.notes
    incident.closed_by, incident.closed_at = actor.user_id, now
    return _announced(
        session,
        incident,
        kind=FeedKind.INCIDENT_CHANGED,
        change="closed",
        action="incident.closed",
        details={"outcome": request.outcome.value},
        actor=actor,
        now=now,
        settings=settings,
    )


def escalate_overdue(
    *,
    session: Session,
    index: UnitIndex,
    eta_model: EtaModel,
    settings: DispatchSettings,
    now: datetime,
) -> list[DispatchEscalated]:
    """Tell operators, once each, of orders unanswered past the timeout and of declines, proposing a unit instead.

    Returns:
        What was put on the feed.
    """
    open_feed_for_writing(session=session)
    escalated: list[DispatchEscalated] = []
    for incident in session.scalars(select(Incident).where(Incident.status == IncidentStatus.OPEN)):
        orders = _orders(session, incident.incident_id)
        sent = [
            SentOrder(
                unit_id=order.unit_id,
                sent_at=order.sent_at,
                answer=_answer_of(order.state),
                escalated=order.escalated_at is not None,
            )
            for order in orders
        ]
        if not any(o.answer in (None, DispatchState.DECLINED) and not o.escalated for o in sent):
            continue
        target = _target(incident)
        officer = _officer_of(session, incident)  # an officer in danger is never proposed to help themselves
        candidates = rank_units(
            (
                u
                for u in index.units_in_area(_area(incident, settings), target=target, now=now).rows()
                if u.unit_id != officer
            ),
            target=target,
            eta_model=eta_model,
        )
        found = escalate(orders=sent, candidates=candidates, now=now, settings=settings.escalation)
        late = [(order, "unanswered") for order in found.overdue] + [(order, "declined") for order in found.declined]
        by_unit = {order.unit_id: order for order in orders}
        for number, (sent_order, why) in enumerate(late):
            record = by_unit[sent_order.unit_id]
            record.escalated_at = now
            proposal = found.proposals[number] if number < len(found.proposals) else None
            unit = session.get(Unit, record.unit_id)
            entry = DispatchEscalated(
                incident_id=incident.incident_id,
                dispatch_id=record.dispatch_id,
                unit_id=record.unit_id,
                call_sign=unit.call_sign if unit is not None else record.unit_id,
                why=why,
                proposed_unit_id=proposal.unit.unit_id if proposal is not None else None,
                proposed_call_sign=proposal.unit.call_sign if proposal is not None else None,
                proposed_eta_s=proposal.eta.seconds if proposal is not None else None,
            )
            append_entry(session=session, kind=FeedKind.DISPATCH_ESCALATED, payload=entry, now=now)
            record_action(
                session=session,
                actor="system",
                action="dispatch.escalated",
                record_type="dispatch_order",
                record_id=str(record.dispatch_id),
                address=None,
                details={"why": why, "proposed_unit_id": entry.proposed_unit_id or ""},
                now=now,
            )
            escalated.append(entry)
    return escalated


def held_alert_ids(*, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """The alerts among ``alert_ids`` that open incidents rest on (retention keeps their face crops)."""
    if not alert_ids:
        return set()
    rows = session.execute(
        select(Incident.alert_id, Incident.target_alert_id).where(Incident.status == IncidentStatus.OPEN)
    )
    wanted = set(alert_ids)
    return {alert_id for pair in rows for alert_id in pair if alert_id in wanted}


def incident_out(*, session: Session, incident: Incident, now: datetime, settings: DispatchSettings) -> IncidentOut:
    """An incident as the API shows it."""
    timeout = timedelta(seconds=settings.escalation.ack_timeout_s)
    # The orders first, then their units: an order committed between two reads (the escalation job sending a
    # replacement) must not leave an order without its unit (PostgreSQL reads each statement's own snapshot).
    orders = _orders(session, incident.incident_id)
    units = {
        unit.unit_id: unit
        for unit in session.scalars(select(Unit).where(Unit.unit_id.in_({order.unit_id for order in orders})))
    }
    return IncidentOut(
        incident_id=incident.incident_id,
        kind=incident.kind,
        alert_id=incident.alert_id,
        subject=_subject_of(session, incident),
        identity=identity_of_incident(session=session, incident=incident),
        emergency_id=incident.emergency_id,
        status=incident.status,
        outcome=incident.outcome,
        outcome_notes=incident.outcome_notes,
        target=TargetOut(
            lat=incident.target_lat,
            lon=incident.target_lon,
            accuracy_m=incident.target_accuracy_m,
            at=incident.target_at,
            alert_id=incident.target_alert_id,
            revision=incident.target_revision,
        ),
        area=incident.area,
        opened_by=incident.opened_by,
        opened_at=incident.opened_at,
        closed_by=incident.closed_by,
        closed_at=incident.closed_at,
        dispatches=[
            DispatchOut(
                dispatch_id=order.dispatch_id,
                unit_id=order.unit_id,
                call_sign=units[order.unit_id].call_sign,
                radio_id=units[order.unit_id].radio_id,
                kind=units[order.unit_id].kind,
                state=order.state,
                revision=order.revision,
                sent_by=order.sent_by,
                sent_at=order.sent_at,
                answered_at=order.answered_at,
                overdue=order.state is OrderState.SENT and now - order.sent_at > timeout,
                escalated_at=order.escalated_at,
                finished_at=order.finished_at,
                reason=order.reason,
            )
            for order in orders
        ],
    )


class OpenIncidentHold:
    """Retention's hold for incidents: the face crops open incidents rest on are kept."""

    def held_alert_ids(self, *, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """See :func:`held_alert_ids`."""
        return held_alert_ids(session=session, alert_ids=alert_ids)


def _officer_of(session: Session, incident: Incident) -> str | None:
    """The unit of the officer in danger, for an emergency's incident."""
    if incident.emergency_id is None:
        return None
    return session.get_one(Emergency, incident.emergency_id).unit_id


def _subject_of(session: Session, incident: Incident) -> SubjectOut | None:
    """Who the incident seeks (None for an officer's emergency)."""
    if incident.subject_id is None:
        return None
    alert = session.get(Alert, incident.alert_id) if incident.alert_id is not None else None
    found = matched_subject(session, alert) if alert is not None else None
    if found is None:
        return SubjectOut(subject_id=incident.subject_id, name=incident.subject_id, category="unknown")
    return SubjectOut(subject_id=incident.subject_id, name=found[1].display_name, category=found[1].category)


def _incident(session: Session, incident_id: uuid.UUID, *, lock: bool = False) -> Incident:
    query = select(Incident).where(Incident.incident_id == incident_id)
    incident = session.scalar(query.with_for_update() if lock else query)
    if incident is None:
        raise UnknownIncident(f"no incident {incident_id}", incident_id=str(incident_id))
    return incident


def _open(session: Session, incident_id: uuid.UUID) -> Incident:
    """The incident, locked for a change (before the feed's writers' lock, after which no row lock may follow)."""
    open_feed_for_writing(session=session)
    incident = _incident(session, incident_id, lock=True)
    if incident.status is not IncidentStatus.OPEN:
        again = (
            "open a new one on a new alert"
            if incident.emergency_id is None
            else f"the officer's emergency {incident.emergency_id} can send no more units through it"
        )
        raise IncidentClosed(
            f"incident {incident_id} was closed ({incident.outcome}): {again}", incident_id=str(incident_id)
        )
    return incident


def _open_incident_of(session: Session, subject_id: str, *, lock: bool = False) -> Incident | None:
    query = select(Incident).where(Incident.subject_id == subject_id, Incident.status == IncidentStatus.OPEN)
    return session.scalar(query.with_for_update() if lock else query)


def _orders(session: Session, incident_id: uuid.UUID) -> Sequence[DispatchOrderRecord]:
    return session.scalars(
        select(DispatchOrderRecord)
        .where(DispatchOrderRecord.incident_id == incident_id)
        .order_by(DispatchOrderRecord.sent_at, DispatchOrderRecord.unit_id)
    ).all()


def _devices_of(session: Session, unit_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Device.device_id)
            .where(Device.unit_id == unit_id, Device.revoked_at.is_(None))
            .order_by(Device.device_id)
        )
    )


def _resend(session: Session, incident: Incident, area: Area, now: datetime) -> None:
    """Send the units still on the incident the new revision of their order."""
    for order in _orders(session, incident.incident_id):
        if order.state in FINISHED_ORDER_STATES:
            continue
        order.revision = incident.target_revision
        for device_id in _devices_of(session, order.unit_id):
            enqueue(
                session=session,
                event=order_event(session=session, incident=incident, order=order, area=area, device_id=device_id),
                now=now,
            )


def _answer_of(state: OrderState) -> DispatchState | None:
    """The officer's latest answer an order's state stands for (a stand-down counts as finished, like a clear)."""
    match state:
        case OrderState.SENT:
            return None
        case OrderState.CANCELLED:
            return DispatchState.CLEARED
        case _:
            return DispatchState(state.value)


def _moves_forward(current: OrderState, answer: OrderState) -> bool:
    if current in FINISHED_ORDER_STATES:
        return False
    if answer is OrderState.DECLINED:
        return current is OrderState.SENT
    return _PROGRESS.index(answer) > _PROGRESS.index(current)


def _check_verified(session: Session, incident: Incident) -> None:
    """Refuse an arrest unless a second person verified the match as the same person."""
    identity = identity_of_incident(session=session, incident=incident)
    if identity is not None and identity.state is IdentityState.VERIFIED:
        return
    state = identity.state if identity is not None else IdentityState.AWAITING_SECOND
    why = (
        f"{identity.verified_by} found it is not the person (a false alert): close it as wrong_person"
        if identity is not None and identity.state is IdentityState.REFUTED
        else "a second person must verify the match first: the officer on the handset, or a second person in the "
        f"control room (not {identity.confirmed_by if identity is not None else 'the operator'}, who confirmed it)"
    )
    raise IdentityNotVerified(
        f"incident {incident.incident_id} cannot close with an arrest: {why}",
        incident_id=str(incident.incident_id),
        state=state.value,
    )


def _place_of(alert: ConfirmedAlert) -> GeoPoint:
    if alert.lat is None or alert.lon is None:
        raise AlertWithoutPlace(
            f"alert {alert.alert_id} carries no location (the camera had no GPS fix): there is nowhere to search"
        )
    return GeoPoint(lat=alert.lat, lon=alert.lon)


def _target(incident: Incident) -> GeoPoint:
    return GeoPoint(lat=incident.target_lat, lon=incident.target_lon)


def _area(incident: Incident, settings: DispatchSettings) -> Area:
    """The incident's stored area (checked against the same limits when it was drawn)."""
    return parse_area(incident.area, limits=settings.areas)


def _announced(
    session: Session,
    incident: Incident,
    *,
    kind: FeedKind,
    change: str,
    action: str,
    details: dict[str, Any],
    actor: Actor,
    now: datetime,
    settings: DispatchSettings,
) -> IncidentOut:
    """The incident as operators see it after a change, put on the live feed and in the audit trail."""
    out = incident_out(session=session, incident=incident, now=now, settings=settings)
    append_entry(session=session, kind=kind, payload=IncidentChanged(change=change, incident=out), now=now)
    record_by(
        actor,
        session=session,
        action=action,
        record_type="incident",
        record_id=str(incident.incident_id),
        details=details,
        now=now,
    )
    return out
