"""The uplink: sends the outbox's events to the command centre, oldest first, until each is acknowledged.

It runs on its own thread. While the link is down it waits and retries with back-off; an event sent but not
acknowledged within ``resend_after_s`` is sent again (the ack may have been lost). Nothing leaves the outbox
here: only the server's ``ack`` (see :mod:`vigil.edge.downlink`) removes events. Events the outbox holds only in
memory (its file cannot be written) are sent the same way, after those on disk; each round also gives the outbox
a chance to write them to its file (:meth:`~vigil.edge.outbox.Outbox.retry`).
"""

import logging
import threading
import time
import uuid

from vigil.bus.errors import BusError
from vigil.bus.protocol import Bus
from vigil.edge.outbox import Outbox

_log = logging.getLogger(__name__)


class Uplink:
    """Drains an outbox into a bus."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        bus: Bus,
        resend_after_s: float = 20.0,
        idle_poll_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        """Prepare the uplink; call :meth:`start` to begin sending.

        Args:
            outbox: the events to send.
            bus: the link to the command centre.
            resend_after_s: send an unacknowledged event again after this long, seconds.
            idle_poll_s: how often to look at the outbox when nobody calls :meth:`wake`, seconds.
            max_backoff_s: the longest wait between tries while the link is down, seconds.
        """
        self._outbox = outbox
        self._bus = bus
        self._resend_after_s = resend_after_s
        self._idle_poll_s = idle_poll_s
        self._max_backoff_s = max_backoff_s
        self._sent_at: dict[uuid.UUID, float] = {}  # by event id: an event keeps it from memory to disk
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._link_up = False
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)

    @property
    def link_up(self) -> bool:
        """Whether the last attempt to send succeeded."""
        return self._link_up

    def start(self) -> None:
        """Start sending on a background thread."""
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (a new event was stored)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop sending; unsent events stay in the outbox."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            if self._send_due():
                backoff = 0.5
                wait = self._idle_poll_s
            else:
                wait = backoff
                backoff = min(backoff * 2, self._max_backoff_s)
            self._wake.wait(wait)
            self._wake.clear()

    def _send_due(self) -> bool:
        """Send every event that is due, oldest first; False when the link failed."""
        self._outbox.retry()
        now = time.monotonic()
        for item in self._outbox.oldest(limit=500):
            if self._stopping.is_set():
                return True
            sent = self._sent_at.get(item.event_id)
            if sent is not None and now - sent < self._resend_after_s:
                continue
            try:
                self._bus.publish(item.topic, item.payload)
            except BusError as exc:
                if self._link_up:
                    _log.warning("uplink.down", extra={"reason": str(exc), "backlog": self._outbox.backlog()})
                self._link_up = False
                return False
            self._link_up = True
            self._sent_at[item.event_id] = time.monotonic()
            self._outbox.mark_sent(item.event_id)
        waiting = self._outbox.pending_ids()
        self._sent_at = {event_id: at for event_id, at in self._sent_at.items() if event_id in waiting}
        return True
