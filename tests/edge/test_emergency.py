"""The officer's emergency on the device: one at a time, delivered, acknowledged, dismissed; the agent sends it
through the outbox with the fix, shows it, and sends positions every second while it is open."""

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.emergency import DeviceEmergency, EmergencyNotAcknowledged, EmergencyStatus, NoEmergency
from vigil.edge.notifier import ConsoleNotifier
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView
from vigil.events import (
    Ack,
    EmergencyAcknowledged,
    EmergencyTrigger,
    Event,
    OfficerEmergency,
    Position,
    encode_event,
    parse_event,
    topic_for,
)
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.gallery import Gallery

ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493)]


def _event() -> OfficerEmergency:
    return OfficerEmergency(
        device_id="cam-7", emergency_id=uuid.uuid4(), unit_id="Bravo-2", trigger=EmergencyTrigger.HANDSET
    )


class Shown:
    """Everything the listener was shown, in order."""

    def __init__(self) -> None:
        self.statuses: list[EmergencyStatus | None] = []

    def __call__(self, status: EmergencyStatus | None) -> None:
        self.statuses.append(status)


def test_a_second_press_while_one_is_open_is_the_same_emergency() -> None:
    stored: list[OfficerEmergency] = []
    shown = Shown()
    emergency = DeviceEmergency(emit=stored.append, listener=shown)
    first = emergency.raise_(_event)
    again = emergency.raise_(_event)
    assert again is first
    assert stored == [first]
    assert emergency.open
    assert shown.statuses == [EmergencyStatus(emergency_id=first.emergency_id, raised_at=first.at)]


def test_an_emergency_that_could_not_be_stored_is_not_open_and_the_next_press_tries_again() -> None:
    class DiskFull(OSError):
        pass

    def refuse(event: OfficerEmergency) -> None:
        raise DiskFull("no space left on device")

    shown = Shown()
    emergency = DeviceEmergency(emit=refuse, listener=shown)
    with pytest.raises(DiskFull):
        emergency.raise_(_event)
    assert not emergency.open
    assert shown.statuses == []


def test_delivered_by_the_ack_of_its_own_event_then_acknowledged_then_dismissed() -> None:
    shown = Shown()
    emergency = DeviceEmergency(emit=lambda event: None, listener=shown)
    event = emergency.raise_(_event)
    emergency.delivered([uuid.uuid4()])  # another event's ack
    assert emergency.status() == EmergencyStatus(emergency_id=event.emergency_id, raised_at=event.at)
    with pytest.raises(EmergencyNotAcknowledged, match="stays open"):
        emergency.dismiss()

    emergency.delivered([uuid.uuid4(), event.id])
    emergency.delivered([event.id])  # a redelivered ack shows nothing new
    other = EmergencyAcknowledged(device_id="cam-7", emergency_id=uuid.uuid4(), by="Op. Stone")
    assert not emergency.acknowledged(other)
    ack = EmergencyAcknowledged(
        device_id="cam-7", emergency_id=event.emergency_id, by="Op. Ahmed", message="2 units on their way: B-7, C-3"
    )
    assert emergency.acknowledged(ack)
    assert not emergency.acknowledged(ack)  # redelivered
    emergency.dismiss()
    assert not emergency.open
    with pytest.raises(NoEmergency):
        emergency.dismiss()

    raised = EmergencyStatus(emergency_id=event.emergency_id, raised_at=event.at)
    delivered = EmergencyStatus(emergency_id=event.emergency_id, raised_at=event.at, delivered=True)
    acknowledged = EmergencyStatus(
        emergency_id=event.emergency_id,
        raised_at=event.at,
        delivered=True,
        acknowledged_by="Op. Ahmed",
        acknowledged_at=ack.at,
        message="2 units on their way: B-7, C-3",
    )
    assert shown.statuses == [raised, delivered, acknowledged, None]
    assert emergency.raise_(_event).emergency_id != event.emergency_id  # dismissed: the next press is new


def test_an_acknowledgement_arriving_before_the_ack_of_the_event_shows_it_delivered() -> None:
    shown = Shown()
    emergency = DeviceEmergency(emit=lambda event: None, listener=shown)
    event = emergency.raise_(_event)
    emergency.acknowledged(EmergencyAcknowledged(device_id="cam-7", emergency_id=event.emergency_id, by="Op. A"))
    emergency.delivered([event.id])
    assert [s.delivered for s in shown.statuses if s is not None] == [False, True]
    assert len(shown.statuses) == 2


class ControlRoom:
    """Stands in for the command centre on the in-process bus: keeps what the device sends and acks it."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.received: list[Event] = []
        self._changed = threading.Condition()
        bus.subscribe("vigil/v1/devices/+/up/#", self)

    def __call__(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._changed:
            self.received.append(event)
            self._changed.notify_all()
        self.send(Ack(device_id=event.device_id, ids=[event.id]))

    def send(self, event: Event) -> None:
        self.bus.publish(topic_for(event), encode_event(event))

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout_s: float = 20) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.received), timeout_s)


@dataclass
class Device:
    agent: EdgeAgent
    room: ControlRoom
    screen: ScreenState
    console: io.StringIO


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    bus = MemoryBus()
    room = ControlRoom(bus)
    screen = ScreenState(
        device_id="cam-7", unit_id="Bravo-2", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
    )
    console = io.StringIO()
    empty = LoadedWatchlist(
        gallery=Gallery([], threshold=0.5, model=DLIB_MODEL_ID), version=1, valid_until=None, package=None
    )
    agent = EdgeAgent(
        identity=EdgeIdentity(device_id="cam-7", unit_id="Bravo-2"),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=ActiveWatchlist(empty),
        recognition=RecognitionSettings(),
        outbox=Outbox(tmp_path / "outbox.sqlite"),
        bus=bus,
        position=SimulatedRoute(ROUTE, 1.4),
        notifiers=[screen, ConsoleNotifier(Console(file=console, width=200))],
        # Longer than any wait below: positions that keep coming can only be the emergency's.
        position_interval_s=600,
        status_interval_s=600,
    )
    agent.start()
    yield Device(agent=agent, room=room, screen=screen, console=console)
    agent.stop()
    agent.outbox.close()
    bus.stop()


def _positions(events: list[Event]) -> int:
    return sum(isinstance(event, Position) for event in events)


def test_the_emergency_goes_out_with_the_fix_and_positions_follow_every_second(device: Device) -> None:
    agent, room = device.agent, device.room
    assert room.wait_for(lambda events: _positions(events) == 1)  # the first position, at start

    event = agent.raise_emergency()
    assert agent.raise_emergency() is event  # pressed again: the same one
    assert room.wait_for(lambda events: any(isinstance(e, OfficerEmergency) for e in events))
    sent = [e for e in room.received if isinstance(e, OfficerEmergency)]
    assert sent == [event]
    assert (event.trigger, event.unit_id, event.device_id) == (EmergencyTrigger.HANDSET, "Bravo-2", "cam-7")
    assert event.location is not None
    assert abs(event.location.lat - ROUTE[0][0]) < 0.01
    # With a 600 s interval, only the emergency's 1 s interval sends three more positions within the wait.
    assert room.wait_for(lambda events: _positions(events) >= 4)

    def delivered() -> bool:
        status = agent.emergency.status()
        return status is not None and status.delivered

    assert room.wait_for(lambda events: delivered())
    view = device.screen.view(health=agent.health(), now=event.at).emergency
    assert view is not None
    assert (view.emergency_id, view.delivered, view.acknowledged_by) == (event.emergency_id, True, None)
    assert "EMERGENCY SENT" in device.console.getvalue()
    assert "delivered to control" in device.console.getvalue()


def test_control_acknowledges_and_the_officer_dismisses(device: Device) -> None:
    agent, room = device.agent, device.room
    event = agent.raise_emergency()
    with pytest.raises(EmergencyNotAcknowledged):
        agent.dismiss_emergency()
    room.send(EmergencyAcknowledged(device_id="cam-7", emergency_id=uuid.uuid4(), by="Op. Stone"))  # not this one
    ack = EmergencyAcknowledged(
        device_id="cam-7", emergency_id=event.emergency_id, by="Op. Ahmed", message="2 units on their way: B-7, C-3"
    )
    room.send(ack)

    def acknowledged() -> bool:
        status = agent.emergency.status()
        return status is not None and status.acknowledged_by is not None

    assert room.wait_for(lambda events: acknowledged())
    view = device.screen.view(health=agent.health(), now=event.at).emergency
    assert view is not None
    assert (view.acknowledged_by, view.acknowledged_at, view.message) == (
        "Op. Ahmed",
        ack.at,
        "2 units on their way: B-7, C-3",
    )
    assert "control has it: Op. Ahmed" in device.console.getvalue()
    assert "Op. Stone" not in device.console.getvalue()
    agent.dismiss_emergency()
    assert device.screen.view(health=agent.health(), now=event.at).emergency is None
    assert not agent.emergency.open
