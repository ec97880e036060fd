"""What an officer is sent: the ``dispatch.order`` event for one device, with the match evidence to check in person.

The order carries the target, the search area as one polygon (a circle is sent as the polygon drawn around it),
the subject's summary and watchlist photo, and the evidence of the match: the camera's face crop, the enrolled
chip, the distance and the threshold, and who verified it: the operator who confirmed it (the first
verification) and, once a second person verified the identity (:mod:`vigil.command.verifications`), who did
(``verified_by``; None until then: nothing may be done on the identification alone). These images reach the
officers sent, and no one else, only because a person confirmed the match (the incident could not exist otherwise).

An order for an officer's emergency carries who is in danger (unit, call sign, when it was raised) instead of a
subject, and no images: the target is the officer's latest position.
"""

import uuid

from sqlalchemy.orm import Session

from vigil.command.alerts.models import Alert
from vigil.command.emergencies.models import Emergency
from vigil.command.errors import UnknownAlert, UnknownUnit
from vigil.command.incidents.models import DispatchOrderRecord, Incident
from vigil.command.reviews.service import enrolled_chip, matched_subject
from vigil.command.units.models import Unit
from vigil.command.verifications.schemas import IdentityState
from vigil.command.verifications.service import identity_of_incident
from vigil.dispatch.area import Area
from vigil.events import DispatchOrder, EmergencyBrief, Location, MatchEvidence, SubjectBrief


def order_event(
    *, session: Session, incident: Incident, order: DispatchOrderRecord, area: Area, device_id: str
) -> DispatchOrder:
    """The order for one of the unit's devices.

    Raises:
        UnknownAlert: the alert that placed the target has lost its face crop (it cannot be, while the
            incident is open: retention holds it).
        UnknownUnit: the officer's unit of an emergency is missing (units are never deleted).
    """
    if incident.emergency_id is not None:
        return _emergency_order(session, incident, incident.emergency_id, order, area, device_id)
    alert = session.get(Alert, incident.target_alert_id) if incident.target_alert_id is not None else None
    if alert is None or alert.probe_jpeg is None:
        raise UnknownAlert(
            f"alert {incident.target_alert_id} has no face crop to send as evidence",
            alert_id=str(incident.target_alert_id),
        )
    identity = identity_of_incident(session=session, incident=incident)
    verified = identity is not None and identity.state is IdentityState.VERIFIED
    found = matched_subject(session, alert)
    chip = enrolled_chip(session, found[1]) if found is not None else None
    subject = (
        SubjectBrief(
            subject_id=alert.subject_id,
            name=found[1].display_name,
            category=found[1].category,
            risk_notes=found[1].notes,
            photo_jpeg=chip,
        )
        if found is not None
        else SubjectBrief(subject_id=alert.subject_id, name=alert.subject_id, category="unknown")
    )
    return DispatchOrder(
        device_id=device_id,
        dispatch_id=order.dispatch_id,
        incident_id=incident.incident_id,
        revision=incident.target_revision,
        unit_id=order.unit_id,
        target=Location(lat=incident.target_lat, lon=incident.target_lon, accuracy_m=incident.target_accuracy_m),
        area=area.polygon_geojson(),
        subject=subject,
        evidence=MatchEvidence(
            alert_id=alert.alert_id,
            seen_at=alert.first_seen_at,
            distance=alert.distance,
            threshold=alert.threshold,
            probe_jpeg=alert.probe_jpeg,
            enrolled_jpeg=chip,
            confirmed_by=alert.reviewer_name or alert.reviewed_by,
            verified_by=identity.verified_by if verified and identity is not None else None,
        ),
        instructions=order.instructions,
    )


def _emergency_order(
    session: Session,
    incident: Incident,
    emergency_id: uuid.UUID,
    order: DispatchOrderRecord,
    area: Area,
    device_id: str,
) -> DispatchOrder:
    emergency = session.get_one(Emergency, emergency_id)  # the incident's foreign key holds it
    unit = session.get(Unit, emergency.unit_id)
    if unit is None:
        raise UnknownUnit(emergency.unit_id)
    return DispatchOrder(
        device_id=device_id,
        dispatch_id=order.dispatch_id,
        incident_id=incident.incident_id,
        revision=incident.target_revision,
        unit_id=order.unit_id,
        target=Location(lat=incident.target_lat, lon=incident.target_lon, accuracy_m=incident.target_accuracy_m),
        area=area.polygon_geojson(),
        emergency=EmergencyBrief(
            emergency_id=emergency.emergency_id,
            unit_id=emergency.unit_id,
            call_sign=unit.call_sign,
            raised_at=emergency.raised_at,
        ),
        instructions=order.instructions,
    )
