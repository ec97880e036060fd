"""Ordered, retrying delivery of messages to one subscriber's handler, on threads of its own.

Both bus implementations use it: messages for a subscription queue up and are handed to the handler in arrival
order, one at a time or, for a batch handler, every message waiting (up to a maximum) at once. A handler that
raises gets the same messages again after a back-off (at-least-once; the order is kept, so a poisoned message
holds up the ones behind it and is logged each time, rather than skipped). Only when the handler has returned
are the messages' acknowledgements called, in order (for MQTT: the PUBACKs).

A batch subscriber may have several workers (``concurrency``): each takes the next batch as soon as it is free,
so one batch can be handled while another waits on its database commit. Batches are taken in arrival order and
acknowledged strictly in that order, whatever order their handlers return in: a batch's acknowledgements wait
until every earlier batch's have been called (MQTT requires PUBACKs in the order the messages came). Only a
handler that does not depend on the order of handling (ingestion is idempotent and orders by the events' own
times) should ask for more than one worker.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from vigil.bus.protocol import BatchHandler, Handler, Message

_log = logging.getLogger(__name__)

Acknowledge = Callable[[], None]


class SubscriberThread:
    """Feeds one handler from a queue on daemon threads."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        name: str,
        batch_handler: BatchHandler | None = None,
        max_batch: int = 1,
        concurrency: int = 1,
        first_retry_s: float = 0.05,
        max_retry_s: float = 2.0,
    ) -> None:
        """Start the worker thread(s).

        Args:
            handler: the subscriber's handler, for one message at a time.
            name: the threads' name, for logs.
            batch_handler: instead of ``handler``, a handler for every message waiting, up to ``max_batch``.
            max_batch: the most messages handed to ``batch_handler`` at once.
            concurrency: batches handled at the same time (only with ``batch_handler``); see the module docstring.
            first_retry_s: back-off before the first retry of a failed message, seconds.
            max_retry_s: the longest back-off, seconds.

        Raises:
            ValueError: both or neither handler given, ``max_batch`` or ``concurrency`` below 1, or
                ``concurrency`` above 1 for a one-at-a-time handler.
        """
        if (handler is None) == (batch_handler is None):
            raise ValueError("give either handler or batch_handler")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if concurrency < 1 or (concurrency > 1 and batch_handler is None):
            raise ValueError(f"concurrency must be 1, or more for a batch handler; got {concurrency}")
        self._handle: BatchHandler = batch_handler if batch_handler is not None else _one_at_a_time(handler)
        self._max_batch = max_batch if batch_handler is not None else 1
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._waiting: deque[tuple[Message, Acknowledge | None]] = deque()
        self._arrived = threading.Condition()  # guards _waiting and the batch count
        self._stopping = threading.Event()
        self._acknowledged = threading.Condition()
        self._batches_taken = 0
        self._batches_acknowledged = 0
        self._threads = [
            threading.Thread(target=self._run, name=name if concurrency == 1 else f"{name} #{n}", daemon=True)
            for n in range(1, concurrency + 1)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, message: Message, acknowledge: Acknowledge | None = None) -> None:
        """Queue a message; ``acknowledge`` is called once the handler has returned for it."""
        self.put_many([(message, acknowledge)])

    def put_many(self, items: Iterable[tuple[Message, Acknowledge | None]]) -> None:
        """Queue messages in order, each with its acknowledgement (or None), at the cost of one hand-over."""
        with self._arrived:
            self._waiting.extend(items)
            self._arrived.notify()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the messages in hand; queued messages stay unacknowledged (the broker redelivers them)."""
        self._stopping.set()
        with self._arrived:
            self._arrived.notify_all()
        with self._acknowledged:
            self._acknowledged.notify_all()
        for thread in self._threads:
            if threading.current_thread() is not thread:
                thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            taken = self._take()
            if taken is None:
                return
            number, batch = taken
            if self._deliver(batch):
                self._acknowledge_in_order(number, batch)

    def _take(self) -> tuple[int, list[tuple[Message, Acknowledge | None]]] | None:
        """The next batch and its number, or None when stopping."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._waiting or self._stopping.is_set())
            if self._stopping.is_set():
                return None  # what is queued stays unacknowledged
            count = min(len(self._waiting), self._max_batch)
            batch = [self._waiting.popleft() for _ in range(count)]
            if self._waiting:
                self._arrived.notify()  # another worker may take the rest
            self._batches_taken += 1
            return self._batches_taken, batch

    def _deliver(self, batch: list[tuple[Message, Acknowledge | None]]) -> bool:
        """Hand the batch to the handler until it returns (True), or until stopping (False)."""
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
            return True
        return False

    def _acknowledge_in_order(self, number: int, batch: list[tuple[Message, Acknowledge | None]]) -> None:
        with self._acknowledged:
            self._acknowledged.wait_for(lambda: self._batches_acknowledged == number - 1 or self._stopping.is_set())
            if self._batches_acknowledged != number - 1:
                return  # stopping with an earlier batch unhandled: this one stays unacknowledged too
            for _, acknowledge in batch:
                if acknowledge is not None:
                    acknowledge()
            self._batches_acknowledged = number
            self._acknowledged.notify_all()


def _one_at_a_time(handler: Handler | None) -> BatchHandler:
    if handler is None:
        raise ValueError("give either handler or batch_handler")

    def handle(messages: Sequence[Message]) -> None:
        for message in messages:
            handler(message)

    return handle
