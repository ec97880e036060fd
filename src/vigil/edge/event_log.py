"""``--events-out``: every event the device emits, one JSON line each, written as it is emitted.

The lines are the exact event contract (:mod:`vigil.events`), so a run can be checked without a server. Only
events are written, and an alert's only image is its matched face crop.
"""

import threading
from pathlib import Path
from types import TracebackType

from vigil.events import Event, encode_event


class EventLog:
    """An append-only JSON-lines file of events."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` for appending (created if missing)."""
        self._lock = threading.Lock()
        self._stream = path.open("ab")

    def write(self, event: Event) -> None:
        """Append one event and flush it to the file."""
        with self._lock:
            self._stream.write(encode_event(event) + b"\n")
            self._stream.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._stream.close()

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
