"""Scale-out: two `vigil serve` processes share the devices' events through one MQTT shared subscription.

One PostgreSQL database, one Mosquitto (persistent, Vigil's password file and ACL), two real server processes,
each its own broker user and so its own session.

What Mosquitto 2.0 does with a dead server's share: it stays a member of the shared subscription while its
session lives (the session outlives the connection by its expiry), so the broker keeps giving it its turn and
queues those messages, together with the ones it had sent but not yet had acknowledged, until that client id
connects again or the session expires. The live server does not take them over. So (docs/deploy.md, "Servers
leaving the group"):

* killed and restarted within its session expiry, a server gets its share back: the unacknowledged events again
  (duplicates of those already committed are recognised by their event id), then the queued ones; meanwhile the
  live server reports it as holding a share (``ingestion.share_group`` in its metrics);
* killed for good, its session ends after its expiry, the broker drops what it queued for it, and the devices'
  resends reach the live server: the whole stream is stored within session expiry + resend interval, and the live
  server logs the stale member with its client id and since when;
* stopped normally, it ends its session in its DISCONNECT: its share goes to the live server at once.

The devices are the load generator's (:class:`~vigil.sim.mqtt_fleet.MqttFleet`), which keep each event until its
ack and resend it as a body camera does; the first test uses a bare MQTT device that never resends.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.command.conftest import Account, CreateAccount
from tests.command.events import alert, position, send_watchlist
from tests.support.mosquitto import Broker, free_port, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message
from vigil.command.accounts.models import Role
from vigil.command.alerts.models import Alert
from vigil.command.broker.files import Listener
from vigil.command.broker.service import write_broker_config
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.ingestion.models import IngestedEvent, RejectedEvent
from vigil.command.units.models import PositionRecord
from vigil.events import Ack, Event, encode_event, parse_event, topic_for, utc_now
from vigil.sim.mqtt_fleet import EncodedEvent, FleetDevice, MqttFleet

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

EVENTS = 2000
ALERT_EVERY = 50
SERVERS = ("vigil-command-1", "vigil-command-2")
UNITS = {"cam-1": "A-12", "cam-2": "B-7", "cam-3": "C-3", "cam-4": "D-9"}
"""Each device's unit (the events of tests/command/events.py come from cam-1 of A-12)."""


class Server:
    """One `vigil serve` process, as an operator starts it."""

    def __init__(
        self,
        *,
        user: str,
        database_url: str,
        broker: Broker,
        secret_file: Path,
        directory: Path,
        session_expiry_s: int,
    ) -> None:
        self.user = user
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [
            str(Path(sys.executable).parent / "vigil"),
            "serve",
            "--db",
            database_url,
            "--bus",
            f"mqtt://{user}@{broker.host}:{broker.port}",
            "--bus-password-file",
            str(secret_file),
            "--bus-client-id",
            user,
            "--port",
            str(self.port),
            "--data-dir",
            str(directory),
            "--bus-session-expiry",
            str(session_expiry_s),
        ]
        self._log = directory / f"{user}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("VIGIL_")}
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self._command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_serving(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                httpx.get(f"{self.url}/api/v1/openapi.json", timeout=1).raise_for_status()
                return
            except httpx.TransportError:
                if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{self.user} did not start: {self._log.read_text()[-3000:]}") from None
                time.sleep(0.1)

    def sign_in(self, admin: Account) -> None:
        """Sign in as an administrator (the metrics are theirs)."""
        body = {"username": admin.username, "password": admin.password, "code": admin.code(), "delivery": "bearer"}
        response = httpx.post(f"{self.url}/api/v1/auth/login", json=body, timeout=60)
        response.raise_for_status()
        self.token = response.json()["token"]

    def metrics(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/api/v1/metrics", headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )
        response.raise_for_status()
        ingestion: dict[str, Any] = response.json()["ingestion"]
        return ingestion

    def mqtt_counts(self) -> dict[str, int]:
        return {key: int(value) for key, value in self.metrics()["by_transport"]["mqtt"].items()}

    def group(self) -> dict[str, Any]:
        group: dict[str, Any] = self.metrics()["share_group"]
        return group

    def log(self) -> str:
        return self._log.read_text()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


class AckedDevice:
    """A device's link: publishes events and records which the command centre acknowledged."""

    def __init__(self, broker: Broker, token: str) -> None:
        self.acked: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self.bus = MqttBus(
            MqttSettings(host=broker.host, port=broker.port, client_id="cam-1", username="cam-1", password=token)
        )
        self.bus.subscribe("vigil/v1/devices/cam-1/down/#", self._on_message)

    def _on_message(self, message: Message) -> None:
        event = parse_event(message.payload)
        if isinstance(event, Ack):
            with self._lock:
                self.acked.update(event.ids)

    def send(self, event: Event) -> None:
        self.bus.publish(topic_for(event), encode_event(event))

    def acknowledged(self) -> set[uuid.UUID]:
        with self._lock:
            return set(self.acked)

    def wait_for(self, ids: set[uuid.UUID], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ids <= self.acknowledged():
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(ids - self.acknowledged())} of {len(ids)} events were never acknowledged")
            time.sleep(0.05)


Group = tuple[list[Server], Broker, dict[str, str]]
"""The two servers, the broker, and each device's token."""


@pytest.fixture
def start_group(
    database_url: str, database: Database, tmp_path: Path, accounts: CreateAccount
) -> Iterator[Callable[..., Group]]:
    """Starts two server processes on the test's PostgreSQL schema and a private broker, devices registered."""
    running: list[tuple[list[Server], Broker]] = []

    def start(*, session_expiry_s: int, devices: Sequence[str] = ("cam-1",)) -> Group:
        with database.session() as session:
            tokens = {
                device_id: register_device(
                    actor="system",
                    address=None,
                    session=session,
                    device_id=device_id,
                    unit_id=UNITS[device_id],
                    call_sign=None,
                    radio_id=None,
                    kind=None,
                    now=utc_now(),
                ).token.get_secret_value()
                for device_id in devices
            }
            files = write_broker_config(
                session=session,
                directory=tmp_path / "broker",
                server_users=SERVERS,
                listener=Listener(port=free_port(), address="127.0.0.1"),
            )
        for device_id in devices:
            send_watchlist(database, device_id)  # the stream's alerts name watchlist version 3
        (tmp_path / "mosquitto").mkdir()
        broker = start_mosquitto(tmp_path / "mosquitto", persistence=True, auth_config=files.config_file)
        started = [
            Server(
                user=s.user,
                database_url=database_url,
                broker=broker,
                secret_file=s.secret_file,
                directory=tmp_path,
                session_expiry_s=session_expiry_s,
            )
            for s in files.servers
        ]
        running.append((started, broker))
        for server in started:
            server.start()
        admin = accounts("admin-1", Role.ADMIN)
        for server in started:
            server.wait_until_serving()
            server.sign_in(admin)
        return started, broker, tokens

    yield start
    for started, broker in running:
        for server in started:
            server.stop()
        broker.stop()


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def _stale(server: Server) -> list[str]:
    """The client ids ``server`` reports as holding a share while away."""
    return [m["client_id"] for m in server.group()["members"] if m["state"] == "stale"]


def _events(probe_jpeg: bytes) -> list[Event]:
    events: list[Event] = []
    for number in range(EVENTS):
        if number % ALERT_EVERY == ALERT_EVERY - 1:
            events.append(alert(probe_jpeg))
        else:
            events.append(position(lat=51.5 + number / 100_000))
    return events


def test_two_servers_share_the_stream_and_a_killed_one_loses_no_acknowledged_event(
    start_group: Callable[..., Group], database: Database, probe_jpeg: bytes
) -> None:
    # A session that outlives the whole test: the restarted server must find its share queued for it.
    (victim, survivor), broker, tokens = start_group(session_expiry_s=3600)
    device = AckedDevice(broker, tokens["cam-1"])
    try:
        # The stream starts once both servers have taken an event: their shared subscriptions are in place.
        warm_up: list[Event] = []
        while not all(server.mqtt_counts()["accepted"] for server in (victim, survivor)):
            assert len(warm_up) < 20, "a server never received its share"
            warm_up.append(position(lat=51.49))
            device.send(warm_up[-1])
            device.wait_for({warm_up[-1].id}, timeout_s=10)

        events = _events(probe_jpeg)
        sender = threading.Thread(target=lambda: [device.send(e) for e in events], daemon=True)
        sender.start()
        deadline = time.monotonic() + 30
        while len(device.acknowledged()) < EVENTS // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        victim.kill()
        acked_at_kill = device.acknowledged()
        with database.session() as session:
            stored_at_kill = set(session.scalars(select(IngestedEvent.event_id)))
        sender.join(30)
        # Every event is with the broker now; the killed server's share waits for it, and the survivor says so.
        _wait_until(lambda: _stale(survivor) == [victim.user], "the survivor reports the killed server")
        reported = survivor.group()["members"][0]
        victim.start()
        victim.wait_until_serving()
        _wait_until(lambda: not _stale(survivor), "the survivor hears the restarted server")
        device.wait_for({e.id for e in events}, timeout_s=45)
        restarted = victim.mqtt_counts()
    finally:
        device.bus.stop()

    ids = [e.id for e in [*warm_up, *events]]
    with database.session() as session:
        stored = session.scalars(select(IngestedEvent.event_id)).all()
        positions = session.scalar(select(func.count()).select_from(PositionRecord))
        alerts = session.scalar(select(func.count()).select_from(Alert))
        rejected = session.scalar(select(func.count()).select_from(RejectedEvent))
    assert 0 < len(acked_at_kill) < EVENTS
    assert acked_at_kill <= stored_at_kill
    assert restarted["accepted"] + restarted["duplicate"] > 0
    assert sorted(stored) == sorted(ids)
    assert (positions, alerts, rejected) == (len(ids) - EVENTS // ALERT_EVERY, EVENTS // ALERT_EVERY, 0)
    since, until = datetime.fromisoformat(reported["since"]), datetime.fromisoformat(reported["holds_share_until"])
    assert (reported["session_expiry_s"], until - since) == (3600, timedelta(hours=1))
    assert f"ingestion.group_member_stale client_id='{victim.user}'" in survivor.log()


class Stream:
    """Each fleet device's endless positions, every event recorded as it is made."""

    def __init__(self, devices: Sequence[str]) -> None:
        self.ids: set[uuid.UUID] = set()
        self.devices = devices

    def events(self, device_id: str) -> Iterator[EncodedEvent]:
        number = 0
        while True:
            event = position(device_id=device_id, unit_id=UNITS[device_id], lat=51.5 + number / 100_000)
            number += 1
            self.ids.add(event.id)
            yield str(event.id), topic_for(event), encode_event(event)

    def fleet(self, broker: Broker, tokens: dict[str, str], *, resend_after_s: float) -> MqttFleet:
        devices = [FleetDevice(d, self.events(d), password=tokens[d]) for d in self.devices]
        return MqttFleet(broker.host, broker.port, devices, rate=RATE, window=1000, resend_after_s=resend_after_s)


def _run(fleet: MqttFleet, seconds: float) -> None:
    fleet.run_until(time.monotonic() + seconds)


def _run_while_both_take_a_share(fleet: MqttFleet, servers: Sequence[Server]) -> None:
    deadline = time.monotonic() + 30
    while not all(server.mqtt_counts()["accepted"] for server in servers):
        assert time.monotonic() < deadline, "a server never received its share"
        _run(fleet, 0.2)


def _drain(fleet: MqttFleet, timeout_s: float) -> None:
    fleet.stopping = True
    deadline = time.monotonic() + timeout_s
    while fleet.in_flight and time.monotonic() < deadline:
        _run(fleet, 0.05)


def _stored_ids(database: Database) -> list[uuid.UUID]:
    with database.session() as session:
        return list(session.scalars(select(IngestedEvent.event_id)))


FLEET = ("cam-1", "cam-2", "cam-3", "cam-4")
RATE = 200.0
"""Events per second from the fleet."""
SHORT_EXPIRY_S = 3
RESEND_S = 2.0
PROCESSING_SLACK_S = 15
"""What the bound allows beyond session expiry + resend interval: the live server ingesting the backlog (and this
machine's other work); the property tested is that the share comes back at all, which a long session prevents."""


def test_a_server_gone_without_leaving_gives_up_its_share_within_the_bound(
    start_group: Callable[..., Group], database: Database
) -> None:
    (victim, survivor), broker, tokens = start_group(session_expiry_s=SHORT_EXPIRY_S, devices=FLEET)
    stream = Stream(FLEET)
    fleet = stream.fleet(broker, tokens, resend_after_s=RESEND_S)
    try:
        fleet.start(time.monotonic())
        _run_while_both_take_a_share(fleet, (victim, survivor))
        _run(fleet, 1)
        victim.kill()  # SIGKILL: no DISCONNECT, the broker keeps its session (and its share) for its expiry
        killed_at = time.monotonic()
        _run(fleet, 2)  # half of what the devices send now goes to the dead member
        _drain(fleet, timeout_s=SHORT_EXPIRY_S + RESEND_S + PROCESSING_SLACK_S)
        last_ack = max(acked for _, acked in fleet.latencies)
    finally:
        fleet.close()
    stale_reported = _wait_for_log(survivor, f"ingestion.group_member_stale client_id='{victim.user}'")
    _wait_for_log(survivor, f"ingestion.group_member_expired client_id='{victim.user}'")

    # Its session has ended: the broker deals it nothing more. Devices that never resend prove it: with the dead
    # member still in the group, half of what they send would wait in the broker for it.
    after = stream.fleet(broker, tokens, resend_after_s=3600)
    try:
        after.start(time.monotonic())
        _run(after, 2)
        _drain(after, timeout_s=30)
    finally:
        after.close()

    stored = _stored_ids(database)
    lost = stream.ids - set(stored)
    counts = survivor.mqtt_counts()
    figures = {"sent": len(stream.ids), "stored": len(stored), "lost": len(lost), "resent": fleet.resent}
    figures |= {"duplicates_seen": counts["duplicate"], "kill_to_last_ack_s": round(last_ack - killed_at, 1)}
    figures |= {"sent_after_expiry": after.published, "unacknowledged_after_expiry": after.in_flight}
    print(f"figures: {figures}")  # shown by `pytest -rP`, for the deployment notes
    assert (fleet.in_flight, after.in_flight, after.resent) == (0, 0, 0)
    assert (len(lost), len(stored), len(set(stored))) == (0, len(stream.ids), len(stream.ids))
    assert fleet.resent > 0  # what the dead member held came back through the devices' resends
    assert last_ack - killed_at <= SHORT_EXPIRY_S + RESEND_S + PROCESSING_SLACK_S
    assert counts["rejected"] == 0
    assert f"session_expiry_s={SHORT_EXPIRY_S} since=" in stale_reported
    assert _stale(survivor) == []


def _wait_for_log(server: Server, text: str, timeout_s: float = 20) -> str:
    """The first line of ``server``'s log holding ``text``, once there is one."""
    _wait_until(lambda: text in server.log(), f"{server.user} logs {text}", timeout_s)
    return next(line for line in server.log().splitlines() if text in line)


def test_a_server_stopped_normally_releases_its_share_at_once(
    start_group: Callable[..., Group], database: Database
) -> None:
    # A session that would outlive the test: only the stop's own DISCONNECT can hand the share over.
    (leaving, staying), broker, tokens = start_group(session_expiry_s=3600, devices=FLEET)
    stream = Stream(FLEET)
    fleet = stream.fleet(broker, tokens, resend_after_s=RESEND_S)
    try:
        fleet.start(time.monotonic())
        _run_while_both_take_a_share(fleet, (leaving, staying))
        leaving.stop()  # SIGTERM: the server finishes, says "stopped" and ends its session
        _drain(fleet, timeout_s=30)  # what it had not acknowledged comes back through the devices' resends
    finally:
        fleet.close()
    assert fleet.in_flight == 0
    _wait_until(
        lambda: [(m["client_id"], m["state"]) for m in staying.group()["members"]] == [(leaving.user, "stopped")],
        "the staying server hears the other stop",
    )

    # Devices that never resend: every event reaches the staying server, none waits in the broker for the other.
    after = stream.fleet(broker, tokens, resend_after_s=3600)
    try:
        after.start(time.monotonic())
        _run(after, 2)
        _drain(after, timeout_s=30)
    finally:
        after.close()

    stored = _stored_ids(database)
    figures = {"sent": len(stream.ids), "stored": len(stored), "lost": len(stream.ids - set(stored))}
    figures |= {"resent_before_stop": fleet.resent, "sent_after_stop": after.published, "resent_after": after.resent}
    print(f"figures: {figures}")  # shown by `pytest -rP`, for the deployment notes
    assert (after.in_flight, after.resent) == (0, 0)
    assert (len(stream.ids - set(stored)), len(stored)) == (0, len(stream.ids))
    assert staying.group()["stale"] == 0
    assert "ingestion.group_member_stale" not in staying.log()
