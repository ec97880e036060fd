import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus, Message
from vigil.edge.outbox import Outbox
from vigil.edge.uplink import Uplink
from vigil.events import Ack, Position, encode_event, parse_event


def _position(number: int) -> Position:
    return Position(device_id="cam-1", unit_id="u1", lat=51.5, lon=-0.12 + number * 1e-5)


def test_events_survive_a_restart_until_acknowledged(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    events = [_position(n) for n in range(5)]
    for event in events:
        outbox.put(event)
    outbox.put(events[0])  # stored twice: kept once
    outbox.close()
    reopened = Outbox(tmp_path / "outbox.sqlite")
    assert [item.event_id for item in reopened.oldest()] == [e.id for e in events]
    assert reopened.acknowledge([events[1].id, events[3].id, uuid.uuid4()]) == 2
    assert [item.event_id for item in reopened.oldest()] == [events[0].id, events[2].id, events[4].id]
    assert reopened.backlog() == 3
    assert parse_event(reopened.oldest()[0].payload) == events[0]
    reopened.close()


class FakeServer:
    """Stores every up event once (by id) and acknowledges it, as the command centre does."""

    def __init__(self, bus: Bus) -> None:
        self.stored: dict[uuid.UUID, Position] = {}
        self.order: list[uuid.UUID] = []
        self.received = 0
        self._bus = bus
        self._lock = threading.Lock()
        bus.subscribe("vigil/v1/devices/+/up/#", self)

    def __call__(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._lock:
            self.received += 1
            if event.id not in self.stored:
                self.stored[event.id] = event  # type: ignore[assignment]
                self.order.append(event.id)
        self._bus.publish(
            f"vigil/v1/devices/{event.device_id}/down/ack", encode_event(Ack(device_id=event.device_id, ids=[event.id]))
        )


def _wait(condition, timeout_s: float = 15) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _acker(outbox: Outbox):  # type: ignore[no-untyped-def]
    def handle(message: Message) -> None:
        event = parse_event(message.payload)
        assert isinstance(event, Ack)
        outbox.acknowledge(event.ids)

    return handle


def test_offline_period_then_ordered_complete_delivery_in_process(tmp_path: Path) -> None:
    bus = MemoryBus()
    server = FakeServer(bus)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    bus.subscribe("vigil/v1/devices/cam-1/down/#", _acker(outbox))
    bus.set_link(up=False)
    uplink = Uplink(outbox=outbox, bus=bus, idle_poll_s=0.05, max_backoff_s=0.2)
    uplink.start()
    events = [_position(n) for n in range(40)]
    for event in events:
        outbox.put(event)
        uplink.wake()
    time.sleep(0.5)
    assert server.stored == {}
    assert not uplink.link_up
    bus.set_link(up=True)
    assert _wait(lambda: outbox.backlog() == 0)
    assert server.order == [e.id for e in events]
    uplink.stop()
    bus.stop()
    outbox.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path_factory.mktemp("broker"), persistence=True)
    yield started
    if started.process.poll() is None:
        started.stop()


def test_offline_period_then_ordered_duplicate_free_delivery_through_mosquitto(tmp_path: Path, broker: Broker) -> None:
    """The device stores events while the broker is down, then delivers all of them, in order, once each."""
    server_bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id="test-server"))
    server = FakeServer(server_bus)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    device_settings = MqttSettings(host=broker.host, port=broker.port, client_id="edge-cam-1", publish_timeout_s=2)
    device_bus = MqttBus(device_settings)
    device_bus.subscribe("vigil/v1/devices/cam-1/down/#", _acker(outbox))
    uplink = Uplink(outbox=outbox, bus=device_bus, idle_poll_s=0.05, max_backoff_s=0.5, resend_after_s=3)
    uplink.start()
    first = [_position(n) for n in range(10)]
    for event in first:
        outbox.put(event)
        uplink.wake()
    assert _wait(lambda: outbox.backlog() == 0)

    broker.stop()  # the link is lost: a tunnel, a dead zone
    offline = [_position(n) for n in range(10, 60)]
    for event in offline:
        outbox.put(event)
        uplink.wake()
    assert _wait(lambda: not uplink.link_up)
    assert outbox.backlog() == 50

    broker.restart()
    assert _wait(lambda: outbox.backlog() == 0, timeout_s=60)
    assert server.order == [e.id for e in first + offline]
    assert len(server.stored) == 60
    uplink.stop()
    device_bus.stop()
    server_bus.stop()
    outbox.close()
