"""The public report counts alerts: an officer's emergency, however its incident ends, is not one."""

import uuid
from datetime import timedelta

from tests.command.conftest import Register
from tests.command.events import position
from tests.command.governance import OPERATOR, ingest_events
from vigil.command.database import Database
from vigil.command.emergencies.schemas import EmergencyDispatch
from vigil.command.emergencies.service import dispatch_to_emergency
from vigil.command.incidents.models import IncidentOutcome
from vigil.command.incidents.schemas import IncidentClose
from vigil.command.incidents.service import close_incident
from vigil.command.report.service import build_report
from vigil.dispatch.planning import DispatchPlanning
from vigil.dispatch.settings import DispatchSettings
from vigil.events import EmergencyTrigger, Location, OfficerEmergency, utc_now


def test_an_emergency_incident_closed_even_as_the_wrong_person_is_no_alert_in_the_report(
    database: Database, register: Register
) -> None:
    now = utc_now()
    register("cam-1", "A-12")
    register("radio-B-7", "B-7")
    ingest_events(database, "radio-B-7", position(device_id="radio-B-7", unit_id="B-7", lat=51.509))
    raised = OfficerEmergency(
        device_id="cam-1",
        unit_id="A-12",
        emergency_id=uuid.uuid4(),
        trigger=EmergencyTrigger.TRACKER_SOS,
        location=Location(lat=51.5081, lon=-0.1281),
    )
    ingest_events(database, "cam-1", raised)
    with database.session() as session:
        sent = dispatch_to_emergency(
            session=session,
            emergency_id=raised.emergency_id,
            request=EmergencyDispatch(unit_ids=["B-7"]),
            actor=OPERATOR,
            now=now,
            planning=DispatchPlanning.of(DispatchSettings()),
        )
        assert sent.incident_id is not None
        close_incident(  # the worst an operator could record: it must not become a false alert
            session=session,
            incident_id=sent.incident_id,
            request=IncidentClose(outcome=IncidentOutcome.WRONG_PERSON),
            actor=OPERATOR,
            now=now,
            settings=DispatchSettings(),
        )
        session.commit()
    with database.session() as session:
        report = build_report(
            session=session, period_from=now - timedelta(hours=1), period_to=now + timedelta(hours=1), now=now
        )
    totals = report.totals
    assert (totals.alerts, totals.false_alerts, totals.wrong_person, totals.confirmed) == (0, 0, 0, 0)
