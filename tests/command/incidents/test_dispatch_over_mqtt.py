"""Camera to dispatch through a real Mosquitto: alert, confirmation, units in the area, orders, answers, the
officer's verification of the match, close."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert, position, send_watchlist
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.settings import CommandSettings
from vigil.events import (
    AlertReviewed,
    AlertVerified,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    Event,
    IdentityVerdict,
    Location,
    encode_event,
    parse_event,
    topic_for,
)

CAMERA = Location(lat=51.5081, lon=-0.1281, accuracy_m=8)
UNITS = {"A-1": (51.5090, -0.1281), "A-2": (51.5081, -0.1310), "A-3": (51.5110, -0.1281)}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path)
    yield started
    started.stop()


class Device:
    """A unit's device on the broker: what it publishes, and what control sends it."""

    def __init__(self, broker: Broker, device_id: str) -> None:
        self.device_id = device_id
        self.received: list[tuple[float, Event]] = []
        self._changed = threading.Condition()
        self.bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id=device_id, session_expiry_s=0))
        self.bus.subscribe(f"vigil/v1/devices/{device_id}/down/#", self._on_message)

    def send(self, event: DispatchStatus | object) -> None:
        self.bus.publish(topic_for(event), encode_event(event))  # type: ignore[arg-type]

    def wait_for(self, kind: type, timeout_s: float = 10) -> tuple[float, Event]:
        with self._changed:
            found = self._changed.wait_for(lambda: any(isinstance(e, kind) for _, e in self.received), timeout_s)
            if not found:
                raise AssertionError(f"{self.device_id} received no {kind.__name__}")
            return next((t, e) for t, e in self.received if isinstance(e, kind))

    def wait_for_order(self, *, revision: int, timeout_s: float = 10) -> tuple[float, DispatchOrder]:
        def found() -> tuple[float, DispatchOrder] | None:
            return next(
                ((t, e) for t, e in self.received if isinstance(e, DispatchOrder) and e.revision == revision), None
            )

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout_s):
                raise AssertionError(f"{self.device_id} received no order of revision {revision}")
            order = found()
            assert order is not None
            return order

    def _on_message(self, message: Message) -> None:
        with self._changed:
            self.received.append((time.monotonic(), parse_event(message.payload)))
            self._changed.notify_all()


def _eventually(check: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_from_alert_to_officers_answers_over_mqtt(
    serve: Callable[..., RunningServer],
    settings: CommandSettings,
    register: Register,
    accounts: CreateAccount,
    broker: Broker,
    probe_jpeg: bytes,
    database: Database,
) -> None:
    register("cam-1", "A-12")
    send_watchlist(database, "cam-1")
    for unit_id in UNITS:
        register(f"radio-{unit_id}", unit_id)
    bus = MqttSettings(host=broker.host, port=broker.port, client_id=f"vigil-command-{uuid.uuid4().hex[:6]}")
    server = serve(create_app(settings.model_copy(update={"bus": bus})))
    token = server.sign_in(accounts("op-1", Role.OPERATOR))
    camera = Device(broker, "cam-1")
    radios = {unit_id: Device(broker, f"radio-{unit_id}") for unit_id in UNITS}
    try:
        for unit_id, (lat, lon) in UNITS.items():
            radios[unit_id].send(position(device_id=f"radio-{unit_id}", unit_id=unit_id, lat=lat, lon=lon))
        raised = alert(probe_jpeg, location=CAMERA)
        camera.send(raised)
        with server.client(token) as operator:
            _eventually(
                lambda: any(
                    a["alert_id"] == str(raised.alert_id) for a in operator.get("/api/v1/reviews").json()["alerts"]
                )
            )
            refused = operator.post("/api/v1/incidents", json={"alert_id": str(raised.alert_id)})
            assert (refused.status_code, refused.json()["error"]["code"]) == (409, "alert_unreviewed")
            decided = operator.post(f"/api/v1/reviews/{raised.alert_id}/decision", json={"decision": "confirmed"})
            assert decided.status_code == 200
            _, told = camera.wait_for(AlertReviewed)  # the officer's handset hears the decision
            assert isinstance(told, AlertReviewed)
            assert (told.alert_id, told.decision) == (raised.alert_id, "confirmed")
            opened = operator.post("/api/v1/incidents", json={"alert_id": str(raised.alert_id)})
            assert opened.status_code == 201
            incident = opened.json()
            target = {"lat": incident["target"]["lat"], "lon": incident["target"]["lon"]}
            _eventually(
                lambda: len(operator.post("/api/v1/units/in-area", json={"target": target}).json()["units"]) == 3
            )
            inside = operator.post("/api/v1/units/in-area", json={"target": target, "area": incident["area"]}).json()
            suggested = [u["unit_id"] for u in inside["units"] if u["suggested"]][:2]
            assert suggested == ["A-1", "A-2"]  # the nearest two, by their arrival on foot
            called = time.monotonic()
            sent = operator.post(
                f"/api/v1/incidents/{incident['incident_id']}/dispatches", json={"unit_ids": suggested}
            )
            assert sent.status_code == 200
            arrivals = {unit_id: radios[unit_id].wait_for(DispatchOrder) for unit_id in suggested}
            for unit_id, (_, order) in arrivals.items():
                assert isinstance(order, DispatchOrder)
                assert (order.unit_id, order.evidence.alert_id) == (unit_id, raised.alert_id)
                assert (order.evidence.confirmed_by, order.evidence.verified_by) == ("OP-1", None)
            assert max(at for at, _ in arrivals.values()) - called < 5  # (the aim, under 1 s, is the bench's)

            a1, a2 = (arrivals[u][1] for u in suggested)
            assert isinstance(a1, DispatchOrder)
            assert isinstance(a2, DispatchOrder)
            for state in (DispatchState.ACCEPTED, DispatchState.EN_ROUTE):
                radios["A-1"].send(DispatchStatus(device_id="radio-A-1", dispatch_id=a1.dispatch_id, status=state))
            radios["A-2"].send(
                DispatchStatus(device_id="radio-A-2", dispatch_id=a2.dispatch_id, status=DispatchState.ACCEPTED)
            )

            def states() -> dict[str, str]:
                got = operator.get(f"/api/v1/incidents/{incident['incident_id']}").json()
                return {d["unit_id"]: d["state"] for d in got["dispatches"]}

            _eventually(lambda: states() == {"A-1": "en_route", "A-2": "accepted"})
            units = {u["unit_id"]: u["status"] for u in operator.get("/api/v1/units").json()["units"]}
            assert (units["A-1"], units["A-2"], units["A-3"]) == ("en_route", "dispatched", "available")

            def close() -> dict[str, Any]:
                answer: dict[str, Any] = operator.post(
                    f"/api/v1/incidents/{incident['incident_id']}/close",
                    json={"outcome": "arrest", "notes": "detained"},
                ).json()
                return answer

            # No arrest on the operator's confirmation alone: the officer on scene verifies the match first.
            assert close()["error"]["code"] == "identity_not_verified"
            radios["A-1"].send(
                AlertVerified(
                    device_id="radio-A-1",
                    alert_id=raised.alert_id,
                    dispatch_id=a1.dispatch_id,
                    unit_id="A-1",
                    verdict=IdentityVerdict.SAME_PERSON,
                )
            )
            _, verified = radios["A-2"].wait_for_order(revision=2)  # both units hear who verified it
            assert (verified.evidence.confirmed_by, verified.evidence.verified_by) == ("OP-1", "A-1")
            closed = close()
            assert (closed["status"], closed["identity"]["state"]) == ("closed", "verified")
            _, stand_down = radios["A-2"].wait_for(DispatchCancelled)
            assert isinstance(stand_down, DispatchCancelled)
            assert stand_down.dispatch_id == a2.dispatch_id
            units = {u["unit_id"]: u["status"] for u in operator.get("/api/v1/units").json()["units"]}
            assert (units["A-1"], units["A-2"]) == ("available", "available")
    finally:
        for device in (camera, *radios.values()):
            device.bus.stop()
