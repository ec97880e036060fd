"""What a bus subscription received, with a wait for the count a test expects."""

import threading

from vigil.bus.protocol import Message


class Inbox:
    """A bus handler that keeps each message's payload."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self._changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._changed:
            self.payloads.append(message.payload)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout_s: float = 20) -> list[bytes]:
        """The payloads once at least ``count`` have arrived; fails the test after ``timeout_s``."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.payloads) >= count, timeout_s), len(self.payloads)
        return self.payloads
