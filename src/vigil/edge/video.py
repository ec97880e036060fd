"""Video in: frames as 8-bit RGB, the :class:`VideoSource` seam, and the recorded sources (files and folders).

Every source yields :class:`Frame` objects until it ends (files, folders) or is closed, and counts what it
read, what it had to skip and how often it reconnected. A frame that cannot be decoded is skipped and counted,
never fatal. :class:`CaptureSource` is the base of every source read through ``cv2.VideoCapture``: video files
here, cameras and network streams in :mod:`vigil.edge.live_video`. :func:`vigil.edge.video_spec.open_source`
picks the source from an operator's spec (a path, a camera index or a URL).

Sources only read what they are pointed at; nothing is downloaded.
"""

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import cv2
import numpy as np

from vigil.edge.errors import SourceNotFound, UnreadableSource
from vigil.vision.errors import ImageError
from vigil.vision.image import RgbImage, load_image

_log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
"""The file name endings a folder source reads (lower case); other files in the folder are ignored."""

# OpenCV's grab() fails both for one undecodable frame (the next grab succeeds) and for a stream or file that
# has ended. Only this many failures in a row mean the end; fewer, followed by a frame, were corrupt frames.
_FAILED_READS_BEFORE_END = 5


@dataclass(frozen=True)
class Frame:
    """One video frame.

    Attributes:
        index: the 0-based frame number in the source; skipped (corrupt) frames leave gaps.
        timestamp_s: media time in seconds for files and folders; for cameras and streams, monotonic seconds
            since the source was created.
        image: 8-bit RGB, shape (height, width, 3), C-contiguous.
    """

    index: int
    timestamp_s: float
    image: RgbImage

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"a frame index is 0 or more, got {self.index}")
        image = self.image
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"a frame is uint8 (height, width, 3), got {image.dtype} {image.shape}")
        if not image.flags.c_contiguous:
            raise ValueError("a frame's image must be C-contiguous; pass np.ascontiguousarray(image)")


@dataclass(frozen=True)
class SourceStats:
    """What a source has done so far.

    Attributes:
        frames_read: frames delivered.
        frames_corrupt: frames skipped because they could not be decoded.
        reconnects: times a camera or stream was opened again after it was lost.
    """

    frames_read: int = 0
    frames_corrupt: int = 0
    reconnects: int = 0


class VideoSource(Protocol):
    """Where frames come from: iterate for frames, close when done (or use it as a context manager)."""

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames in order until the source ends or is closed.

        Raises:
            SourceUnavailable: a camera or stream was lost and could not be reopened.
        """
        ...

    def close(self) -> None:
        """Stop reading and release the device, file or connection; safe to call from another thread."""
        ...

    @property
    def stats(self) -> SourceStats:
        """Counts of frames read and skipped, and reconnections, so far."""
        ...

    def __enter__(self) -> Self:
        """Return the source itself."""
        ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close the source."""
        ...


class _SourceBase:
    """What every source shares: counters, the closed flag and the context manager."""

    def __init__(self, *, label: str) -> None:
        self._label = label
        self._closed = threading.Event()
        self._frames_read = 0
        self._frames_corrupt = 0
        self._reconnects = 0

    @property
    def stats(self) -> SourceStats:
        """Counts of frames read and skipped, and reconnections, so far."""
        return SourceStats(
            frames_read=self._frames_read, frames_corrupt=self._frames_corrupt, reconnects=self._reconnects
        )

    def close(self) -> None:
        """Stop reading; see :meth:`VideoSource.close`."""
        self._closed.set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _pace(self, started: float | None, timestamp_s: float) -> float:
        """Wait until ``timestamp_s`` after ``started`` (now, if None); return the start used."""
        now = time.monotonic()
        if started is None:
            return now - timestamp_s
        delay = started + timestamp_s - now
        if delay > 0:
            self._closed.wait(delay)
        return started


class FolderSource(_SourceBase):
    """The images of a folder, sorted by file name, as frames at a fixed frame rate.

    Frame ``i`` is the folder's ``i``-th image; its timestamp is ``i / fps``. An image that cannot be read is
    skipped and counted in ``stats.frames_corrupt``.
    """

    def __init__(self, folder: Path, *, fps: float = 10.0, realtime: bool = False) -> None:
        """List the folder's images.

        Args:
            folder: the folder; files ending in .jpg, .jpeg, .png or .webp are read, others ignored.
            fps: frames per second, for timestamps and real-time pacing.
            realtime: deliver frames no faster than ``fps``, like a camera; False delivers them as fast as
                they load.

        Raises:
            ValueError: ``fps`` is not positive.
            SourceNotFound: the folder does not exist.
            UnreadableSource: the folder holds no image files.
        """
        super().__init__(label=str(folder))
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not folder.is_dir():
            raise SourceNotFound("no such folder", source=str(folder))
        self._paths = sorted(
            (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda p: p.name,
        )
        if not self._paths:
            raise UnreadableSource(
                f"the folder holds no images (files ending in {', '.join(sorted(IMAGE_SUFFIXES))})",
                source=str(folder),
            )
        self._fps = fps
        self._realtime = realtime

    def __iter__(self) -> Iterator[Frame]:
        """Yield the folder's images in name order; see :meth:`VideoSource.__iter__`."""
        started: float | None = None
        for index, path in enumerate(self._paths):
            if self._closed.is_set():
                return
            timestamp_s = index / self._fps
            if self._realtime:
                started = self._pace(started, timestamp_s)
                if self._closed.is_set():
                    return
            try:
                image = load_image(path)
            except (ImageError, OSError) as exc:
                self._frames_corrupt += 1
                _log.warning(
                    "video.image_skipped", extra={"source": self._label, "file": path.name, "reason": str(exc)}
                )
                continue
            self._frames_read += 1
            yield Frame(index=index, timestamp_s=timestamp_s, image=image)


class CaptureSource(_SourceBase):
    """A source read through ``cv2.VideoCapture``; subclasses open the capture."""

    def __init__(self, *, label: str) -> None:
        super().__init__(label=label)
        self._capture: cv2.VideoCapture | None = None
        # Held while the capture is read, so close() from another thread never releases it mid-read.
        self._lock = threading.Lock()
        self._next_index = 0

    def close(self) -> None:
        """Stop reading and release the capture; see :meth:`VideoSource.close`."""
        self._closed.set()
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _read(self) -> tuple[int, RgbImage] | None:
        """The next decodable frame's index and RGB image, or None when the capture has ended or is closed.

        Frames that fail to decode before a good one are counted as corrupt and skipped.
        """
        failures = 0
        while failures < _FAILED_READS_BEFORE_END:
            with self._lock:
                if self._closed.is_set() or self._capture is None:
                    return None
                image = self._grab_rgb(self._capture)
            if image is None:
                failures += 1
                continue
            if failures:
                self._frames_corrupt += failures
                _log.warning("video.frames_skipped", extra={"source": self._label, "count": failures})
            index = self._next_index + failures
            self._next_index = index + 1
            return index, image
        return None

    @staticmethod
    def _grab_rgb(capture: cv2.VideoCapture) -> RgbImage | None:
        if not capture.grab():
            return None
        ok, bgr = capture.retrieve()
        if not ok or bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
            return None
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


class VideoFileSource(CaptureSource):
    """A video file (any format OpenCV's FFmpeg reads), frame by frame, with its media timestamps."""

    def __init__(self, path: Path, *, realtime: bool = False) -> None:
        """Open the file.

        Args:
            path: the video file.
            realtime: deliver frames at the file's own pace (its timestamps), like a live camera; False
                delivers them as fast as they decode.

        Raises:
            SourceNotFound: the file does not exist.
            UnreadableSource: OpenCV cannot decode the file as video.
        """
        super().__init__(label=str(path))
        if not path.is_file():
            raise SourceNotFound("no such file", source=str(path))
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise UnreadableSource(
                "OpenCV cannot decode this file as video; give an MP4, MKV, AVI or MOV file", source=str(path)
            )
        self._capture = capture
        self._realtime = realtime

    def __iter__(self) -> Iterator[Frame]:
        """Yield the file's frames in order; see :meth:`VideoSource.__iter__`."""
        started: float | None = None
        while (read := self._read()) is not None:
            index, image = read
            with self._lock:
                if self._capture is None:
                    return
                timestamp_s = max(0.0, float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0)
            if self._realtime:
                started = self._pace(started, timestamp_s)
                if self._closed.is_set():
                    return
            self._frames_read += 1
            yield Frame(index=index, timestamp_s=timestamp_s, image=image)
