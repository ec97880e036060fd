"""Ordered, retrying delivery of messages to one subscriber's handler, on its own thread.

Both bus implementations use it: messages for a subscription queue up and are handed to the handler one at a
time, in arrival order. A handler that raises gets the same message again after a back-off (at-least-once; the
order is kept, so a poisoned message holds up the ones behind it and is logged each time, rather than skipped).
Only when the handler has returned is the message's acknowledgement called (for MQTT: the PUBACK).
"""

import logging
import queue
import threading
from collections.abc import Callable

from vigil.bus.protocol import Handler, Message

_log = logging.getLogger(__name__)

Acknowledge = Callable[[], None]


class SubscriberThread:
    """Feeds one handler from a queue on a daemon thread."""

    def __init__(self, handler: Handler, *, name: str, first_retry_s: float = 0.05, max_retry_s: float = 2.0) -> None:
        """Start the thread.

        Args:
            handler: the subscriber's handler.
            name: the thread's name, for logs.
            first_retry_s: back-off before the first retry of a failed message, seconds.
            max_retry_s: the longest back-off, seconds.
        """
        self._handler = handler
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._queue: queue.Queue[tuple[Message, Acknowledge | None] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, message: Message, acknowledge: Acknowledge | None = None) -> None:
        """Queue a message; ``acknowledge`` is called once the handler has returned for it."""
        self._queue.put((message, acknowledge))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the message in hand; queued messages stay unacknowledged (the broker redelivers them)."""
        self._stopping.set()
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._queue.get()
            if item is None:
                return
            message, acknowledge = item
            delay = self._first_retry_s
            while not self._stopping.is_set():
                try:
                    self._handler(message)
                except Exception:
                    _log.exception("bus.handler_failed", extra={"topic": message.topic, "retry_in_s": delay})
                    self._stopping.wait(delay)
                    delay = min(delay * 2, self._max_retry_s)
                    continue
                if acknowledge is not None:
                    acknowledge()
                break
