"""Incidents: only confirmed alerts start them; orders, answers, escalation, a moving target and closing."""

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.command.conftest import Register
from tests.command.events import alert, dispatch_status, position
from tests.command.governance import OPERATOR, ingest_events, live_subject, make_keys, new_watchlist, review
from tests.support.inbox import Inbox
from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.command.database import Database
from vigil.command.downlink.service import deliver_pending
from vigil.command.feed.service import read_entries
from vigil.command.incidents.errors import (
    AlertAlreadyActedOn,
    IncidentClosed,
    SubjectAlreadyPursued,
    UnitNotDispatchable,
)
from vigil.command.incidents.models import IncidentOutcome, OrderState
from vigil.command.incidents.schemas import AreaChange, DispatchRequest, IncidentClose, IncidentOpen, IncidentOut
from vigil.command.incidents.service import (
    OpenIncidentHold,
    change_area,
    close_incident,
    dispatch_units,
    escalate_overdue,
    follow_sighting,
    get_incident,
    open_incident,
)
from vigil.command.reviews.errors import AlertDismissed, AlertUnreviewed
from vigil.command.reviews.service import confirmed_alert
from vigil.command.units.live_index import load_unit_index
from vigil.command.units.models import Unit
from vigil.dispatch.eta import StraightLineEta
from vigil.dispatch.settings import DispatchSettings, EscalationSettings
from vigil.dispatch.unit import UnitStatus
from vigil.events import DispatchCancelled, DispatchOrder, DispatchState, Location, parse_event, utc_now

SETTINGS = DispatchSettings(escalation=EscalationSettings(ack_timeout_s=30))
# The camera at Trafalgar Square; units around it (distances from the alert's place).
CAMERA = Location(lat=51.5081, lon=-0.1281, accuracy_m=8)
UNITS = {
    "A-1": (51.5090, -0.1281),  # 100 m
    "A-2": (51.5081, -0.1310),  # 200 m
    "A-3": (51.5110, -0.1281),  # 320 m
    "B-9": (51.5300, -0.1281),  # 2.4 km: outside the default circle
}


@pytest.fixture
def street(database: Database, register: Register) -> None:
    """The camera cam-1 (unit A-12, at the alert's place) and four units, each with a device and a position."""
    register("cam-1", "A-12")
    now = utc_now()
    ingest_events(database, "cam-1", position(lat=CAMERA.lat, lon=CAMERA.lon, at=now))
    for unit_id, (lat, lon) in UNITS.items():
        device_id = f"radio-{unit_id}"
        register(device_id, unit_id)
        ingest_events(database, device_id, position(device_id=device_id, unit_id=unit_id, lat=lat, lon=lon, at=now))


def _raise(database: Database, probe_jpeg: bytes, *, decision: str | None, **fields: object) -> uuid.UUID:
    raised = alert(probe_jpeg, location=CAMERA, **fields)
    ingest_events(database, str(fields.get("device_id", "cam-1")), raised)
    if decision is not None:
        review(database, raised.alert_id, decision, at=utc_now(), reason="not him")
    return raised.alert_id


def _open(database: Database, alert_id: uuid.UUID, **area: object) -> IncidentOut:
    with database.session() as session:
        out = open_incident(
            session=session,
            request=IncidentOpen(alert_id=alert_id, **area),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    return out


def _dispatch(database: Database, incident: IncidentOut, *units: str, now: datetime | None = None) -> IncidentOut:
    with database.session() as session:
        out = dispatch_units(
            session=session,
            incident_id=incident.incident_id,
            request=DispatchRequest(unit_ids=list(units), instructions="Detain if confirmed in person."),
            actor=OPERATOR,
            now=now or utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    return out


def _delivered(database: Database) -> list[Message]:
    """What the centre sends the devices now, once every message has reached the subscriber's thread."""
    bus = MemoryBus()
    received = Inbox()
    bus.subscribe("vigil/v1/devices/+/down/#", received)
    try:
        published = deliver_pending(database=database, bus=bus)
        # The bus hands each message to its subscriber's thread, and stopping it drops what is still queued.
        return received.wait_for_messages(published)
    finally:
        bus.stop()


def _status(database: Database, unit_id: str) -> UnitStatus:
    with database.session() as session:
        return session.get_one(Unit, unit_id).status


@pytest.mark.parametrize(("decision", "error"), [(None, AlertUnreviewed), ("dismissed", AlertDismissed)])
def test_an_unreviewed_or_dismissed_alert_cannot_start_an_incident(
    database: Database, street: None, probe_jpeg: bytes, decision: str | None, error: type[Exception]
) -> None:
    alert_id = _raise(database, probe_jpeg, decision=decision)
    with pytest.raises(error, match=str(alert_id)):
        _open(database, alert_id)
    assert [m.topic for m in _delivered(database) if "/dispatch." in m.topic] == []


def test_a_confirmed_alert_opens_one_incident_and_units_get_the_order_with_the_evidence(
    database: Database, street: None, probe_jpeg: bytes, tmp_path: Path
) -> None:
    now = utc_now()
    keys = make_keys(tmp_path)
    watchlist_id = new_watchlist(database, now)
    version = live_subject(database, keys, watchlist_id, "obama", probe_jpeg, now=now)
    alert_id = _raise(database, probe_jpeg, decision="confirmed", watchlist_version=version)
    incident = _open(database, alert_id)
    assert incident.area["properties"]["radius_m"] == SETTINGS.areas.default_radius_m
    assert (incident.subject.name, incident.target.lat, incident.target.revision) == ("Obama", CAMERA.lat, 1)
    with pytest.raises(AlertAlreadyActedOn):
        _open(database, alert_id)
    _delivered(database)  # the review decision

    sent = _dispatch(database, incident, "A-1", "A-2")
    assert [(d.unit_id, d.state) for d in sent.dispatches] == [("A-1", OrderState.SENT), ("A-2", OrderState.SENT)]
    assert (_status(database, "A-1"), _status(database, "A-3")) == (UnitStatus.DISPATCHED, UnitStatus.AVAILABLE)
    messages = _delivered(database)
    assert sorted(m.topic for m in messages) == [
        "vigil/v1/devices/radio-A-1/down/dispatch.order",
        "vigil/v1/devices/radio-A-2/down/dispatch.order",
    ]
    order = parse_event(messages[0].payload)
    assert isinstance(order, DispatchOrder)
    assert (order.subject.name, order.subject.category, order.instructions) == (
        "Obama",
        "wanted_on_warrant",
        "Detain if confirmed in person.",
    )
    assert order.evidence.probe_jpeg == probe_jpeg
    assert order.evidence.enrolled_jpeg is not None
    assert (order.evidence.alert_id, order.evidence.threshold) == (alert_id, 0.5)
    assert order.area["type"] == "Polygon"  # the circle, as the polygon drawn around it

    with pytest.raises(UnitNotDispatchable, match="already has an order"):
        _dispatch(database, incident, "A-3", "A-1")  # nothing is sent to A-3 either
    assert _status(database, "A-3") is UnitStatus.AVAILABLE
    with pytest.raises(UnitNotDispatchable, match="is not a unit"):
        _dispatch(database, incident, "Z-99")


def test_officers_answers_move_their_orders_and_units_and_a_decline_frees_the_unit(
    database: Database, street: None, probe_jpeg: bytes
) -> None:
    incident = _open(database, _raise(database, probe_jpeg, decision="confirmed"))
    sent = _dispatch(database, incident, "A-1", "A-2")
    ids = {d.unit_id: d.dispatch_id for d in sent.dispatches}
    now = utc_now()
    answers = [
        ("A-1", DispatchState.ACCEPTED, 1),
        ("A-1", DispatchState.ON_SCENE, 3),
        ("A-1", DispatchState.EN_ROUTE, 2),  # arrives late, after on scene: it changes nothing
        ("A-2", DispatchState.DECLINED, 1),
    ]
    for unit_id, state, second in answers:
        event = dispatch_status(
            device_id=f"radio-{unit_id}",
            dispatch_id=ids[unit_id],
            status=state,
            reason="on another call" if state is DispatchState.DECLINED else "",
            at=now + timedelta(seconds=second),
        )
        ingest_events(database, f"radio-{unit_id}", event)
    with database.session() as session:
        after = get_incident(session=session, incident_id=incident.incident_id, now=utc_now(), settings=SETTINGS)
    states = {d.unit_id: (d.state, d.reason) for d in after.dispatches}
    assert states == {"A-1": (OrderState.ON_SCENE, ""), "A-2": (OrderState.DECLINED, "on another call")}
    assert (_status(database, "A-1"), _status(database, "A-2")) == (UnitStatus.ON_SCENE, UnitStatus.AVAILABLE)


def test_an_unanswered_order_and_a_decline_are_escalated_once_with_the_next_nearest_unit(
    database: Database, street: None, probe_jpeg: bytes
) -> None:
    incident = _open(database, _raise(database, probe_jpeg, decision="confirmed"))
    sent_at = utc_now()
    sent = _dispatch(database, incident, "A-1", "A-2", now=sent_at)
    a2 = next(d.dispatch_id for d in sent.dispatches if d.unit_id == "A-2")
    ingest_events(
        database, "radio-A-2", dispatch_status(device_id="radio-A-2", dispatch_id=a2, status=DispatchState.DECLINED)
    )
    with database.session() as session:
        index = load_unit_index(session=session, ages=SETTINGS.positions)

    def escalate(at: datetime) -> list[tuple[str, str, str | None]]:
        with database.session() as session:
            found = escalate_overdue(
                session=session, index=index, eta_model=StraightLineEta(SETTINGS.ranking), settings=SETTINGS, now=at
            )
            session.commit()
        return [(e.unit_id, e.why, e.proposed_unit_id) for e in found]

    # The decline is escalated at once, A-1's silence only after the 30 s timeout, each proposing the nearest
    # available unit without an order: A-12, the officer whose camera saw the subject, standing at the spot.
    assert escalate(sent_at + timedelta(seconds=10)) == [("A-2", "declined", "A-12")]
    assert escalate(sent_at + timedelta(seconds=20)) == []
    assert escalate(sent_at + timedelta(seconds=31)) == [("A-1", "unanswered", "A-12")]
    assert escalate(sent_at + timedelta(seconds=60)) == []
    with database.session() as session:
        kinds = [e.kind for e in read_entries(session=session, after=0, upto=10**9, limit=10_000)]
    assert kinds.count("dispatch.escalated") == 2


def test_a_new_confirmed_sighting_moves_the_target_and_the_units_get_the_update(
    database: Database, street: None, probe_jpeg: bytes, register: Register
) -> None:
    first = _raise(database, probe_jpeg, decision="confirmed")
    incident = _open(database, first)
    sent = _dispatch(database, incident, "A-1")
    _delivered(database)
    register("cam-2", "C-5")
    later = alert(
        probe_jpeg,
        device_id="cam-2",
        unit_id="C-5",
        location=Location(lat=51.5070, lon=-0.1250, accuracy_m=10),
        first_seen_at=utc_now() + timedelta(seconds=1),
    )
    ingest_events(database, "cam-2", later)
    review(database, later.alert_id, "confirmed", at=utc_now())
    with pytest.raises(SubjectAlreadyPursued, match=str(incident.incident_id)):
        _open(database, later.alert_id)  # a second incident for the same subject is refused...
    with database.session() as session:  # ...its sighting moves the open one instead (the review API does this)
        moved = follow_sighting(
            session=session,
            alert=confirmed_alert(session=session, alert_id=later.alert_id),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    assert moved is not None
    assert (moved.target.lat, moved.target.lon, moved.target.revision, moved.target.alert_id) == (
        51.5070,
        -0.1250,
        2,
        later.alert_id,
    )
    assert moved.area["geometry"]["coordinates"] == [-0.1250, 51.5070]  # the default circle follows the target
    (update,) = [m for m in _delivered(database) if m.topic.endswith("dispatch.order")]
    order = parse_event(update.payload)
    assert isinstance(order, DispatchOrder)
    assert (order.dispatch_id, order.revision, order.target.lat) == (sent.dispatches[0].dispatch_id, 2, 51.5070)
    assert order.evidence.alert_id == later.alert_id
    with database.session() as session:  # an older sighting never moves it back
        assert (
            follow_sighting(
                session=session,
                alert=confirmed_alert(session=session, alert_id=first),
                actor=OPERATOR,
                now=utc_now(),
                settings=SETTINGS,
            )
            is None
        )


def test_an_operator_redraws_the_area_and_closing_stands_down_the_open_orders(
    database: Database, street: None, probe_jpeg: bytes
) -> None:
    alert_id = _raise(database, probe_jpeg, decision="confirmed")
    incident = _open(database, alert_id)
    sent = _dispatch(database, incident, "A-1", "A-2")
    square = {
        "type": "Polygon",
        "coordinates": [[[-0.131, 51.507], [-0.125, 51.507], [-0.125, 51.510], [-0.131, 51.510], [-0.131, 51.507]]],
    }
    with database.session() as session:
        redrawn = change_area(
            session=session,
            incident_id=incident.incident_id,
            request=AreaChange(area=square),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    assert (redrawn.area["type"], redrawn.target.revision) == ("Polygon", 2)
    a1 = next(d.dispatch_id for d in sent.dispatches if d.unit_id == "A-1")
    ingest_events(
        database, "radio-A-1", dispatch_status(device_id="radio-A-1", dispatch_id=a1, status=DispatchState.CLEARED)
    )
    with database.session() as session:
        held = OpenIncidentHold().held_alert_ids(session=session, alert_ids=[alert_id, uuid.uuid4()])
    assert held == {alert_id}  # retention keeps the crop while the incident is open
    _delivered(database)
    with database.session() as session:
        closed = close_incident(
            session=session,
            incident_id=incident.incident_id,
            request=IncidentClose(outcome=IncidentOutcome.NOT_FOUND, notes="area searched"),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
        session.commit()
    states = {d.unit_id: d.state for d in closed.dispatches}
    assert states == {"A-1": OrderState.CLEARED, "A-2": OrderState.CANCELLED}
    assert (_status(database, "A-1"), _status(database, "A-2")) == (UnitStatus.AVAILABLE, UnitStatus.AVAILABLE)
    stand_downs = [parse_event(m.payload) for m in _delivered(database)]
    assert [(type(e), e.device_id) for e in stand_downs] == [(DispatchCancelled, "radio-A-2")]
    with database.session() as session:
        assert OpenIncidentHold().held_alert_ids(session=session, alert_ids=[alert_id]) == set()
    with pytest.raises(IncidentClosed):
        _dispatch(database, incident, "A-3")
