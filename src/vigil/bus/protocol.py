"""The :class:`Bus` seam: publish and subscribe with at-least-once delivery.

A message is *accepted* when :meth:`Bus.publish` returns (for MQTT: the broker's PUBACK). A subscriber's
handler *acknowledges* a message by returning; if it raises, the message is delivered again, so handlers must
be idempotent (events carry their id for that). Topics and filters follow MQTT: ``/``-separated levels, ``+``
matches one level, ``#`` the rest, and ``$share/<group>/<filter>`` shares a filter among several subscribers.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """One message as delivered to a subscriber."""

    topic: str
    payload: bytes


Handler = Callable[[Message], None]
"""Handles one message; returning acknowledges it, raising has it delivered again."""

BatchHandler = Callable[[Sequence[Message]], None]
"""Handles the messages waiting, in order; returning acknowledges them all, raising has them all delivered again."""


class Bus(Protocol):
    """Publish/subscribe with at-least-once delivery."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Send a message; returns once the bus has accepted it.

        Raises:
            BusUnavailable: the link is down or the broker did not confirm; the caller keeps the message.
            BusRefused: the broker will not take it (ACL).
            BusClosed: the bus was stopped.
        """
        ...

    def publish_many(self, messages: Sequence[tuple[str, bytes]], *, confirmed: bool = True) -> None:
        """Send several ``(topic, payload)`` messages; returns once the bus has accepted all of them.

        All go out before any confirmation is awaited, so a batch costs about one round trip to the broker. With
        ``confirmed=False`` it returns once they are sent, without waiting for the broker at all: for messages
        whose loss the protocol above covers (an ack that never arrives makes the device send its event again).

        Raises:
            BusUnavailable, BusRefused, BusClosed: as :meth:`publish`; some messages may have been accepted.
        """
        ...

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Call ``handler`` for every message matching ``topic_filter``, in order, on a thread of the bus."""
        ...

    def subscribe_batches(
        self, topic_filter: str, handler: BatchHandler, *, max_batch: int, concurrency: int = 1
    ) -> None:
        """Like :meth:`subscribe`, but hand ``handler`` every message waiting (at most ``max_batch``) at once.

        Under light load a batch holds one message; when messages arrive faster than the handler returns, they
        gather while it works, so a handler that costs less per message in bulk (one database transaction for
        many) keeps up without adding delay. With ``concurrency`` above 1, that many batches may be in the
        handler at once (each in order, acknowledged in arrival order): only for handlers that do not depend on
        the order of handling (see :mod:`vigil.bus.delivery`).
        """
        ...

    def stop(self) -> None:
        """Stop delivering and release the connection; unacknowledged messages stay with the broker."""
        ...


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether an MQTT topic filter matches a topic (``+``, ``#`` and ``$share/<group>/`` understood)."""
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    wanted = topic_filter.split("/")
    levels = topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)
