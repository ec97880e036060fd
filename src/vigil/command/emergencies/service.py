"""Officers' emergencies: raised by a device, acknowledged by an operator, answered with units, resolved.

Rules a control room relies on:

* **Once.** An emergency is stored once, by its id: a resend (the outbox's, or a tracker's SOS sent again) is a
  duplicate, whatever its event id (ingestion checks :func:`known_emergencies`).
* **The officer's latest position.** The officer is where their unit last reported, when that is newer than the
  emergency's own location, else where the emergency said; units are proposed and sent there.
* **Proposals.** Up to 3 available units, nearest estimated arrival first (fresh positions before stale), never
  the officer's own unit nor one already sent, within the largest circle an operator may draw.
* **Answering is dispatching.** Sending units opens the emergency's incident (once) and sends orders through
  :func:`~vigil.command.incidents.service.dispatch_units`, so answers, escalation and stand-down work as for any
  incident; it acknowledges the emergency if nobody had. Every acknowledgement, and every dispatch, tells the
  officer's devices who has it and which units are coming (``emergency.acknowledged``, through the downlink).
* **Everything is audited and on the feed**, in the transaction of the change: ``emergency.raised`` and
  ``emergency.changed`` entries carry :class:`~vigil.command.emergencies.schemas.EmergencyOut`. The caller commits.
"""

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.chain import DEVICE_ACTOR_PREFIX
from vigil.command.audit.service import record_action, record_by
from vigil.command.devices.models import Device
from vigil.command.downlink.service import enqueue
from vigil.command.emergencies.errors import EmergencyResolved, EmergencyWithoutPosition, UnknownEmergency
from vigil.command.emergencies.models import Emergency, EmergencyStatus
from vigil.command.emergencies.schemas import (
    EmergencyDispatch,
    EmergencyList,
    EmergencyOut,
    EmergencyResolve,
    OfficerPosition,
    ProposedUnit,
)
from vigil.command.errors import UnknownUnit
from vigil.command.feed.service import FeedKind, append_entry, open_feed_for_writing
from vigil.command.incidents.errors import UnitNotDispatchable
from vigil.command.incidents.models import IncidentOutcome, IncidentStatus
from vigil.command.incidents.schemas import IncidentClose
from vigil.command.incidents.service import (
    close_incident,
    dispatch_units,
    emergency_incident,
    follow_officer,
    incident_out,
    open_emergency_incident,
)
from vigil.command.units.models import Unit
from vigil.command.units.schemas import PositionReported
from vigil.command.value_sets import one_of
from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.geodesy import GeoPoint, haversine_m
from vigil.dispatch.planning import DispatchPlanning
from vigil.dispatch.ranking import rank_units, suggest_units
from vigil.dispatch.settings import DispatchSettings
from vigil.dispatch.unit import UnitStatus
from vigil.events import EmergencyAcknowledged, OfficerEmergency

PROPOSED_COUNT = 3
"""Units proposed for an emergency at most."""

_METRES_PER_DEGREE_LAT = 111_000.0


def known_emergencies(*, session: Session, emergency_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The emergencies among ``emergency_ids`` that are stored already, with each one's unit."""
    if not emergency_ids:
        return {}
    rows = session.execute(
        select(Emergency.emergency_id, Emergency.unit_id).where(
            one_of(session, Emergency.emergency_id, set(emergency_ids))
        )
    )
    return {emergency_id: unit_id for emergency_id, unit_id in rows}


def record_emergency(
    *,
    session: Session,
    event: OfficerEmergency,
    received_at: datetime,
    planning: DispatchPlanning,
) -> EmergencyOut:
    """Store a new emergency (ingestion calls it in the event's transaction, after its checks) and audit it.

    Args:
        session: in ingestion's transaction; ingestion commits.
        event: the emergency, checked: from a device of its unit, not stored before.
        received_at: when it arrived (UTC).
        planning: the server's dispatch settings and arrival-time model (proposals).

    Returns:
        The emergency as the feed's ``emergency.raised`` entry carries it.
    """
    location = event.location
    emergency = Emergency(
        emergency_id=event.emergency_id,
        event_id=event.id,
        unit_id=event.unit_id,
        device_id=event.device_id,
        trigger=event.trigger,
        status=EmergencyStatus.OPEN,
        raised_at=event.at,
        received_at=received_at,
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
        accuracy_m=location.accuracy_m if location is not None else None,
    )
    session.add(emergency)
    session.flush()
    record_action(
        session=session,
        actor=f"{DEVICE_ACTOR_PREFIX}{event.device_id}",
        action="emergency.raised",
        record_type="emergency",
        record_id=str(event.emergency_id),
        address=None,
        details={"unit_id": event.unit_id, "trigger": event.trigger.value, "located": location is not None},
        now=received_at,
    )
    return emergency_out(session=session, emergency=emergency, now=received_at, planning=planning)


def follow_officers(
    *, session: Session, moved: Mapping[str, PositionReported], now: datetime, settings: DispatchSettings
) -> None:
    """Move the incidents of the moved units' open emergencies to their new positions (see ``follow_officer``).

    Ingestion calls it with the units a batch of positions moved, in the batch's transaction.
    """
    if not moved:
        return
    rows = session.execute(
        select(Emergency.emergency_id, Emergency.unit_id)
        .where(one_of(session, Emergency.unit_id, sorted(moved)), Emergency.status != EmergencyStatus.RESOLVED)
        .order_by(Emergency.raised_at)
    )
    for emergency_id, unit_id in rows.all():
        report = moved[unit_id]
        follow_officer(
            session=session,
            emergency_id=emergency_id,
            position=GeoPoint(lat=report.lat, lon=report.lon),
            accuracy_m=report.accuracy_m,
            at=report.at,
            actor=Actor(user_id=f"{DEVICE_ACTOR_PREFIX}{report.device_id}", display_name=report.device_id),
            now=now,
            settings=settings,
        )


def list_emergencies(
    *,
    session: Session,
    status: EmergencyStatus | None,
    now: datetime,
    planning: DispatchPlanning,
) -> EmergencyList:
    """Emergencies with ``status`` (every one not resolved when None), newest first."""
    query = select(Emergency).order_by(Emergency.raised_at.desc(), Emergency.emergency_id)
    query = (
        query.where(Emergency.status != EmergencyStatus.RESOLVED)
        if status is None
        else query.where(Emergency.status == status)
    )
    return EmergencyList(
        emergencies=[
            emergency_out(session=session, emergency=emergency, now=now, planning=planning)
            for emergency in session.scalars(query).all()
        ]
    )


def get_emergency(
    *, session: Session, emergency_id: uuid.UUID, now: datetime, planning: DispatchPlanning
) -> EmergencyOut:
    """One emergency.

    Raises:
        UnknownEmergency: no such emergency.
    """
    emergency = session.get(Emergency, emergency_id)
    if emergency is None:
        raise UnknownEmergency(f"no emergency {emergency_id}", emergency_id=str(emergency_id))
    return emergency_out(session=session, emergency=emergency, now=now, planning=planning)


def acknowledge_emergency(
    *,
    session: Session,
    emergency_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    planning: DispatchPlanning,
) -> EmergencyOut:
    """An operator has the emergency: the officer's devices are told who; a second acknowledgement changes nothing.

    Raises:
        UnknownEmergency: no such emergency.
        EmergencyResolved: it is over.
    """
    emergency = _locked(session, emergency_id)
    if emergency.status is EmergencyStatus.OPEN:
        _acknowledge(session, emergency, actor, now)
        record_by(
            actor,
            session=session,
            action="emergency.acknowledged",
            record_type="emergency",
            record_id=str(emergency_id),
            details={"unit_id": emergency.unit_id},
            now=now,
        )
        return _announced(session, emergency, now=now, planning=planning)
    return emergency_out(session=session, emergency=emergency, now=now, planning=planning)


def dispatch_to_emergency(
    *,
    session: Session,
    emergency_id: uuid.UUID,
    request: EmergencyDispatch,
    actor: Actor,
    now: datetime,
    planning: DispatchPlanning,
) -> EmergencyOut:
    """Send units to the officer: the emergency's incident is opened if needed, and acknowledged if nobody had.

    Raises:
        UnknownEmergency: no such emergency.
        EmergencyResolved: it is over.
        EmergencyWithoutPosition: nobody knows where the officer is.
        IncidentClosed: an operator closed the emergency's incident while the emergency is open.
        UnitNotDispatchable: a unit is the officer's own, unknown, off duty, without a live device, or already
            sent (nothing is sent to any unit then).
    """
    emergency = _locked(session, emergency_id)
    incident = emergency_incident(session=session, emergency_id=emergency_id)
    if incident is None:
        unit = _unit(session, emergency.unit_id)
        position = officer_position(emergency, unit)
        if position is None:
            raise EmergencyWithoutPosition(
                f"emergency {emergency_id} carried no location and unit {emergency.unit_id} has never reported a "
                "position: there is nowhere to send units; ask the officer where they are by radio",
                emergency_id=str(emergency_id),
            )
        incident_id = open_emergency_incident(
            session=session,
            emergency_id=emergency_id,
            target=GeoPoint(lat=position.lat, lon=position.lon),
            accuracy_m=position.accuracy_m,
            at=position.at,
            actor=actor,
            now=now,
            settings=planning.settings,
        ).incident_id
    else:
        incident_id = incident.incident_id
    if emergency.unit_id in request.unit_ids:
        raise UnitNotDispatchable(
            f"unit {emergency.unit_id} is the officer in danger: send other units (nothing was sent)",
            incident_id=str(incident_id),
            unit_id=emergency.unit_id,
        )
    sent = dispatch_units(
        session=session,
        incident_id=incident_id,
        request=request,
        actor=actor,
        now=now,
        settings=planning.settings,
    )
    call_signs = {d.unit_id: d.call_sign for d in sent.dispatches}
    if emergency.status is EmergencyStatus.OPEN:
        _acknowledge(session, emergency, actor, now, units=[call_signs[u] for u in request.unit_ids])
    else:
        _tell_officer(session, emergency, now, units=[call_signs[u] for u in request.unit_ids])
    record_by(
        actor,
        session=session,
        action="emergency.dispatched",
        record_type="emergency",
        record_id=str(emergency_id),
        details={"incident_id": str(incident_id), "unit_ids": request.unit_ids},
        now=now,
    )
    return _announced(session, emergency, now=now, planning=planning)


def resolve_emergency(
    *,
    session: Session,
    emergency_id: uuid.UUID,
    request: EmergencyResolve,
    actor: Actor,
    now: datetime,
    planning: DispatchPlanning,
) -> EmergencyOut:
    """End the emergency: its incident is closed (outcome ``other``) and the orders still open stood down.

    Resolving one already resolved changes nothing.

    Raises:
        UnknownEmergency: no such emergency.
    """
    emergency = _locked(session, emergency_id, refuse_resolved=False)
    if emergency.status is EmergencyStatus.RESOLVED:
        return emergency_out(session=session, emergency=emergency, now=now, planning=planning)
    incident = emergency_incident(session=session, emergency_id=emergency_id)
    if incident is not None and incident.status is IncidentStatus.OPEN:
        close_incident(
            session=session,
            incident_id=incident.incident_id,
            request=IncidentClose(outcome=IncidentOutcome.OTHER, notes=f"emergency resolved. {request.notes}".strip()),
            actor=actor,
            now=now,
            settings=planning.settings,
        )
    emergency.status = EmergencyStatus.RESOLVED
    emergency.resolved_by, emergency.resolved_at = actor.display_name, now
    emergency.resolution_notes = request.notes
    record_by(
        actor,
        session=session,
        action="emergency.resolved",
        record_type="emergency",
        record_id=str(emergency_id),
        details={"incident_id": str(incident.incident_id) if incident is not None else ""},
        now=now,
    )
    return _announced(session, emergency, now=now, planning=planning)


def emergency_out(*, session: Session, emergency: Emergency, now: datetime, planning: DispatchPlanning) -> EmergencyOut:
    """An emergency as the API and the feed show it, with the units proposed now."""
    unit = _unit(session, emergency.unit_id)
    position = officer_position(emergency, unit)
    incident = emergency_incident(session=session, emergency_id=emergency.emergency_id)
    dispatched = (
        incident_out(session=session, incident=incident, now=now, settings=planning.settings).dispatches
        if incident is not None
        else []
    )
    proposed = (
        _proposals(
            session,
            GeoPoint(lat=position.lat, lon=position.lon),
            exclude={emergency.unit_id, *(order.unit_id for order in dispatched)},
            now=now,
            planning=planning,
        )
        if position is not None and emergency.status is not EmergencyStatus.RESOLVED
        else []
    )
    return EmergencyOut(
        emergency_id=emergency.emergency_id,
        unit_id=emergency.unit_id,
        call_sign=unit.call_sign,
        device_id=emergency.device_id,
        trigger=emergency.trigger,
        status=emergency.status,
        raised_at=emergency.raised_at,
        received_at=emergency.received_at,
        position=position,
        acknowledged_by=emergency.acknowledged_by,
        acknowledged_at=emergency.acknowledged_at,
        resolved_by=emergency.resolved_by,
        resolved_at=emergency.resolved_at,
        incident_id=incident.incident_id if incident is not None else None,
        proposed=proposed,
        dispatched=dispatched,
    )


def officer_position(emergency: Emergency, unit: Unit) -> OfficerPosition | None:
    """Where the officer last was: the unit's latest position when newer than the emergency's location, else that."""
    reported = (
        OfficerPosition(
            lat=unit.position_lat, lon=unit.position_lon, accuracy_m=unit.position_accuracy_m, at=unit.position_at
        )
        if unit.position_at is not None and unit.position_lat is not None and unit.position_lon is not None
        else None
    )
    raised = (
        OfficerPosition(lat=emergency.lat, lon=emergency.lon, accuracy_m=emergency.accuracy_m, at=emergency.raised_at)
        if emergency.lat is not None and emergency.lon is not None
        else None
    )
    if reported is not None and (raised is None or reported.at > raised.at):
        return reported
    return raised


def _locked(session: Session, emergency_id: uuid.UUID, *, refuse_resolved: bool = True) -> Emergency:
    """The emergency, locked for a change (after the feed's writers' lock, before any other row's)."""
    open_feed_for_writing(session=session)
    emergency = session.scalar(
        select(Emergency)
        .where(Emergency.emergency_id == emergency_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if emergency is None:
        raise UnknownEmergency(f"no emergency {emergency_id}", emergency_id=str(emergency_id))
    if refuse_resolved and emergency.status is EmergencyStatus.RESOLVED:
        raise EmergencyResolved(
            f"emergency {emergency_id} was resolved by {emergency.resolved_by} at "
            f"{emergency.resolved_at.isoformat() if emergency.resolved_at else 'an unknown time'}: nothing more "
            "can be sent for it",
            emergency_id=str(emergency_id),
        )
    return emergency


def _unit(session: Session, unit_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise UnknownUnit(unit_id)  # cannot be: the emergency's foreign key holds it, and units are never deleted
    return unit


def _acknowledge(
    session: Session, emergency: Emergency, actor: Actor, now: datetime, *, units: Collection[str] = ()
) -> None:
    emergency.status = EmergencyStatus.ACKNOWLEDGED
    emergency.acknowledged_by, emergency.acknowledged_at = actor.display_name, now
    _tell_officer(session, emergency, now, units=units)


def _tell_officer(session: Session, emergency: Emergency, now: datetime, *, units: Collection[str]) -> None:
    """Send every live device of the officer's unit who has the emergency, and which units are coming."""
    count = len(units)
    message = (
        f"{count} unit{'s' if count > 1 else ''} on {'their' if count > 1 else 'its'} way: {', '.join(units)}"
        if count
        else ""
    )
    devices = session.scalars(
        select(Device.device_id)
        .where(Device.unit_id == emergency.unit_id, Device.revoked_at.is_(None))
        .order_by(Device.device_id)
    )
    for device_id in devices.all():
        enqueue(
            session=session,
            event=EmergencyAcknowledged(
                device_id=device_id,
                emergency_id=emergency.emergency_id,
                by=emergency.acknowledged_by or "Control",
                message=message,
                at=now,
            ),
            now=now,
        )


def _proposals(
    session: Session,
    target: GeoPoint,
    *,
    exclude: Collection[str],
    now: datetime,
    planning: DispatchPlanning,
) -> list[ProposedUnit]:
    """Up to 3 available units to send to ``target``, nearest arrival first, from the units' stored positions.

    The units within the largest circle an operator may draw are ranked as for an incident's area (positions older
    than ``max_age_s`` left out, stale ones after fresh ones).
    """
    reach_m = planning.settings.areas.max_radius_m
    ages = planning.settings.positions
    band = reach_m / _METRES_PER_DEGREE_LAT
    rows = session.execute(
        select(
            Unit.unit_id,
            Unit.call_sign,
            Unit.radio_id,
            Unit.kind,
            Unit.status,
            Unit.position_lat,
            Unit.position_lon,
            Unit.position_accuracy_m,
            Unit.position_at,
        ).where(
            Unit.status == UnitStatus.AVAILABLE,
            Unit.position_at >= now - timedelta(seconds=ages.max_age_s),
            Unit.position_lat.between(target.lat - band, target.lat + band),
            Unit.unit_id.not_in(sorted(exclude)),
        )
    ).all()
    if not rows:
        return []
    distances = haversine_m([row.position_lat for row in rows], [row.position_lon for row in rows], to=target)
    candidates = []
    for row, distance in zip(rows, distances.tolist(), strict=True):
        if distance > reach_m or row.position_lat is None or row.position_lon is None or row.position_at is None:
            continue
        age = max((now - row.position_at).total_seconds(), 0.0)
        candidates.append(
            UnitInArea(
                unit_id=row.unit_id,
                call_sign=row.call_sign,
                radio_id=row.radio_id,
                kind=row.kind,
                status=row.status,
                lat=row.position_lat,
                lon=row.position_lon,
                distance_m=distance,
                accuracy_m=row.position_accuracy_m,
                position_age_s=age,
                stale=age > ages.stale_after_s,
            )
        )
    ranked = rank_units(candidates, target=target, eta_model=planning.eta_model)
    return [
        ProposedUnit(
            unit_id=r.unit.unit_id,
            call_sign=r.unit.call_sign,
            status=r.unit.status,
            distance_m=r.unit.distance_m,
            eta_s=r.eta.seconds,
        )
        for r in suggest_units(ranked, count=PROPOSED_COUNT)
    ]


def _announced(session: Session, emergency: Emergency, *, now: datetime, planning: DispatchPlanning) -> EmergencyOut:
    """The emergency after a change, put on the live feed (the caller audited the change)."""
    out = emergency_out(session=session, emergency=emergency, now=now, planning=planning)
    append_entry(session=session, kind=FeedKind.EMERGENCY_CHANGED, payload=out, now=now)
    return out
