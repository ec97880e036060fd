"""Acknowledgements to devices: published on a thread of their own, merged per device.

Event ids are handed here only once they are committed, so an ack only tells a device that it may forget them.
Publishing them apart from ingestion lets the ingesting thread take the next batch at once instead of waiting
for the broker to confirm every ack. While one round is being published, new ids gather, and the next round
sends one :class:`~vigil.events.Ack` per device for all of them: under load, acks get fewer and larger.

A round's acks are published together without waiting for the broker's confirmation
(:meth:`~vigil.bus.protocol.Bus.publish_many` with ``confirmed=False``): an ack lost with a broker is covered by
the device, which sends the event again and has the copy acknowledged as a duplicate, so waiting would only
delay every device's next ack by a round trip. If the bus is down, the round's ids stay pending and are tried
again after a back-off (acks it did publish are sent again: a device ignores ids it no longer holds). Ids
still pending when the server stops are lost, harmlessly: the device sends those events again after its resend
interval, and the copies are acknowledged as duplicates.
"""

import logging
import threading
import time
import uuid
from collections.abc import Sequence

from vigil.bus.errors import BusError
from vigil.bus.protocol import Bus
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.events import Ack, encode_event, topic_for

_log = logging.getLogger(__name__)

MAX_IDS_PER_ACK = 10_000
"""The most ids one ack carries (the contract's limit)."""


class AckSender:
    """Publishes acks for committed events, per device, on its own thread."""

    def __init__(
        self,
        *,
        bus: Bus,
        metrics: IngestionMetrics | None = None,
        first_retry_s: float = 0.1,
        max_retry_s: float = 5.0,
    ) -> None:
        """Start the thread.

        Args:
            bus: where the acks go.
            metrics: where the acks published, and the time publishing took, are counted; None: nowhere.
            first_retry_s: back-off after a failed round, seconds.
            max_retry_s: the longest back-off, seconds.
        """
        self._bus = bus
        self._metrics = metrics
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._changed = threading.Condition()
        self._pending: dict[str, list[uuid.UUID]] = {}
        self._publishing = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acks", daemon=True)
        self._thread.start()

    def add(self, device_id: str, ids: Sequence[uuid.UUID]) -> None:
        """Acknowledge these committed events to their device, soon."""
        if not ids:
            return
        with self._changed:
            self._pending.setdefault(device_id, []).extend(ids)
            self._changed.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every ack handed over has been published.

        Returns:
            True when none is pending; False when ``timeout_s`` passed first.
        """
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending and not self._publishing, timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish what is pending (within ``timeout_s``), then stop."""
        self.flush(timeout_s)
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        delay = self._first_retry_s
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending) or self._stopping.is_set())
                if self._stopping.is_set():
                    if self._pending:
                        _log.info("acks.dropped", extra={"devices": len(self._pending)})
                    return
                round_, self._pending = self._pending, {}
                self._publishing = True
            failed = self._publish(round_)
            with self._changed:
                for device_id, ids in failed.items():
                    self._pending[device_id] = ids + self._pending.get(device_id, [])
                self._publishing = False
                self._changed.notify_all()
            if failed:
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_retry_s)
            else:
                delay = self._first_retry_s

    def _publish(self, round_: dict[str, list[uuid.UUID]]) -> dict[str, list[uuid.UUID]]:
        """Publish one round; returns its ids, per device, when it could not be published (all of them)."""
        acks = [
            Ack(device_id=device_id, ids=ids[start : start + MAX_IDS_PER_ACK])
            for device_id, ids in round_.items()
            for start in range(0, len(ids), MAX_IDS_PER_ACK)
        ]
        started = time.perf_counter()
        try:
            self._bus.publish_many([(topic_for(ack), encode_event(ack)) for ack in acks], confirmed=False)
        except BusError as exc:
            _log.warning("acks.not_published", extra={"devices": len(round_), "reason": str(exc)})
            return round_
        if self._metrics is not None:
            self._metrics.count_acks(acks=len(acks), seconds=time.perf_counter() - started)
        return {}
