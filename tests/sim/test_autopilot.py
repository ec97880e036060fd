"""The scripted operator against a real command centre, fed by the live feed, with devices' events over HTTP.

No video here: the devices' events are sent as a device would send them, so each of the operator's decisions can
be checked (a false match dismissed with its reason, a true one confirmed, an incident with its area, the nearest
two available units sent, the incident closed when an officer is on scene, which stands the units down).
"""

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from tests.command.conftest import RunningServer, serving
from tests.command.events import alert, dispatch_status, position, send_watchlist
from vigil.command.accounts.passwords import Passwords
from vigil.command.alerts.models import Alert
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.incidents.models import DispatchOrderRecord, Incident, IncidentOutcome, IncidentStatus, OrderState
from vigil.command.runtime import ServerRuntime
from vigil.command.settings import AccountSettings, CommandSettings
from vigil.command.verifications.models import AlertVerification
from vigil.events import AlertVerified, DispatchState, Event, IdentityVerdict, ReviewDecision, encode_event
from vigil.sim.autopilot import Autopilot, AutopilotSettings
from vigil.sim.control_api import ControlRoomClient
from vigil.sim.demo_setup import DemoDevice, create_demo_users, make_package_keys, register_demo_devices
from vigil.sim.operator_feed import OperatorFeed
from vigil.sim.shift import ShiftSettings, roster
from vigil.watchlist.keys import load_device_key

T = TypeVar("T")
TARGET = (51.5081, -0.1281)  # Trafalgar Square
# Foot-01 wears the camera; Foot-02 and Car-03 are near the target, Car-04 about 2.5 km away.
PLACES = {"Foot-01": (51.5080, -0.1280), "Foot-02": (51.5090, -0.1270), "Car-03": (51.5060, -0.1300)}
FAR = {"Car-04": (51.5300, -0.1280)}


@dataclass
class ControlRoom:
    server: RunningServer
    database: Database
    devices: dict[str, DemoDevice]
    autopilot: Autopilot
    feed: OperatorFeed

    def send(self, device_id: str, event: Event) -> None:
        token = self.devices[device_id].token
        response = httpx.post(
            f"{self.server.url}/api/v1/events",
            content=encode_event(event),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def control_room(tmp_path: Path) -> Iterator[ControlRoom]:
    servers = serving(ws="websockets-sansio")
    start = next(servers)
    server = start(create_app(CommandSettings(data_dir=tmp_path)))
    runtime = server.app.state.runtime
    assert isinstance(runtime, ServerRuntime)
    settings = AccountSettings()
    people = create_demo_users(
        database=runtime.database,
        passwords=Passwords(min_length=settings.min_password_length),
        sealer=runtime.sealer,
        settings=settings,
    )
    keys = make_package_keys(tmp_path / "keys")
    members = roster(ShiftSettings(officers_on_foot=2, officers_in_cars=2, cameras=1))
    devices = register_demo_devices(database=runtime.database, members=members, wrap_key=load_device_key(keys.wrap_key))
    client = ControlRoomClient(server.url, people.autopilot)
    autopilot = Autopilot(
        client=client, judge=lambda a: a.subject_id == "obama", settings=AutopilotSettings(area_radius_m=1000)
    )
    autopilot.start()
    feed = OperatorFeed(base_url=server.url, token=client.token, listeners=[autopilot.listen])
    feed.start()
    room = ControlRoom(server=server, database=runtime.database, devices=devices, autopilot=autopilot, feed=feed)
    try:
        yield room
    finally:
        autopilot.stop()
        feed.stop()
        client.close()
        next(servers, None)


def _wait_for(what: str, check: Callable[[], T | None], timeout_s: float = 20) -> T:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return found


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (128, 110, 100)).save(out, format="JPEG")
    return out.getvalue()


def _alerts(database: Database) -> dict[str, Alert]:
    with database.session() as session:
        alerts = {a.subject_id: a for a in session.scalars(select(Alert))}
        session.expunge_all()
    return alerts


def _incident(database: Database) -> tuple[Incident, list[DispatchOrderRecord]] | None:
    with database.session() as session:
        incident = session.scalars(select(Incident)).first()
        orders = list(session.scalars(select(DispatchOrderRecord)))
        session.expunge_all()
    return (incident, orders) if incident is not None else None


def _verified_at(database: Database) -> datetime:
    """When the server recorded the (only) second verification."""
    with database.session() as session:
        return session.scalars(select(AlertVerification.recorded_at)).one()


def test_the_autopilot_dismisses_a_false_match_and_works_a_true_one_to_the_end(control_room: ControlRoom) -> None:
    room = control_room
    units = {m.member.unit_id: m.member.device_id for m in room.devices.values()}
    for unit_id, (lat, lon) in (PLACES | FAR).items():
        room.send(units[unit_id], position(device_id=units[unit_id], unit_id=unit_id, lat=lat, lon=lon))
    send_watchlist(room.database, "bodycam-01", version=1, subjects=("biden", "obama"))
    for subject_id in ("biden", "obama"):  # the first a false match, the second a true one
        raised = alert(_jpeg(), device_id="bodycam-01", unit_id="Foot-01", subject_id=subject_id, watchlist_version=1)
        room.send("bodycam-01", raised)

    incident, orders = _wait_for(
        "two units sent", lambda: (found := _incident(room.database)) and len(found[1]) == 2 and found
    )
    alerts = _alerts(room.database)
    assert (alerts["biden"].review_decision, alerts["obama"].review_decision) == (
        ReviewDecision.DISMISSED,
        ReviewDecision.CONFIRMED,
    )
    assert "does not match the enrolled photo" in (alerts["biden"].review_reason or "")
    assert incident.alert_id == alerts["obama"].alert_id
    assert incident.area["properties"]["radius_m"] == 1000
    # Two of the three units near the target, never the car 2.5 km away.
    assert {o.unit_id for o in orders} <= set(PLACES)
    assert len({o.unit_id for o in orders}) == 2

    # On scene, the officer compares the faces on the handset: the second verification. Only then is the arrest
    # recorded (EU AI Act Art 14(5)): the operator acts on the identification once two people have verified it.
    first = orders[0]
    device = units[first.unit_id]
    room.send(device, dispatch_status(device_id=device, dispatch_id=first.dispatch_id, status=DispatchState.ON_SCENE))
    verified = AlertVerified(
        device_id=device,
        alert_id=alerts["obama"].alert_id,
        dispatch_id=first.dispatch_id,
        unit_id=first.unit_id,
        verdict=IdentityVerdict.SAME_PERSON,
    )
    room.send(device, verified)
    closed, orders = _wait_for(
        "the incident closed",
        lambda: (found := _incident(room.database)) and found[0].status is IncidentStatus.CLOSED and found,
    )
    assert closed.outcome is IncidentOutcome.ARREST
    assert closed.closed_at is not None
    assert closed.closed_at >= _verified_at(room.database)
    # Closing stands every open order down, the one on scene included, and frees the units.
    assert [o.state for o in orders] == [OrderState.CANCELLED, OrderState.CANCELLED]
    # The server has closed it; the operator counts it once its request has returned.
    counts = _wait_for("the close counted", lambda: (c := room.autopilot.counts()).incidents_closed and c)
    assert (counts.confirmed, counts.dismissed, counts.incidents_opened) == (1, 1, 1)
    assert (counts.units_dispatched, counts.incidents_closed, counts.refused) == (2, 1, [])
    assert [a.alert.subject_id for a in room.feed.alerts()] == ["biden", "obama"]
