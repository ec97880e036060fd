"""The in-process bus, the embedded default: one process, no broker, the same delivery rules as MQTT.

A subscription receives messages published after it was made. Its handler runs on the subscription's own
thread, in order, and a message whose handler raises is delivered again. :meth:`MemoryBus.set_link` cuts and
restores the link, so a simulated device can go offline as a real one does in a tunnel.
"""

import threading
from collections.abc import Callable, Sequence

from vigil.bus.delivery import SubscriberThread
from vigil.bus.errors import BusClosed, BusUnavailable
from vigil.bus.protocol import BatchHandler, Handler, Message, topic_matches


class MemoryBus:
    """Publish/subscribe inside one process."""

    def __init__(self) -> None:
        """Create a bus with the link up and no subscriptions."""
        self._lock = threading.Lock()
        self._subscriptions: list[tuple[str, SubscriberThread]] = []
        self._turns: dict[str, int] = {}
        self._link_up = True
        self._closed = False

    def set_link(self, *, up: bool) -> None:
        """Cut (``up=False``) or restore the link; while cut, :meth:`publish` raises :class:`BusUnavailable`."""
        self._link_up = up

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue the message for every matching subscription; see :meth:`vigil.bus.protocol.Bus.publish`."""
        if self._closed:
            raise BusClosed("the bus has been stopped")
        if not self._link_up:
            raise BusUnavailable("the link to the command centre is down; the message stays queued on the device")
        message = Message(topic=topic, payload=payload)
        with self._lock:
            targets = []
            shared: dict[str, list[SubscriberThread]] = {}
            for topic_filter, thread in self._subscriptions:
                if not topic_matches(topic_filter, topic):
                    continue
                if topic_filter.startswith("$share/"):
                    shared.setdefault(topic_filter, []).append(thread)
                else:
                    targets.append(thread)
            # A shared subscription's group receives each message once, taking turns as a broker does.
            for topic_filter, group in shared.items():
                turn = self._turns.get(topic_filter, 0)
                targets.append(group[turn % len(group)])
                self._turns[topic_filter] = turn + 1
        for thread in targets:
            thread.put(message)

    def publish_many(self, messages: Sequence[tuple[str, bytes]], *, confirmed: bool = True) -> None:
        """Queue each message in turn (accepted at once either way); see :meth:`vigil.bus.protocol.Bus.publish_many`."""
        for topic, payload in messages:
            self.publish(topic, payload)

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """See :meth:`vigil.bus.protocol.Bus.subscribe`."""
        self._add(topic_filter, lambda name: SubscriberThread(handler, name=name))

    def subscribe_batches(
        self, topic_filter: str, handler: BatchHandler, *, max_batch: int, concurrency: int = 1
    ) -> None:
        """See :meth:`vigil.bus.protocol.Bus.subscribe_batches`."""
        self._add(
            topic_filter,
            lambda name: SubscriberThread(
                batch_handler=handler, max_batch=max_batch, concurrency=concurrency, name=name
            ),
        )

    def _add(self, topic_filter: str, start: Callable[[str], SubscriberThread]) -> None:
        if self._closed:
            raise BusClosed("the bus has been stopped")
        thread = start(f"memory-bus {topic_filter}")
        with self._lock:
            self._subscriptions.append((topic_filter, thread))

    def stop(self) -> None:
        """Stop every subscription's thread."""
        self._closed = True
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for _, thread in subscriptions:
            thread.stop()
