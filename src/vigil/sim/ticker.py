"""The simulation's heartbeat: one thread that lets every simulated actor do what is due, many times a second."""

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from vigil.sim.errors import InvalidSimSettings

_log = logging.getLogger(__name__)


class Ticking(Protocol):
    """Something that acts in simulated time (a :class:`~vigil.sim.officer.SimulatedOfficer`)."""

    def tick(self) -> None:
        """Do whatever is due by now."""
        ...


class Ticker:
    """Calls ``tick()`` on each actor in turn, every ``interval_s`` real seconds, on a thread of its own."""

    def __init__(self, actors: Sequence[Ticking], *, interval_s: float = 0.1) -> None:
        """Prepare the thread; :meth:`start` starts it.

        Args:
            actors: the actors, ticked in this order.
            interval_s: real seconds between rounds, 0.01 to 10.

        Raises:
            InvalidSimSettings: ``interval_s`` out of range.
        """
        if not 0.01 <= interval_s <= 10:
            raise InvalidSimSettings(f"the tick interval must be 0.01 to 10 s; got {interval_s!r}")
        self._actors = list(actors)
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-ticker", daemon=True)
        self.failures = 0
        """Ticks that raised (logged with their traceback; the others go on)."""

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round in progress."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            for actor in self._actors:
                try:
                    actor.tick()
                except Exception:
                    # One actor's failure must not freeze the whole simulated world.
                    self.failures += 1
                    _log.exception("sim.tick_failed", extra={"actor": repr(actor)})
            self._stopping.wait(self._interval_s)
