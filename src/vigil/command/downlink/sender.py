"""The thread that publishes devices' events: woken by this process's commits, and every few seconds."""

import logging
import threading

from sqlalchemy.orm import Session

from vigil.bus.protocol import Bus
from vigil.command.database import Database
from vigil.command.downlink.service import ENQUEUED, deliver_pending
from vigil.command.errors import DatabaseUnavailable

_log = logging.getLogger(__name__)


class DownlinkSender:
    """Publishes what :func:`~vigil.command.downlink.service.enqueue` stored, soon after each commit."""

    def __init__(self, *, database: Database, bus: Bus, every_s: float) -> None:
        """Start the thread.

        Args:
            database: where the events wait.
            bus: where they go.
            every_s: how often to look even when not woken (other processes' events, earlier failures), seconds.
        """
        self._database = database
        self._bus = bus
        self._every_s = every_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        database.on_commit(self._committed)
        self._thread = threading.Thread(target=self._run, name="downlink", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for events to publish now."""
        self._wake.set()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (events not yet published stay stored for the next start or another server)."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout_s)

    def _committed(self, session: Session) -> None:
        if session.info.pop(ENQUEUED, False):
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._every_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                deliver_pending(database=self._database, bus=self._bus)
            except DatabaseUnavailable as exc:
                _log.warning("downlink.database_unavailable", extra={"reason": str(exc)})
            except Exception:
                # Decisions must keep reaching devices: a failure is logged and the next round tries again.
                _log.exception("downlink.failed")
