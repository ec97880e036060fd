"""An officer's emergency's incident: orders name the officer, answers and escalation work as for a subject's."""

import uuid
from datetime import datetime, timedelta

import pytest

from tests.command.conftest import Register
from tests.command.events import dispatch_status, position
from tests.command.governance import OPERATOR, ingest_events
from vigil.command.database import Database
from vigil.command.emergencies.schemas import EmergencyDispatch
from vigil.command.emergencies.service import dispatch_to_emergency
from vigil.command.incidents.errors import IncidentClosed
from vigil.command.incidents.models import IncidentKind, IncidentOutcome, OrderState
from vigil.command.incidents.schemas import IncidentClose
from vigil.command.incidents.service import close_incident, escalate_overdue, get_incident
from vigil.command.units.live_index import load_unit_index
from vigil.dispatch.eta import StraightLineEta
from vigil.dispatch.planning import DispatchPlanning
from vigil.dispatch.settings import DispatchSettings, EscalationSettings
from vigil.events import DispatchState, EmergencyTrigger, Location, OfficerEmergency, utc_now

SETTINGS = DispatchSettings(escalation=EscalationSettings(ack_timeout_s=30))
OFFICER = Location(lat=51.5081, lon=-0.1281, accuracy_m=6)
UNITS = {"A-1": (51.5090, -0.1281), "A-2": (51.5081, -0.1310), "A-3": (51.5110, -0.1281)}  # 100, 200, 320 m


@pytest.fixture
def emergency_id(database: Database, register: Register) -> uuid.UUID:
    """A-12's officer (cam-1, at OFFICER) raised an emergency; three units with radios around."""
    now = utc_now()
    register("cam-1", "A-12")
    ingest_events(database, "cam-1", position(lat=OFFICER.lat, lon=OFFICER.lon, at=now - timedelta(seconds=5)))
    for unit_id, (lat, lon) in UNITS.items():
        register(f"radio-{unit_id}", unit_id)
        ingest_events(
            database, f"radio-{unit_id}", position(device_id=f"radio-{unit_id}", unit_id=unit_id, lat=lat, lon=lon)
        )
    raised = OfficerEmergency(
        device_id="cam-1", unit_id="A-12", emergency_id=uuid.uuid4(), trigger=EmergencyTrigger.HANDSET, location=None
    )
    ingest_events(database, "cam-1", raised)
    return raised.emergency_id


def _send(database: Database, emergency_id: uuid.UUID, *unit_ids: str, now: datetime) -> uuid.UUID:
    with database.session() as session:
        out = dispatch_to_emergency(
            session=session,
            emergency_id=emergency_id,
            request=EmergencyDispatch(unit_ids=list(unit_ids)),
            actor=OPERATOR,
            now=now,
            planning=DispatchPlanning.of(SETTINGS),
        )
        session.commit()
    assert out.incident_id is not None
    return out.incident_id


def test_an_unanswered_order_for_an_officer_is_escalated_never_proposing_the_officer(
    database: Database, emergency_id: uuid.UUID
) -> None:
    sent_at = utc_now()
    incident_id = _send(database, emergency_id, "A-1", now=sent_at)
    with database.session() as session:
        index = load_unit_index(session=session, ages=SETTINGS.positions)
        found = escalate_overdue(
            session=session,
            index=index,
            eta_model=StraightLineEta(SETTINGS.ranking),
            settings=SETTINGS,
            now=sent_at + timedelta(seconds=31),
        )
        session.commit()
    # A-12 stands at the target and is available, but is the officer in danger: the next nearest is A-2.
    assert [(e.unit_id, e.why, e.proposed_unit_id) for e in found] == [("A-1", "unanswered", "A-2")]
    with database.session() as session:
        incident = get_incident(session=session, incident_id=incident_id, now=utc_now(), settings=SETTINGS)
    assert (incident.kind, incident.subject, incident.identity, incident.emergency_id) == (
        IncidentKind.OFFICER_EMERGENCY,
        None,
        None,  # nobody's identity to verify
        emergency_id,
    )
    assert (incident.target.lat, incident.target.alert_id) == (OFFICER.lat, None)


def test_answers_move_an_emergencys_orders_and_a_closed_incident_takes_no_more_units(
    database: Database, emergency_id: uuid.UUID
) -> None:
    incident_id = _send(database, emergency_id, "A-1", "A-2", now=utc_now())
    with database.session() as session:
        sent = get_incident(session=session, incident_id=incident_id, now=utc_now(), settings=SETTINGS)
    a1 = next(d.dispatch_id for d in sent.dispatches if d.unit_id == "A-1")
    ingest_events(
        database, "radio-A-1", dispatch_status(device_id="radio-A-1", dispatch_id=a1, status=DispatchState.EN_ROUTE)
    )
    with database.session() as session:
        closed = close_incident(
            session=session,
            incident_id=incident_id,
            request=IncidentClose(outcome=IncidentOutcome.OTHER, notes="officer safe"),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    assert {d.unit_id: d.state for d in closed.dispatches} == {"A-1": OrderState.CANCELLED, "A-2": OrderState.CANCELLED}
    assert {d.unit_id: d.answered_at is not None for d in closed.dispatches} == {"A-1": True, "A-2": False}
    with pytest.raises(IncidentClosed, match="the officer's emergency"):
        _send(database, emergency_id, "A-3", now=utc_now())
