"""Scale-out: two `vigil serve` processes share the devices' events through one MQTT shared subscription.

One PostgreSQL database, one Mosquitto (persistent, Vigil's password file and ACL), two real server processes,
each its own broker user and so its own session. A device streams positions and alerts; one server is killed
with SIGKILL mid-stream and started again. Every event the device was acknowledged is stored at that moment,
and in the end every event is stored exactly once.

What Mosquitto 2.0 does with the dead server's share: it stays a member of the shared subscription while its
session lives (the session outlives the connection by its expiry, 24 h for `vigil serve`), so the broker keeps
giving it its turn and queues those messages, together with the ones it had sent but not yet had acknowledged,
until that client id connects again. The live server does not take them over. Restarting the killed server
under the same user (and so the same client id) delivers them: the unacknowledged ones again (duplicates of
those already committed are recognised by their event id), then the queued ones.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

EVENTS = 2000
ALERT_EVERY = 50
SERVERS = ("vigil-command-1", "vigil-command-2")


class Server:
    """One `vigil serve` process, as an operator starts it."""

    def __init__(self, *, user: str, database_url: str, broker: Broker, secret_file: Path, directory: Path) -> None:
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
        response = httpx.post(f"{self.url}/api/v1/auth/login", json=body, timeout=10)
        response.raise_for_status()
        self.token = response.json()["token"]

    def mqtt_counts(self) -> dict[str, int]:
        metrics = httpx.get(f"{self.url}/api/v1/metrics", headers={"Authorization": f"Bearer {self.token}"}, timeout=5)
        counts = metrics.json()["ingestion"]["by_transport"]["mqtt"]
        return {key: int(value) for key, value in counts.items()}

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


@pytest.fixture
def servers(
    database_url: str, database: Database, tmp_path: Path, accounts: CreateAccount
) -> Iterator[tuple[list[Server], Broker, str]]:
    """Two server processes on the test's PostgreSQL schema and a private broker; the device's token."""
    with database.session() as session:
        token = register_device(
            actor="system",
            address=None,
            session=session,
            device_id="cam-1",
            unit_id="A-12",
            call_sign=None,
            radio_id=None,
            kind=None,
            now=utc_now(),
        ).token.get_secret_value()
        files = write_broker_config(
            session=session,
            directory=tmp_path / "broker",
            server_users=SERVERS,
            listener=Listener(port=free_port(), address="127.0.0.1"),
        )
    send_watchlist(database, "cam-1")  # the stream's alerts name watchlist version 3
    (tmp_path / "mosquitto").mkdir()
    broker = start_mosquitto(tmp_path / "mosquitto", persistence=True, auth_config=files.config_file)
    started = [
        Server(user=s.user, database_url=database_url, broker=broker, secret_file=s.secret_file, directory=tmp_path)
        for s in files.servers
    ]
    try:
        for server in started:
            server.start()
        admin = accounts("admin-1", Role.ADMIN)
        for server in started:
            server.wait_until_serving()
            server.sign_in(admin)
        yield started, broker, token
    finally:
        for server in started:
            server.stop()
        broker.stop()


def _events(probe_jpeg: bytes) -> list[Event]:
    events: list[Event] = []
    for number in range(EVENTS):
        if number % ALERT_EVERY == ALERT_EVERY - 1:
            events.append(alert(probe_jpeg))
        else:
            events.append(position(lat=51.5 + number / 100_000))
    return events


def test_two_servers_share_the_stream_and_a_killed_one_loses_no_acknowledged_event(
    servers: tuple[list[Server], Broker, str], database: Database, probe_jpeg: bytes
) -> None:
    (victim, survivor), broker, token = servers
    device = AckedDevice(broker, token)
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
        # Every event is with the broker now; the killed server's share waits for it.
        victim.start()
        victim.wait_until_serving()
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
