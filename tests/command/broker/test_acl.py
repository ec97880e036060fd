"""Vigil's password file and ACL on a real Mosquitto: a device speaks and listens only as itself.

What Mosquitto 2.0 does here (asserted below, so a change of broker behaviour shows up):

* a publish the ACL denies is dropped, never delivered; at QoS 1 it is still acknowledged: on MQTT 5 the PUBACK
  carries "Not authorized" (0x87), on MQTT 3.1.1 it is a plain PUBACK, indistinguishable from success;
* a subscription to another device's topics is *granted* (SUBACK QoS 1): the ACL is checked message by message
  on delivery, and nothing of the other device's ever arrives;
* so is a subscription to a shared group (the ACL file cannot refuse any subscription), and a group member that
  may not read a message loses it: the servers' group is named by a secret only they read (``share-group``), so
  a device cannot join it;
* a packet over ``max_packet_size`` (2 MiB) or a retained message (``retain_available false``) costs the client
  its connection, and the broker keeps nothing of it; a device's largest alert passes;
* ``use_username_as_clientid`` (in Vigil's config lines) stops a device from taking over another's session by
  its client id, which would otherwise let it discard that device's queued orders;
* on reload (SIGHUP) a revoked device's open connection is closed, and it cannot connect again.

Over HTTP the same token authenticates the device (tests/command/ingestion/test_router.py).
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from sqlalchemy import select

from tests.command.broker.raw import RawClient
from tests.command.conftest import Register
from tests.command.events import alert, position
from tests.support.mosquitto import Broker, free_port, start_mosquitto
from vigil.bus.errors import BusRefused
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.command.app import start_server, stop_server
from vigil.command.broker.files import Listener
from vigil.command.broker.schemas import BrokerConfig
from vigil.command.broker.service import read_secret, read_share_group, write_broker_config
from vigil.command.database import Database
from vigil.command.devices.service import revoke_device
from vigil.command.ingestion.models import IngestedEvent, RejectedEvent
from vigil.command.settings import CommandSettings
from vigil.events import (
    MAX_PROBE_JPEG_BYTES,
    DispatchOrder,
    Location,
    MatchEvidence,
    SubjectBrief,
    encode_event,
    topic_for,
    utc_now,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

AREA = {"type": "Polygon", "coordinates": [[[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.50]]]}


@dataclass
class Secured:
    broker: Broker
    files: BrokerConfig
    tokens: dict[str, str]
    database: Database
    directory: Path

    @property
    def server_password(self) -> str:
        return read_secret(self.files.servers[0].secret_file)

    def rewrite(self) -> None:
        with self.database.session() as session:
            self.files = write_broker_config(session=session, directory=self.directory)


@pytest.fixture
def secured(database: Database, register: Register, tmp_path: Path) -> Iterator[Secured]:
    """Devices cam-a and cam-b, and a private broker that lets in only them and the command centre."""
    tokens = {"cam-a": register("cam-a", "A-1"), "cam-b": register("cam-b", "B-2")}
    directory = tmp_path / "broker"
    with database.session() as session:
        files = write_broker_config(
            session=session, directory=directory, listener=Listener(port=free_port(), address="127.0.0.1")
        )
    (tmp_path / "mosquitto").mkdir()
    broker = start_mosquitto(tmp_path / "mosquitto", auth_config=files.config_file)
    yield Secured(broker=broker, files=files, tokens=tokens, database=database, directory=directory)
    broker.stop()


@pytest.fixture
def connect(secured: Secured) -> Iterator[Callable[..., MqttBus]]:
    """Connect an MqttBus as a broker user (no session outlives the test); stopped afterwards."""
    opened: list[MqttBus] = []

    def run(user: str | None, password: str | None, **changes: object) -> MqttBus:
        settings = MqttSettings(
            host=secured.broker.host,
            port=secured.broker.port,
            client_id=user or "anonymous",
            username=user,
            password=password,
            session_expiry_s=0,
            connect_timeout_s=2,
            publish_timeout_s=5,
        ).model_copy(update=changes)
        bus = MqttBus(settings)
        opened.append(bus)
        return bus

    yield run
    for bus in opened:
        bus.stop()


def _order(device_id: str) -> DispatchOrder:
    return DispatchOrder(
        device_id=device_id,
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="B-2" if device_id == "cam-b" else "A-1",
        target=Location(lat=51.505, lon=-0.125),
        area=AREA,
        subject=SubjectBrief(subject_id="s-1", name="Subject One", category="wanted"),
        evidence=MatchEvidence(
            alert_id=uuid.uuid4(), seen_at=utc_now(), distance=0.4, threshold=0.5, probe_jpeg=b"\xff\xd8\xff\xe0"
        ),
    )


def _stored(database: Database, event_id: uuid.UUID) -> bool:
    with database.session() as session:
        return session.get(IngestedEvent, event_id) is not None


def _wait_until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_a_device_cannot_publish_as_another_and_the_server_never_sees_it(
    secured: Secured, connect: Callable[..., MqttBus], settings: CommandSettings
) -> None:
    server_bus = connect("vigil-command", secured.server_password)
    runtime = start_server(settings, server_bus)
    try:
        device_a = RawClient(secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-a")
        forged = position(device_id="cam-b", unit_id="B-2")
        own = position(device_id="cam-a", unit_id="A-1")
        answers = [device_a.publish(topic_for(e), encode_event(e)) for e in (forged, own)]
        device_a.close()
        # One client's messages are handled in order: once its own is stored, the forged one is long decided.
        _wait_until(lambda: _stored(secured.database, own.id))
    finally:
        stop_server(runtime)
    with secured.database.session() as session:
        stored = session.scalars(select(IngestedEvent.event_id)).all()
        rejected = session.scalars(select(RejectedEvent.claimed_event_id)).all()
    assert answers == ["Not authorized", "Success"]
    assert (stored, rejected) == ([own.id], [])


def test_the_bus_raises_when_the_broker_refuses_a_publish(secured: Secured, connect: Callable[..., MqttBus]) -> None:
    device_a = connect("cam-a", secured.tokens["cam-a"])
    forged = position(device_id="cam-b", unit_id="B-2")
    with pytest.raises(BusRefused, match=r"refused the message: not authorized \(0x87\)"):
        device_a.publish(topic_for(forged), encode_event(forged))
    own = position(device_id="cam-a", unit_id="A-1")
    device_a.publish(topic_for(own), encode_event(own))  # the connection carries on


def test_on_mqtt_3_a_denied_publish_is_acknowledged_like_any_other_and_dropped(secured: Secured) -> None:
    server = RawClient(secured.broker, user="vigil-command", password=secured.server_password, client_id="s")
    assert server.subscribe("$share/vigil-command/vigil/v1/devices/+/up/#") == ["Granted QoS 1"]
    device_a = RawClient(
        secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-a", protocol=paho.MQTTv311
    )
    answers = [
        device_a.publish("vigil/v1/devices/cam-b/up/position", b"forged"),
        device_a.publish("vigil/v1/devices/cam-a/down/ack", b"forged ack"),
        device_a.publish("vigil/v1/devices/cam-a/up/position", b"own"),
    ]
    assert answers == ["Success"] * 3
    assert server.wait_for_messages(1) == [("vigil/v1/devices/cam-a/up/position", b"own")]
    device_a.close()
    server.close()


def test_a_device_in_a_servers_group_takes_none_of_another_devices_events(
    secured: Secured, connect: Callable[..., MqttBus], settings: CommandSettings
) -> None:
    group = read_share_group(secured.files.share_group_file)
    server_bus = connect("vigil-command", secured.server_password)
    runtime = start_server(settings.model_copy(update={"bus_group": group}), server_bus)
    try:
        thief = RawClient(secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-a")
        up_topics = "vigil/v1/devices/+/up/#"
        # The group Vigil's servers used before share-group (the finding: the server acknowledged 20 of 40), and
        # the other ways a device might read another's events.
        filters = [f"$share/{settings.bus_group}/{up_topics}", f"$share/x/{up_topics}", up_topics, "#"]
        granted = [thief.subscribe(f) for f in filters]
        device_b = RawClient(secured.broker, user="cam-b", password=secured.tokens["cam-b"], client_id="cam-b")
        events = [position(device_id="cam-b", unit_id="B-2") for _ in range(40)]
        answers = {device_b.publish(topic_for(e), encode_event(e)) for e in events}
        _wait_until(lambda: all(_stored(secured.database, e.id) for e in events))
        thief.close()
        device_b.close()
    finally:
        stop_server(runtime)
    assert (group.startswith("vigil-"), len(group), group != settings.bus_group) == (True, 38, True)
    assert (granted, answers, thief.messages) == ([["Granted QoS 1"]] * 4, {"Success"}, [])


def test_the_broker_takes_the_largest_alert_and_cuts_off_oversized_and_retained_messages(secured: Secured) -> None:
    def device(protocol: int = paho.MQTTv5) -> RawClient:
        # One connection at a time: with the user as client id, each new one would end the one before.
        return RawClient(
            secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-a", protocol=protocol
        )

    server = RawClient(secured.broker, user="vigil-command", password=secured.server_password, client_id="s")
    server.subscribe("vigil/v1/devices/+/up/#")
    largest = alert(b"\xff\xd8\xff" + bytes(MAX_PROBE_JPEG_BYTES - 3), device_id="cam-a", unit_id="A-1")
    topic = topic_for(largest)
    sender = device()
    answers = [sender.publish(topic, encode_event(largest))]
    sender.close()
    for payload, retain, protocol in [
        (bytes(30 * 1024 * 1024), True, paho.MQTTv311),  # v3.1.1: the client learns no limit; the broker acts
        (bytes(3 * 1024 * 1024), False, paho.MQTTv311),
        (b"{}", True, paho.MQTTv5),
    ]:
        sender = device(protocol)
        answers.append(sender.publish(topic, payload, retain=retain))
        sender.close()
    marker = position(device_id="cam-a", unit_id="A-1")
    sender = device()
    answers.append(sender.publish(topic_for(marker), encode_event(marker)))
    # Messages from one broker arrive in order: with the marker in, anything refused before it would be too.
    received = server.wait_for_messages(2)
    server.close()
    late = RawClient(secured.broker, user="vigil-command", password=secured.server_password, client_id="s")
    late.subscribe("vigil/v1/devices/cam-a/up/#")  # retained messages would come first
    answers.append(sender.publish(topic_for(marker), encode_event(marker)))
    retained = late.wait_for_messages(1)
    sender.close()
    late.close()

    assert len(encode_event(largest)) > 340_000
    assert [a.split(":")[0] for a in answers] == ["Success", *["disconnected"] * 3, "Success", "Success"]
    assert received == [(topic, encode_event(largest)), (topic_for(marker), encode_event(marker))]
    assert retained == [(topic_for(marker), encode_event(marker))]


def test_a_device_cannot_read_another_devices_orders(secured: Secured, connect: Callable[..., MqttBus]) -> None:
    device_a = RawClient(secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-a")
    device_b = RawClient(secured.broker, user="cam-b", password=secured.tokens["cam-b"], client_id="cam-b")
    granted = [device_a.subscribe(f) for f in ("vigil/v1/devices/cam-b/down/#", "vigil/v1/devices/+/down/#", "#")]
    device_b.subscribe("vigil/v1/devices/cam-b/down/#")
    server = connect("vigil-command", secured.server_password)
    for_b, for_a = _order("cam-b"), _order("cam-a")
    for order in (for_b, for_a):  # B's first: by the time A has its own, B's would have arrived too
        server.publish(topic_for(order), encode_event(order))
    # Mosquitto grants the subscriptions and filters on delivery: A receives its own order once per filter.
    assert granted == [["Granted QoS 1"]] * 3
    assert device_b.wait_for_messages(1) == [(topic_for(for_b), encode_event(for_b))]
    assert device_a.wait_for_messages(2) == [(topic_for(for_a), encode_event(for_a))] * 2
    time.sleep(0.2)
    assert len(device_a.messages) == 2
    device_a.close()
    device_b.close()


def test_a_device_cannot_take_over_another_devices_session_and_its_queued_orders(
    secured: Secured, connect: Callable[..., MqttBus]
) -> None:
    persistent = {"clean_start": False, "session_expiry_s": 300}
    device_b = RawClient(
        secured.broker, user="cam-b", password=secured.tokens["cam-b"], client_id="cam-b", **persistent
    )
    device_b.subscribe("vigil/v1/devices/cam-b/down/#")
    device_b.close()
    order = _order("cam-b")
    connect("vigil-command", secured.server_password).publish(topic_for(order), encode_event(order))
    # A connects under B's client id; the broker makes its id "cam-a" instead, so B's session stays B's.
    impostor = RawClient(
        secured.broker, user="cam-a", password=secured.tokens["cam-a"], client_id="cam-b", **persistent
    )
    impostor_session = impostor.session_present
    time.sleep(0.2)
    impostor.close()
    device_b = RawClient(
        secured.broker, user="cam-b", password=secured.tokens["cam-b"], client_id="cam-b", **persistent
    )
    assert (impostor_session, impostor.messages) == (False, [])
    assert (device_b.session_present, device_b.wait_for_messages(1)) == (
        True,
        [(topic_for(order), encode_event(order))],
    )
    device_b.close()


@pytest.mark.parametrize(
    ("user", "password"),
    [("cam-a", "cam-a.wrong"), ("cam-a", "token of cam-b"), ("ghost", "token of cam-a"), (None, None)],
    ids=["wrong-password", "another-devices-token", "unknown-user", "anonymous"],
)
def test_a_wrong_login_is_refused(
    secured: Secured, connect: Callable[..., MqttBus], user: str | None, password: str | None
) -> None:
    if password is not None and password.startswith("token of "):
        password = secured.tokens[password.removeprefix("token of ")]
    with pytest.raises(BusRefused, match=r"refused the connection: not authorized \(0x87\)"):
        connect(user, password)


def test_a_revoked_device_is_cut_off_when_the_broker_reloads_the_regenerated_files(
    secured: Secured, connect: Callable[..., MqttBus]
) -> None:
    device_a = connect("cam-a", secured.tokens["cam-a"])
    with secured.database.session() as session:
        revoke_device(actor="system", address=None, session=session, device_id="cam-a", now=utc_now())
    assert device_a.connected  # the files still name it
    secured.rewrite()
    secured.broker.reload()
    _wait_until(lambda: not device_a.connected)
    with pytest.raises(BusRefused, match="not authorized"):
        connect("cam-a", secured.tokens["cam-a"])
    assert connect("cam-b", secured.tokens["cam-b"]).connected
