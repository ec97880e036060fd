"""A stand-in for the command centre on the in-process bus: it keeps what one device sends and acks each event."""

import threading
from typing import TypeVar

from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.events import Ack, Event, encode_event, parse_event, topic_for

E = TypeVar("E")


class AckingControlRoom:
    """Subscribes to one device's up topics, keeps every event in order and acks it, as the server would."""

    def __init__(self, bus: MemoryBus, device_id: str) -> None:
        self.bus = bus
        self._received: list[Event] = []
        self._lock = threading.Lock()
        bus.subscribe(f"vigil/v1/devices/{device_id}/up/#", self)

    def __call__(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._lock:
            self._received.append(event)
        self.send(Ack(device_id=event.device_id, ids=[event.id]))

    def send(self, event: Event) -> None:
        """Publish a down event to the device."""
        self.bus.publish(topic_for(event), encode_event(event))

    def received(self, kind: type[E]) -> list[E]:
        """The events of ``kind`` the device sent, in order."""
        with self._lock:
            return [event for event in self._received if isinstance(event, kind)]
