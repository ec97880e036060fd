"""How frames reach the recognition pipeline: at a live camera's pace, every frame in turn, or as a slow device would.

* :func:`feed_live`: a reader thread puts frames in a drop-oldest :class:`~vigil.edge.frame_buffer.FrameBuffer`
  and the pipeline takes the newest waiting; the camera is never held back, and frames the pipeline had no time
  for are dropped and counted. The searches run beside it on the pipeline's worker.
* :func:`feed_every_frame`: every frame in turn, each frame's due searches finished before the next: the
  decisions are then the same on any machine. For recordings, evaluation and benchmarks.
* :class:`SlowDevice`: at most ``fps`` frames per second of video, evenly, the rest dropped: what a device that
  can only process that many frames a second sees, as a reproducible simulation.
"""

import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from vigil.edge.frame_buffer import FrameBuffer
from vigil.edge.recognition import RecognitionPipeline
from vigil.edge.video import Frame


@dataclass
class FeedCounts:
    """What one feed did.

    Attributes:
        frames_read: frames the source delivered.
        frames_dropped: frames dropped because the pipeline was behind (live feeds only).
        processing_s: seconds spent processing frames (waiting for frames excluded).
    """

    frames_read: int = 0
    frames_dropped: int = 0
    processing_s: float = 0.0


def feed_live(source: Iterable[Frame], pipeline: RecognitionPipeline, *, stopping: threading.Event) -> FeedCounts:
    """Feed the pipeline at the source's own pace, dropping the frames it has no time for.

    Args:
        source: the video's frames; iterated on a reader thread.
        pipeline: the recognition pipeline.
        stopping: set to stop early.

    Returns:
        The counts; ``frames_read`` counts every frame the reader took from the source.
    """
    counts = FeedCounts()
    buffer = FrameBuffer(capacity=2)

    def read() -> None:
        try:
            for frame in source:
                if stopping.is_set():
                    break
                counts.frames_read += 1
                buffer.put(frame)
        finally:
            buffer.close()

    reader = threading.Thread(target=read, name="camera", daemon=True)
    reader.start()
    while (frame := buffer.get()) is not None and not stopping.is_set():
        started = time.perf_counter()
        pipeline.process(frame)
        counts.processing_s += time.perf_counter() - started
    reader.join(5)
    counts.frames_dropped = buffer.dropped
    return counts


def feed_every_frame(
    source: Iterable[Frame], pipeline: RecognitionPipeline, *, stopping: threading.Event
) -> FeedCounts:
    """Feed every frame in turn, finishing each frame's due searches before the next.

    Args:
        source: the video's frames.
        pipeline: the recognition pipeline.
        stopping: set to stop early.

    Returns:
        The counts (nothing is dropped).
    """
    counts = FeedCounts()
    for frame in source:
        if stopping.is_set():
            break
        counts.frames_read += 1
        started = time.perf_counter()
        pipeline.process(frame)
        pipeline.wait_for_searches()
        counts.processing_s += time.perf_counter() - started
    return counts


class SlowDevice:
    """The frames a device that processes at most ``fps`` frames a second sees: the rest are dropped evenly."""

    def __init__(self, source: Iterable[Frame], *, fps: float) -> None:
        """Thin ``source`` to ``fps`` frames per second of video.

        Raises:
            ValueError: ``fps`` not positive.
        """
        if not fps > 0:
            raise ValueError(f"a device processes a positive number of frames a second, got {fps}")
        self._source = source
        self._interval_s = 1.0 / fps
        self.frames_dropped = 0

    def __iter__(self) -> Iterator[Frame]:
        """The frames the device would have had time for: the first, then one per ``1 / fps`` of video."""
        start_s: float | None = None
        next_slot = 0
        for frame in self._source:
            start_s = frame.timestamp_s if start_s is None else start_s
            # Slots lie on a grid from the first frame; a frame within a millisecond of its slot takes it (timestamps
            # are rounded), and the next slot is the grid's first after the frame kept.
            slots_in = (frame.timestamp_s - start_s) / self._interval_s + 1e-3 / self._interval_s
            if slots_in >= next_slot:
                next_slot = math.floor(slots_in) + 1
                yield frame
            else:
                self.frames_dropped += 1
