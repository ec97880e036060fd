"""Ordered, retrying delivery of messages to one subscriber's handler, on its own thread.

Both bus implementations use it: messages for a subscription queue up and are handed to the handler in arrival
order, one at a time or, for a batch handler, every message waiting (up to a maximum) at once. A handler that
raises gets the same messages again after a back-off (at-least-once; the order is kept, so a poisoned message
holds up the ones behind it and is logged each time, rather than skipped). Only when the handler has returned
are the messages' acknowledgements called, in order (for MQTT: the PUBACKs).
"""

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from vigil.bus.protocol import BatchHandler, Handler, Message

_log = logging.getLogger(__name__)

Acknowledge = Callable[[], None]


class SubscriberThread:
    """Feeds one handler from a queue on a daemon thread."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        name: str,
        batch_handler: BatchHandler | None = None,
        max_batch: int = 1,
        first_retry_s: float = 0.05,
        max_retry_s: float = 2.0,
    ) -> None:
        """Start the thread.

        Args:
            handler: the subscriber's handler, for one message at a time.
            name: the thread's name, for logs.
            batch_handler: instead of ``handler``, a handler for every message waiting, up to ``max_batch``.
            max_batch: the most messages handed to ``batch_handler`` at once.
            first_retry_s: back-off before the first retry of a failed message, seconds.
            max_retry_s: the longest back-off, seconds.
        """
        if (handler is None) == (batch_handler is None):
            raise ValueError("give either handler or batch_handler")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._handle: BatchHandler = batch_handler if batch_handler is not None else _one_at_a_time(handler)
        self._max_batch = max_batch if batch_handler is not None else 1
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
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stopping.set()  # stop() was called: the batch in hand stays unacknowledged too
                    return
                batch.append(more)
            self._deliver(batch)

    def _deliver(self, batch: list[tuple[Message, Acknowledge | None]]) -> None:
        messages = [message for message, _ in batch]
        delay = self._first_retry_s
        while not self._stopping.is_set():
            try:
                self._handle(messages)
            except Exception:
                _log.exception(
                    "bus.handler_failed",
                    extra={"topic": messages[0].topic, "messages": len(messages), "retry_in_s": delay},
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_retry_s)
                continue
            for _, acknowledge in batch:
                if acknowledge is not None:
                    acknowledge()
            return


def _one_at_a_time(handler: Handler | None) -> BatchHandler:
    if handler is None:
        raise ValueError("give either handler or batch_handler")

    def handle(messages: Sequence[Message]) -> None:
        for message in messages:
            handler(message)

    return handle
