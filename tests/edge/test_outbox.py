import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Broker, start_mosquitto
from tests.support.small_disk import SmallDisk, cannot_mount, small_disk, truncate_wal
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus, Message
from vigil.edge.outbox import Outbox
from vigil.edge.outbox_state import OutboxStorage, StorageFault
from vigil.edge.uplink import Uplink
from vigil.events import Ack, DispatchState, DispatchStatus, Position, encode_event, parse_event


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


# The storage failing: the outbox keeps every event it was given, in order, and reports it.


def _alert_like(number: int) -> DispatchStatus:
    """An event memory must never discard (a position or device status may be; a dispatch answer may not)."""
    return DispatchStatus(device_id="cam-1", dispatch_id=uuid.UUID(int=number + 1), status=DispatchState.ACCEPTED)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    reason = cannot_mount()
    if reason is not None:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        try:
            mounted = stack.enter_context(small_disk(tmp_path / "disk", size_kib=1024))
        except RuntimeError as exc:
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        yield mounted


def test_a_broken_file_at_start_keeps_events_in_memory_until_it_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    caplog.set_level(logging.ERROR, logger="vigil.edge.outbox")
    outbox = Outbox(path, retry_interval_s=0)
    state = outbox.state()
    assert (state.storage, state.fault) == (OutboxStorage.MEMORY, StorageFault.BROKEN)
    assert "file is not a database" in state.detail
    assert [r.message for r in caplog.records] == ["outbox.storage_failed"]
    assert caplog.records[0].exc_info is None  # a fault to report, not a traceback

    events = [_position(n) for n in range(3)]
    for event in events:
        outbox.put(event)
    assert [item.event_id for item in outbox.oldest()] == [e.id for e in events]
    assert all(item.in_memory for item in outbox.oldest())
    assert outbox.acknowledge([events[1].id]) == 1
    state = outbox.state()
    assert (state.backlog, state.in_memory, state.on_disk) == (2, 2, 0)
    assert state.describe().startswith("memory: storage broken")
    assert state.warning() == (
        "Storage broken (not a readable outbox) — 2 events only in memory, not yet sent "
        "(move the broken outbox file aside: a new one is then made)"
    )

    path.rename(tmp_path / "outbox.broken")  # a person moves it aside: the next try writes memory to a new file
    outbox.retry()
    state = outbox.state()
    assert (state.storage, state.on_disk, state.in_memory, state.spilled) == (OutboxStorage.DISK, 2, 0, 3)
    assert state.warning() is None
    assert outbox.close() == 0  # all on disk
    reopened = Outbox(path)
    assert [item.event_id for item in reopened.oldest()] == [events[0].id, events[2].id]
    reopened.close()


def test_a_full_disk_keeps_events_in_memory_and_writes_them_in_order_when_freed(disk: SmallDisk) -> None:
    outbox = Outbox(disk.path / "outbox.sqlite", retry_interval_s=0)
    before = [_position(n) for n in range(3)]
    for event in before:
        outbox.put(event)
    truncate_wal(disk.path / "outbox.sqlite")
    assert disk.fill() > 0
    during = [_alert_like(0), _position(3), _alert_like(1)]
    for event in during:
        outbox.put(event)
    state = outbox.state()
    assert (state.storage, state.fault, state.on_disk, state.in_memory) == (
        OutboxStorage.MEMORY,
        StorageFault.FULL,
        3,
        3,
    )
    assert state.warning() == "Storage full — 3 events only in memory, not yet sent (free space on the device)"
    # Sent oldest first overall; an ack the full disk cannot record still removes the events from the backlog.
    assert [item.event_id for item in outbox.oldest()] == [e.id for e in before + during]
    outbox.acknowledge([before[0].id, during[0].id])
    assert outbox.backlog() == 4
    assert before[0].id not in {item.event_id for item in outbox.oldest()}

    disk.free()
    after = _position(4)
    outbox.put(after)
    state = outbox.state()
    assert (state.storage, state.on_disk, state.in_memory, state.dropped) == (OutboxStorage.DISK, 5, 0, 0)
    outbox.close()
    reopened = Outbox(disk.path / "outbox.sqlite")
    expected = [before[1], before[2], during[1], during[2], after]
    assert [item.event_id for item in reopened.oldest()] == [e.id for e in expected]
    reopened.close()


def test_a_read_only_disk_at_start_then_writable(disk: SmallDisk) -> None:
    first = Outbox(disk.path / "outbox.sqlite")
    kept = [_position(n) for n in range(2)]
    for event in kept:
        first.put(event)
    first.close()
    disk.read_only()
    outbox = Outbox(disk.path / "outbox.sqlite", retry_interval_s=0)
    assert outbox.state().fault is StorageFault.READ_ONLY
    new = [_alert_like(0), _position(2)]
    for event in new:
        outbox.put(event)
    assert outbox.state().in_memory == 2
    disk.writable()
    outbox.retry()
    state = outbox.state()
    assert (state.storage, state.on_disk, state.in_memory) == (OutboxStorage.DISK, 4, 0)
    assert [item.event_id for item in outbox.oldest()] == [e.id for e in kept + new]
    outbox.close()


def test_memory_full_drops_the_oldest_positions_never_alerts(tmp_path: Path) -> None:
    (tmp_path / "outbox.sqlite").mkdir()  # a folder where the file should be: it cannot be opened
    outbox = Outbox(tmp_path / "outbox.sqlite", memory_limit=3)
    assert outbox.state().fault is StorageFault.UNAVAILABLE
    a0, p0, p1, a1, p2, a2, a3 = (
        _alert_like(0),
        _position(0),
        _position(1),
        _alert_like(1),
        _position(2),
        *[_alert_like(n) for n in (2, 3)],
    )
    for event in (a0, p0, p1, a1, p2, a2, a3):
        outbox.put(event)
    # p0 went for a1, p1 for p2 (the oldest position), p2 for a2; a3 is kept past the limit.
    assert [item.event_id for item in outbox.oldest()] == [a0.id, a1.id, a2.id, a3.id]
    state = outbox.state()
    assert (state.in_memory, state.dropped) == (4, 3)
    warning = state.warning()
    assert warning is not None
    assert "3 positions/statuses dropped, never sent" in warning
    outbox.put(_position(9))  # memory full of alerts: the new position is the one dropped
    assert outbox.state().dropped == 4
    assert outbox.close() == 4  # the file still cannot be opened: what memory holds is lost, and counted


def test_the_uplink_delivers_events_held_in_memory_and_acks_clear_them(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"\x00" * 4096)
    bus = MemoryBus()
    server = FakeServer(bus)
    outbox = Outbox(path)
    bus.subscribe("vigil/v1/devices/cam-1/down/#", _acker(outbox))
    uplink = Uplink(outbox=outbox, bus=bus, idle_poll_s=0.05, max_backoff_s=0.2)
    uplink.start()
    events = [_position(n) for n in range(20)]
    for event in events:
        outbox.put(event)
        uplink.wake()
    assert _wait(lambda: outbox.backlog() == 0)
    assert server.order == [e.id for e in events]
    assert outbox.state().storage is OutboxStorage.MEMORY  # still broken: nothing pending, but new events are unsafe
    uplink.stop()
    bus.stop()
    outbox.close()


def test_many_events_in_memory_go_to_the_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.mkdir()  # in the way of the file
    outbox = Outbox(path, retry_interval_s=0)
    events = [_position(n) for n in range(1_234)]  # more than one transaction's chunk
    for event in events:
        outbox.put(event)
    assert outbox.state().in_memory == len(events)
    path.rmdir()
    outbox.retry()
    state = outbox.state()
    assert (state.storage, state.on_disk, state.in_memory) == (OutboxStorage.DISK, len(events), 0)
    assert [item.event_id for item in outbox.oldest(limit=2_000)] == [e.id for e in events]
    outbox.close()
