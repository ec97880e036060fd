"""Between the camera and the pipeline: never more than a few frames waiting; when behind, the oldest go.

A live camera does not wait for the recogniser. The reader thread puts every frame here; the pipeline takes
the oldest waiting one. When the pipeline falls behind and the buffer is full, the oldest frame is dropped and
counted, so the pipeline always works on recent video and memory stays bounded.
"""

import collections
import threading

from vigil.edge.video import Frame


class FrameBuffer:
    """A bounded, drop-oldest queue of frames."""

    def __init__(self, capacity: int = 2) -> None:
        """Create an empty buffer holding at most ``capacity`` frames.

        Raises:
            ValueError: ``capacity`` below 1.
        """
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._frames: collections.deque[Frame] = collections.deque()
        self._capacity = capacity
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        """Add a frame, dropping the oldest waiting one when full."""
        with self._ready:
            if len(self._frames) >= self._capacity:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(frame)
            self._ready.notify()

    def close(self) -> None:
        """No more frames will come; :meth:`get` returns None once the buffer is empty."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def get(self, timeout_s: float | None = None) -> Frame | None:
        """The oldest waiting frame; None when closed and empty (or on timeout)."""
        with self._ready:
            self._ready.wait_for(lambda: self._frames or self._closed, timeout_s)
            return self._frames.popleft() if self._frames else None
