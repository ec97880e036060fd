"""An officer's emergency through the API: raised by a device, on the feed, acknowledged, answered, resolved."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.command.conftest import Register, RunningServer
from tests.command.events import position
from vigil.command.app import create_app
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import Transport
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.service import ingest
from vigil.command.settings import CommandSettings, IngestionLimits
from vigil.dispatch.settings import DispatchSettings, RankingSettings, SpeedProfile
from vigil.events import (
    DispatchCancelled,
    DispatchOrder,
    EmergencyAcknowledged,
    EmergencyTrigger,
    Event,
    Location,
    OfficerEmergency,
    encode_event,
    parse_event,
    utc_now,
)

# The officer, A-12 (device cam-1), at Trafalgar Square; units around (distances from the officer).
OFFICER = Location(lat=51.5081, lon=-0.1281, accuracy_m=6)
UNITS = {
    "B-7": (51.5090, -0.1281),  # 100 m
    "C-3": (51.5081, -0.1310),  # 200 m
    "D-1": (51.5110, -0.1281),  # 320 m
    "E-5": (51.5085, -0.1281),  # 45 m, but off duty
    "F-2": (51.5300, -0.1281),  # 2.4 km: the fourth available unit, never proposed with three nearer
}

Send = Callable[..., dict[str, Any]]


@pytest.fixture
def tokens(register: Register) -> dict[str, str]:
    """Each device's token: the officer's camera and one radio per other unit."""
    found = {"cam-1": register("cam-1", "A-12")}
    for unit_id in UNITS:
        found[f"radio-{unit_id}"] = register(f"radio-{unit_id}", unit_id)
    return found


@pytest.fixture
def send(server: RunningServer, tokens: dict[str, str]) -> Send:
    """Post events as a device over HTTP; returns the answer."""

    def run(device_id: str, *events: Event) -> dict[str, Any]:
        body = b"[" + b",".join(encode_event(e) for e in events) + b"]"
        with server.client(tokens[device_id]) as client:
            response = client.post("/api/v1/events", content=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    return run


@pytest.fixture
def street(send: Send, server: RunningServer, operator_token: str) -> datetime:
    """Every unit on the street with a position a minute ago, E-5 off duty; returns when they reported."""
    at = utc_now() - timedelta(seconds=60)
    for unit_id, (lat, lon) in UNITS.items():
        device_id = f"radio-{unit_id}"
        send(device_id, position(device_id=device_id, unit_id=unit_id, lat=lat, lon=lon, at=at))
    with server.client(operator_token) as client:
        client.patch("/api/v1/units/E-5", json={"status": "off_duty", "reason": "end of shift"}).raise_for_status()
    return at


def _emergency(**changes: Any) -> OfficerEmergency:
    fields: dict[str, Any] = {
        "device_id": "cam-1",
        "unit_id": "A-12",
        "emergency_id": uuid.uuid4(),
        "trigger": EmergencyTrigger.HANDSET,
        "location": OFFICER,
        "at": utc_now() - timedelta(seconds=50),
    }
    return OfficerEmergency(**(fields | changes))


def _down(database: Database, device_id: str, type_: str) -> list[Any]:
    """The events queued for a device, of one type, oldest first."""
    with database.session() as session:
        payloads = session.scalars(
            select(DownlinkMessage.payload)
            .where(DownlinkMessage.device_id == device_id, DownlinkMessage.type == type_)
            .order_by(DownlinkMessage.id)
        ).all()
    return [parse_event(payload) for payload in payloads]


def _actions(database: Database, record_id: str) -> list[tuple[str, str]]:
    with database.session() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.record_id == record_id)
            .order_by(AuditEntry.seq)
        ).all()
    return [(actor, action) for actor, action in rows]


def _feed(client: httpx.Client, kind: str) -> list[dict[str, Any]]:
    entries = client.get("/api/v1/feed", params={"after": 0, "limit": 1000}).json()["entries"]
    return [entry["payload"] for entry in entries if entry["kind"] == kind]


def _ingest(database: Database, device_id: str, event: Event) -> IngestResult:
    """The MQTT-free ingestion path, as the bus subscriber and the OsmAnd endpoint call it."""
    with database.session() as session:
        return ingest(
            session=session,
            raw=encode_event(event),
            transport=Transport.MQTT,
            authenticated_device_id=device_id,
            limits=IngestionLimits(),
            metrics=IngestionMetrics(),
        )


def test_an_emergency_is_raised_acknowledged_answered_with_units_followed_and_resolved(
    server: RunningServer, operator_token: str, send: Send, street: datetime, database: Database
) -> None:
    raised = _emergency()
    assert send("cam-1", raised)["accepted"] == 1
    emergency_id = str(raised.emergency_id)
    operator = server.client(operator_token)

    (listed,) = operator.get("/api/v1/emergencies").json()["emergencies"]
    assert (listed["emergency_id"], listed["status"], listed["trigger"], listed["device_id"]) == (
        emergency_id,
        "open",
        "handset",
        "cam-1",
    )
    # The emergency's location is newer than the unit's (it never reported one): the officer is there.
    assert (listed["position"]["lat"], listed["position"]["lon"]) == (OFFICER.lat, OFFICER.lon)
    assert [p["unit_id"] for p in listed["proposed"]] == ["B-7", "C-3", "D-1"]
    assert [round(p["distance_m"], -1) for p in listed["proposed"]] == [100, 200, 320]
    assert (listed["incident_id"], listed["dispatched"], listed["acknowledged_by"]) == (None, [], None)
    (on_feed,) = _feed(operator, "emergency.raised")
    assert on_feed == listed
    assert _actions(database, emergency_id) == [("device:cam-1", "emergency.raised")]

    acknowledged = operator.post(f"/api/v1/emergencies/{emergency_id}/acknowledge", json={}).json()
    assert (acknowledged["status"], acknowledged["acknowledged_by"]) == ("acknowledged", "OP-1")
    (told,) = _down(database, "cam-1", "emergency.acknowledged")
    assert isinstance(told, EmergencyAcknowledged)
    assert (told.emergency_id, told.by, told.message) == (raised.emergency_id, "OP-1", "")
    again = operator.post(f"/api/v1/emergencies/{emergency_id}/acknowledge", json={}).json()
    assert again == acknowledged  # nothing changes, nothing more is sent
    assert len(_down(database, "cam-1", "emergency.acknowledged")) == 1

    sent = operator.post(
        f"/api/v1/emergencies/{emergency_id}/dispatch", json={"unit_ids": ["B-7", "C-3"], "instructions": ""}
    ).json()
    assert [(d["unit_id"], d["state"]) for d in sent["dispatched"]] == [("B-7", "sent"), ("C-3", "sent")]
    assert [p["unit_id"] for p in sent["proposed"]] == ["D-1", "F-2"]  # never a unit already sent
    incident_id = sent["incident_id"]
    orders = {unit_id: _down(database, f"radio-{unit_id}", "dispatch.order") for unit_id in ("B-7", "C-3")}
    for unit_id, (order,) in orders.items():
        assert isinstance(order, DispatchOrder)
        assert (order.subject, order.evidence, str(order.incident_id), order.unit_id) == (
            None,
            None,
            incident_id,
            unit_id,
        )
        assert order.emergency is not None
        assert (order.emergency.emergency_id, order.emergency.unit_id, order.emergency.call_sign) == (
            raised.emergency_id,
            "A-12",
            "A-12",
        )
        assert (order.target.lat, order.target.lon, order.revision) == (OFFICER.lat, OFFICER.lon, 1)
    coming = _down(database, "cam-1", "emergency.acknowledged")[-1]
    assert coming.message == "2 units on their way: B-7, C-3"
    incident = operator.get(f"/api/v1/incidents/{incident_id}").json()
    assert (incident["kind"], incident["subject"], incident["alert_id"], incident["emergency_id"]) == (
        "officer_emergency",
        None,
        None,
        emergency_id,
    )
    units = {u["unit_id"]: u["status"] for u in operator.get("/api/v1/units").json()["units"]}
    assert (units["B-7"], units["C-3"], units["D-1"]) == ("dispatched", "dispatched", "available")
    assert [e["status"] for e in _feed(operator, "emergency.changed")] == ["acknowledged", "acknowledged"]

    # The officer moves: too soon (5 s), too little (12 s, 10 m), then far enough and late enough.
    def officer_at(seconds: float, north_m: float) -> OfficerEmergency | Any:
        return position(lat=OFFICER.lat + north_m / 111_200, lon=OFFICER.lon, at=raised.at + timedelta(seconds=seconds))

    for seconds, north_m, revision in ((5, 100, 1), (12, 10, 1), (15, 120, 2)):
        send("cam-1", officer_at(seconds, north_m))
        target = operator.get(f"/api/v1/incidents/{incident_id}").json()["target"]
        assert target["revision"] == revision, (seconds, north_m)
    assert target["lat"] == pytest.approx(OFFICER.lat + 120 / 111_200)
    updates = _down(database, "radio-B-7", "dispatch.order")
    assert [(o.revision, round(o.target.lat, 6)) for o in updates] == [
        (1, OFFICER.lat),
        (2, round(OFFICER.lat + 120 / 111_200, 6)),
    ]
    followed = operator.get(f"/api/v1/emergencies/{emergency_id}").json()
    assert followed["position"]["lat"] == pytest.approx(OFFICER.lat + 120 / 111_200)  # the unit's newest

    resolved = operator.post(f"/api/v1/emergencies/{emergency_id}/resolve", json={"notes": "officer safe"}).json()
    assert (resolved["status"], resolved["resolved_by"], resolved["proposed"]) == ("resolved", "OP-1", [])
    assert [d["state"] for d in resolved["dispatched"]] == ["cancelled", "cancelled"]
    for unit_id in ("B-7", "C-3"):
        (stood_down,) = _down(database, f"radio-{unit_id}", "dispatch.cancelled")
        assert isinstance(stood_down, DispatchCancelled)
    closed = operator.get(f"/api/v1/incidents/{incident_id}").json()
    assert (closed["status"], closed["outcome"]) == ("closed", "other")
    units = {u["unit_id"]: u["status"] for u in operator.get("/api/v1/units").json()["units"]}
    assert (units["B-7"], units["C-3"]) == ("available", "available")
    assert operator.get("/api/v1/emergencies").json()["emergencies"] == []
    assert [e["emergency_id"] for e in operator.get("/api/v1/emergencies?status=resolved").json()["emergencies"]] == [
        emergency_id
    ]
    for action, body in (("dispatch", {"unit_ids": ["D-1"]}), ("acknowledge", {})):
        refused = operator.post(f"/api/v1/emergencies/{emergency_id}/{action}", json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "emergency_resolved")
    assert operator.post(f"/api/v1/emergencies/{emergency_id}/resolve", json={}).json() == resolved
    assert [action for _, action in _actions(database, emergency_id)] == [
        "emergency.raised",
        "emergency.acknowledged",
        "emergency.dispatched",
        "emergency.resolved",
    ]
    operator.close()


def test_a_resend_is_one_emergency_and_only_the_units_own_device_speaks_for_it(
    server: RunningServer, operator_token: str, street: datetime, database: Database
) -> None:
    raised = _emergency(trigger=EmergencyTrigger.TRACKER_SOS, location=None)
    assert _ingest(database, "cam-1", raised).outcome is Outcome.ACCEPTED
    assert _ingest(database, "cam-1", raised).outcome is Outcome.DUPLICATE  # the same event again
    # The same emergency under a new event id (a tracker's SOS sent again): a duplicate, acknowledged as stored.
    assert _ingest(database, "cam-1", _emergency(emergency_id=raised.emergency_id)).outcome is Outcome.DUPLICATE
    # Another unit's device cannot raise an emergency for A-12, nor claim this one.
    foreign = _ingest(database, "radio-B-7", _emergency(device_id="radio-B-7"))
    assert (foreign.outcome, foreign.reason) == (Outcome.REJECTED, "unit_mismatch")
    claimed = _ingest(
        database, "radio-B-7", _emergency(device_id="radio-B-7", unit_id="B-7", emergency_id=raised.emergency_id)
    )
    assert (claimed.outcome, claimed.reason) == (Outcome.REJECTED, "conflict")
    with server.client(operator_token) as operator:
        (listed,) = operator.get("/api/v1/emergencies").json()["emergencies"]
        assert (listed["emergency_id"], listed["trigger"]) == (str(raised.emergency_id), "tracker_sos")
        assert len(_feed(operator, "emergency.raised")) == 1


def test_unknown_emergencies_are_404_and_units_that_cannot_go_are_409_with_nothing_sent(
    server: RunningServer, operator_token: str, send: Send, street: datetime, database: Database
) -> None:
    operator = server.client(operator_token)
    unknown = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/api/v1/emergencies/{unknown}", None),
        ("POST", f"/api/v1/emergencies/{unknown}/acknowledge", {}),
        ("POST", f"/api/v1/emergencies/{unknown}/dispatch", {"unit_ids": ["B-7"]}),
        ("POST", f"/api/v1/emergencies/{unknown}/resolve", {}),
    ):
        answer = operator.request(method, path, json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_emergency"), path

    # Without a location, and no position of the unit ever: nowhere to send anyone.
    lost = _emergency(location=None)
    send("cam-1", lost)
    shown = operator.get(f"/api/v1/emergencies/{lost.emergency_id}").json()
    assert (shown["position"], shown["proposed"]) == (None, [])
    refused = operator.post(f"/api/v1/emergencies/{lost.emergency_id}/dispatch", json={"unit_ids": ["B-7"]})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "emergency_without_position")
    assert "ask the officer where they are" in refused.json()["error"]["message"]

    # Once the unit reports a position, units can go, but not the officer's own, nor one off duty.
    send("cam-1", position(at=lost.at + timedelta(seconds=1)))
    for unit_ids, why in ((["B-7", "A-12"], "is the officer in danger"), (["B-7", "E-5"], "is off duty")):
        refused = operator.post(f"/api/v1/emergencies/{lost.emergency_id}/dispatch", json={"unit_ids": unit_ids})
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "unit_not_dispatchable")
        assert why in refused.json()["error"]["message"]
    after = operator.get(f"/api/v1/emergencies/{lost.emergency_id}").json()
    assert (after["status"], after["incident_id"], after["dispatched"]) == ("open", None, [])
    assert _down(database, "radio-B-7", "dispatch.order") == []
    assert _down(database, "cam-1", "emergency.acknowledged") == []
    sent = operator.post(f"/api/v1/emergencies/{lost.emergency_id}/dispatch", json={"unit_ids": ["B-7"]}).json()
    assert (sent["status"], sent["acknowledged_by"], [d["unit_id"] for d in sent["dispatched"]]) == (
        "acknowledged",
        "OP-1",
        ["B-7"],
    )
    (told,) = _down(database, "cam-1", "emergency.acknowledged")  # dispatching acknowledged it
    assert told.message == "1 unit on its way: B-7"
    twice = operator.post(f"/api/v1/emergencies/{lost.emergency_id}/dispatch", json={"unit_ids": ["B-7"]})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "unit_not_dispatchable")
    operator.close()


def test_the_raised_entry_proposes_with_the_servers_own_dispatch_settings_as_the_api_does(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    tokens: dict[str, str],
    operator_token: str,
    street: datetime,
) -> None:
    walking_slowly = DispatchSettings(ranking=RankingSettings(foot=SpeedProfile(speed_mps=0.5, detour_factor=2.0)))
    custom = serve(create_app(settings.model_copy(update={"dispatch": walking_slowly})))
    raised = _emergency()
    with custom.client(tokens["cam-1"]) as client:
        assert client.post("/api/v1/events", content=encode_event(raised)).json()["accepted"] == 1
    with custom.client(operator_token) as operator:
        (listed,) = operator.get("/api/v1/emergencies").json()["emergencies"]
        (on_feed,) = _feed(operator, "emergency.raised")
    assert on_feed["proposed"] == listed["proposed"]
    # B-7 is 100 m away on foot: 100 m x 2.0 / 0.5 m/s, not the default 100 m x 1.3 / 1.4 m/s.
    assert listed["proposed"][0]["unit_id"] == "B-7"
    assert listed["proposed"][0]["eta_s"] == pytest.approx(400, rel=0.05)
