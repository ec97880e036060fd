"""Live video: a local camera or a network stream, reopened with back-off when it cannot be opened or is lost.

Both are read through :class:`vigil.edge.video.CaptureSource`. After the configured number of failed tries
(:class:`ReconnectPolicy`) a source raises :class:`~vigil.edge.errors.SourceUnavailable`. Frames carry monotonic
seconds since the source was created.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import cv2

from vigil.edge.errors import SourceUnavailable
from vigil.edge.video import CaptureSource, Frame

_log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "http://", "https://")
"""The URL schemes :func:`vigil.edge.video_spec.open_source` treats as a network stream."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a camera or stream is reopened when it cannot be opened or is lost.

    The first try is immediate; retry ``n`` (from 0) waits ``first_delay_s · factor**n`` seconds, at most
    ``max_delay_s``. After ``max_retries`` failed retries in a row the source gives up.

    Attributes:
        first_delay_s: the wait before the first retry, seconds.
        factor: how much each wait grows over the one before.
        max_delay_s: the longest wait between tries, seconds.
        max_retries: failed retries before giving up with :class:`~vigil.edge.errors.SourceUnavailable`.
    """

    first_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 30.0
    max_retries: int = 8

    def __post_init__(self) -> None:
        if not self.first_delay_s >= 0.0:
            raise ValueError(f"first_delay_s must be 0 or more seconds, got {self.first_delay_s}")
        if not self.factor >= 1.0:
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if not self.max_delay_s >= self.first_delay_s:
            raise ValueError(
                f"max_delay_s must be at least first_delay_s ({self.first_delay_s} s), got {self.max_delay_s}"
            )
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")

    def delay_s(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0-based), in seconds."""
        return min(self.first_delay_s * self.factor**retry, self.max_delay_s)


class _LiveSource(CaptureSource):
    """A camera or stream: opened on first iteration, reopened with back-off when lost."""

    def __init__(self, *, label: str, reconnect: ReconnectPolicy, open_capture: Callable[[], cv2.VideoCapture]) -> None:
        """Prepare the source; ``open_capture`` makes a new ``cv2.VideoCapture`` (opened or not) per try."""
        super().__init__(label=label)
        self._policy = reconnect
        self._open_capture = open_capture
        self._origin = time.monotonic()

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames as they arrive; see :meth:`vigil.edge.video.VideoSource.__iter__`."""
        connected_before = False
        while not self._closed.is_set():
            if not self._connect(lost=connected_before):
                return
            if connected_before:
                self._reconnects += 1
                _log.warning("video.reconnected", extra={"source": self._label, "reconnects": self._reconnects})
            connected_before = True
            while (read := self._read()) is not None:
                index, image = read
                self._frames_read += 1
                yield Frame(index=index, timestamp_s=time.monotonic() - self._origin, image=image)
            with self._lock:
                self._release()
            if not self._closed.is_set():
                _log.warning("video.lost", extra={"source": self._label})

    def _connect(self, *, lost: bool) -> bool:
        """Open the capture, retrying with back-off; False when closed meanwhile.

        Args:
            lost: whether the source was open before (for the message).

        Raises:
            SourceUnavailable: every try failed.
        """
        attempts = 0
        while True:
            capture = self._open_capture()
            attempts += 1
            if capture.isOpened():
                with self._lock:
                    if self._closed.is_set():
                        capture.release()
                        return False
                    self._capture = capture
                return True
            capture.release()
            retry = attempts - 1
            if retry >= self._policy.max_retries:
                what = "the connection was lost and it" if lost else "it"
                raise SourceUnavailable(
                    f"{what} cannot be opened after {attempts} tries; check that the device is connected or the "
                    "address is right and reachable, or allow more retries (ReconnectPolicy.max_retries)",
                    source=self._label,
                    attempts=attempts,
                )
            delay_s = self._policy.delay_s(retry)
            _log.info("video.retry", extra={"source": self._label, "attempt": attempts, "delay_s": delay_s})
            if self._closed.wait(delay_s):
                return False


class CameraSource(_LiveSource):
    """A local camera by device index (``/dev/video<index>`` on Linux)."""

    def __init__(self, index: int, *, reconnect: ReconnectPolicy | None = None) -> None:
        """Prepare the camera; it is opened when iteration starts.

        Args:
            index: the camera's device index, 0 or more.
            reconnect: how to retry opening it, at first and after it is lost; the defaults if None.

        Raises:
            ValueError: ``index`` is negative.
        """
        if index < 0:
            raise ValueError(f"a camera index is 0 or more, got {index}")
        super().__init__(
            label=f"camera {index}",
            reconnect=reconnect or ReconnectPolicy(),
            open_capture=lambda: cv2.VideoCapture(index),
        )


class StreamSource(_LiveSource):
    """A network stream (RTSP, or HTTP such as MJPEG) read through OpenCV's FFmpeg backend."""

    def __init__(
        self,
        url: str,
        *,
        reconnect: ReconnectPolicy | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        """Prepare the stream; it is connected when iteration starts.

        Args:
            url: an ``rtsp://``, ``http://`` or ``https://`` URL.
            reconnect: how to retry connecting, at first and after the stream is lost; the defaults if None.
            open_timeout_s: how long one connection try may take, seconds.
            read_timeout_s: how long to wait for one frame before the read counts as failed, seconds. After
                5 failed reads in a row the stream counts as lost and is reopened.

        Raises:
            ValueError: the URL's scheme is not supported, or a timeout is not positive.

        A user name and password in the URL are masked in logs and errors.
        """
        if not url.startswith(STREAM_SCHEMES):
            raise ValueError(f"a stream URL starts with {', '.join(STREAM_SCHEMES)}, got {url!r}")
        if not (open_timeout_s > 0 and read_timeout_s > 0):
            raise ValueError(f"timeouts must be positive, got open={open_timeout_s} s, read={read_timeout_s} s")
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(read_timeout_s * 1000),
        ]
        super().__init__(
            label=_without_credentials(url),
            reconnect=reconnect or ReconnectPolicy(),
            open_capture=lambda: cv2.VideoCapture(url, cv2.CAP_FFMPEG, params),
        )


def _without_credentials(url: str) -> str:
    """The URL with any user name and password masked, fit for logs and error messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
