"""Devices' events over the bus: committed, then acknowledged, so the device's outbox drains (rejects too)."""

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.command.conftest import Register
from tests.command.events import alert, position, send_watchlist
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus, Handler, Message
from vigil.command.alerts.models import Alert
from vigil.command.app import start_server, stop_server
from vigil.command.database import Database
from vigil.command.errors import DatabaseUnavailable, IngestionStopped
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import IngestedEvent, RejectedEvent, RejectReason
from vigil.command.ingestion.subscriber import EventSubscriber, device_of
from vigil.command.settings import CommandSettings, IngestionLimits
from vigil.command.units.models import PositionRecord, Unit
from vigil.edge.downlink import Downlink
from vigil.edge.orders import OrderBook
from vigil.edge.outbox import Outbox
from vigil.edge.uplink import Uplink
from vigil.events import encode_event, parse_event, topic_for, utc_now


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield started
    started.stop()


class Device:
    """A body camera's store-and-forward path, as the edge agent wires it."""

    def __init__(self, directory: Path, bus: Bus, device_id: str = "cam-1") -> None:
        self.outbox = Outbox(directory / f"{device_id}-outbox.sqlite")
        orders = OrderBook(device_id=device_id, emit=self.outbox.put)
        downlink = Downlink(
            device_id=device_id, outbox=self.outbox, orders=orders, notifiers=[], on_watchlist=lambda event: None
        )
        bus.subscribe(f"vigil/v1/devices/{device_id}/down/#", downlink)
        self.uplink = Uplink(outbox=self.outbox, bus=bus, resend_after_s=5, idle_poll_s=0.05)

    def wait_until_drained(self, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while self.outbox.backlog() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.outbox.backlog() == 0, "the outbox did not drain: acks missing"

    def close(self) -> None:
        self.uplink.stop()
        self.outbox.close()


@pytest.mark.parametrize("transport", ["memory", "mqtt"])
def test_a_device_gets_acks_for_what_was_committed_and_rejected_and_its_outbox_drains(
    transport: str,
    broker: Broker,
    settings: CommandSettings,
    register: Register,
    database: Database,
    probe_jpeg: bytes,
    tmp_path: Path,
) -> None:
    register("cam-1", "A-12")
    send_watchlist(database, "cam-1", version=3, subjects=("obama",))
    shared = MemoryBus()
    # No session outlives its test: a server's persistent session stays a member of the shared group, and the
    # broker would hand it (offline) its turn of the next test's events.
    mqtt = MqttSettings(host=broker.host, port=broker.port, session_expiry_s=0)
    server_bus: Bus = shared if transport == "memory" else MqttBus(mqtt)
    device_bus: Bus = shared if transport == "memory" else MqttBus(mqtt.model_copy(update={"client_id": "cam-1"}))
    runtime = start_server(settings, server_bus)
    device = Device(tmp_path, device_bus)
    try:
        accepted = [position(), alert(probe_jpeg), position(lat=51.51)]
        rejected = [
            position(at=utc_now() + timedelta(hours=2)),
            alert(probe_jpeg, subject_id="never-sent"),
            alert(probe_jpeg, watchlist_version=4),
        ]
        for event in [*accepted, *rejected]:
            device.outbox.put(event)
        device.uplink.start()
        device.wait_until_drained()
    finally:
        device.close()
        stop_server(runtime)
        server_bus.stop()
        device_bus.stop()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PositionRecord)) == 2
        assert session.scalar(select(Alert.alert_id)) == accepted[1].alert_id
        assert sorted(session.scalars(select(RejectedEvent.reason))) == sorted(
            [RejectReason.FROM_THE_FUTURE, RejectReason.SUBJECT_NOT_SENT, RejectReason.VERSION_NOT_SENT]
        )
        assert session.get_one(Unit, "A-12").position_lat == pytest.approx(51.51)
        assert session.scalar(select(func.count()).select_from(Alert)) == 1


class Recorder:
    """A bus that records what is published, and calls ``on_publish`` first."""

    def __init__(self, on_publish: Callable[[], None] = lambda: None) -> None:
        self.published: list[Message] = []
        self._on_publish = on_publish

    def publish(self, topic: str, payload: bytes) -> None:
        self._on_publish()
        self.published.append(Message(topic, payload))

    def publish_many(self, messages: list[tuple[str, bytes]], *, confirmed: bool = True) -> None:
        for topic, payload in messages:
            self.publish(topic, payload)

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        raise AssertionError("the subscriber never subscribes by itself")

    def stop(self) -> None:
        raise AssertionError("the subscriber never stops the bus")


def test_the_ack_follows_the_commit_on_the_devices_down_topic(
    register: Register, database: Database, limits: IngestionLimits
) -> None:
    register("cam-1", "A-12")
    event = position()
    committed_when_acked: list[bool] = []

    def check_committed() -> None:
        with database.session() as session:
            committed_when_acked.append(session.get(IngestedEvent, event.id) is not None)

    bus = Recorder(on_publish=check_committed)
    metrics = IngestionMetrics()
    subscriber = EventSubscriber(bus=bus, database=database, limits=limits, metrics=metrics)
    for _ in range(2):  # the second copy is a duplicate, acknowledged again
        subscriber(Message(topic_for(event), encode_event(event)))
        assert subscriber.flush()
    subscriber.close()
    timing = metrics.snapshot().timing
    assert (timing.batches, timing.events, timing.acks) == (2, 2, 2)
    assert timing.ack_s > 0
    acks = [parse_event(m.payload) for m in bus.published]
    assert [m.topic for m in bus.published] == ["vigil/v1/devices/cam-1/down/ack"] * 2
    assert [(a.type, a.device_id, getattr(a, "ids", None)) for a in acks] == [("ack", "cam-1", [event.id])] * 2
    assert committed_when_acked == [True, True]


def test_an_event_without_a_readable_id_cannot_be_acknowledged(
    register: Register, database: Database, limits: IngestionLimits
) -> None:
    register("cam-1", "A-12")
    bus = Recorder()
    subscriber = EventSubscriber(bus=bus, database=database, limits=limits, metrics=IngestionMetrics())
    subscriber(Message("vigil/v1/devices/cam-1/up/position", b"garbage"))
    subscriber.close()
    assert bus.published == []
    with database.session() as session:
        assert session.scalars(select(RejectedEvent.reason)).all() == [RejectReason.MALFORMED]


def test_an_unavailable_database_raises_so_the_bus_delivers_again(limits: IngestionLimits) -> None:
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/vigil", connect_timeout_s=2)
    bus = Recorder()
    subscriber = EventSubscriber(bus=bus, database=database, limits=limits, metrics=IngestionMetrics())
    event = position()
    with pytest.raises(DatabaseUnavailable):
        subscriber(Message(topic_for(event), encode_event(event)))
    assert bus.published == []
    subscriber.close()
    with pytest.raises(IngestionStopped):
        subscriber(Message(topic_for(event), encode_event(event)))
    database.dispose()


@pytest.mark.parametrize(
    ("topic", "device_id"),
    [
        ("vigil/v1/devices/cam-1/up/position", "cam-1"),
        ("vigil/v1/devices/cam-1/up", "cam-1"),
        ("vigil/v1/devices", ""),
        ("other/v1/devices/cam-1/up/position", ""),
    ],
)
def test_the_sender_is_the_topics_device_level(topic: str, device_id: str) -> None:
    assert device_of(topic) == device_id
