"""What a bus subscription received, with a wait for the count a test expects."""

import threading

from vigil.bus.protocol import Message


class Inbox:
    """A bus handler that keeps each message it is handed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def wait_for_messages(self, count: int, timeout_s: float = 20) -> list[Message]:
        """The messages once at least ``count`` have arrived; fails the test after ``timeout_s``."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.messages) >= count, timeout_s), len(self.messages)
            return list(self.messages)

    def wait_for(self, count: int, timeout_s: float = 20) -> list[bytes]:
        """The payloads once at least ``count`` messages have arrived; fails the test after ``timeout_s``."""
        return [message.payload for message in self.wait_for_messages(count, timeout_s)]
