"""An operator's screen following the command centre's live feed: when each alert reached it, and what followed.

:class:`OperatorFeed` holds the WebSocket an operator's page holds (``/api/v1/feed``, signed in as an operator),
on a thread of its own, resuming after the last entry received when the connection drops. Each entry is
stamped with the real time it arrived, which is the end of the demo's face-to-screen latency: from the first frame
with the subject's face in view to the alert on the operator's feed. Listeners (the scripted operator) get every
entry but the units' positions, in feed order.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from vigil.command.alerts.schemas import AlertSummary
from vigil.command.feed.schemas import FEED_MESSAGE, AlertEntry, FeedMessage, PositionEntry
from vigil.events import utc_now

_log = logging.getLogger(__name__)

RECONNECT_S = 1.0
"""How long to wait before connecting again after the feed dropped, seconds."""


@dataclass(frozen=True)
class AlertOnScreen:
    """An alert as it reached the operator's feed.

    Attributes:
        alert: the alert as the feed shows it.
        arrived_at: when the feed delivered it (real time, UTC).
    """

    alert: AlertSummary
    arrived_at: datetime


FeedListener = Callable[[FeedMessage, datetime], None]
"""Told each entry (positions left out) and when it arrived (UTC)."""


class OperatorFeed:
    """Follows the live feed; see the module's description. ``start()``, then ``stop()`` once."""

    def __init__(self, *, base_url: str, token: str, listeners: list[FeedListener] | None = None) -> None:
        """Prepare to follow the feed.

        Args:
            base_url: the command centre, ``http://host:port``.
            token: a signed-in operator's bearer token.
            listeners: told every entry but positions, in feed order, on the feed's thread.
        """
        self._url = base_url.rstrip("/").replace("http", "ws", 1) + "/api/v1/feed"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._listeners = list(listeners or [])
        self._lock = threading.Lock()
        self._alerts: dict[str, AlertOnScreen] = {}
        self._after: int | None = None
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="operator-feed", daemon=True)
        self.reconnects = 0

    def start(self, timeout_s: float = 30.0) -> None:
        """Connect, and return once the feed is followed (entries from now on are received).

        Raises:
            TimeoutError: the feed could not be opened within ``timeout_s``.
        """
        self._thread.start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError(f"the live feed at {self._url} did not open within {timeout_s:g} s")

    def stop(self) -> None:
        """Close the feed."""
        self._stopping.set()
        self._thread.join(10)

    def alerts(self) -> list[AlertOnScreen]:
        """The alerts that reached the feed so far, in the order they arrived."""
        with self._lock:
            return sorted(self._alerts.values(), key=lambda a: a.arrived_at)

    def _follow(self) -> None:
        while not self._stopping.is_set():
            query = "" if self._after is None else f"?after={self._after}"
            try:
                with connect(self._url + query, additional_headers=self._headers, open_timeout=10) as connection:
                    self._connected.set()
                    self._receive(connection)
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self._stopping.is_set():
                    return
                self.reconnects += 1
                _log.warning("operator_feed.dropped", extra={"reason": str(exc), "after": self._after})
                self._stopping.wait(RECONNECT_S)

    def _receive(self, connection: ClientConnection) -> None:
        while not self._stopping.is_set():
            try:
                text = connection.recv(timeout=0.25)
            except TimeoutError:
                continue
            arrived = utc_now()
            entry = FEED_MESSAGE.validate_json(text)
            self._after = entry.seq
            if isinstance(entry, PositionEntry):
                continue
            if isinstance(entry, AlertEntry):
                with self._lock:
                    self._alerts.setdefault(str(entry.payload.alert_id), AlertOnScreen(entry.payload, arrived))
            for listener in self._listeners:
                listener(entry, arrived)
