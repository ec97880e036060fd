"""Fixes from the device's GPS receiver through the gpsd daemon: :class:`GpsdSource` and its ``TPV`` decoder."""

import json
import logging
import math
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from vigil.edge.position import (
    InvalidFix,
    InvalidSourceSettings,
    LatestFix,
    PositionFix,
    SourceAlreadyStarted,
    wrap_deg,
)

_log = logging.getLogger(__name__)


def _number(report: Mapping[str, object], key: str) -> float | None:
    value = report.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFix(key, value, "a number")
    return float(value)


def fix_from_tpv(report: Mapping[str, object], *, received_at: datetime) -> PositionFix | None:
    """Turn one of gpsd's ``TPV`` reports into a fix.

    Accuracy is gpsd's ``eph`` (its 95 % horizontal error estimate), else the hypotenuse of ``epx`` and ``epy``
    (longitude and latitude errors, 95 %), else unknown.

    Args:
        report: the decoded JSON object, of class ``TPV``.
        received_at: when it arrived (UTC); the fix's time when gpsd gives none.

    Returns:
        The fix, or None when the report has none (``mode`` below 2, or no latitude and longitude).

    Raises:
        InvalidFix: a field is not a number or is out of range.
    """
    mode, lat, lon = _number(report, "mode"), _number(report, "lat"), _number(report, "lon")
    if mode is None or mode < 2 or lat is None or lon is None:
        return None
    accuracy = _number(report, "eph")
    epx, epy = _number(report, "epx"), _number(report, "epy")
    if accuracy is None and epx is not None and epy is not None:
        accuracy = math.hypot(epx, epy)
    track = _number(report, "track")
    stamp = report.get("time")
    try:
        at = datetime.fromisoformat(stamp).astimezone(UTC) if isinstance(stamp, str) else received_at
    except ValueError as exc:
        raise InvalidFix("time", stamp, "an ISO 8601 time such as 2024-05-14T09:30:00.000Z") from exc
    return PositionFix(
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        heading_deg=None if track is None else wrap_deg(track),
        speed_mps=_number(report, "speed"),
        at=at,
        source="gps",
    )


class GpsdSource:
    """Fixes from the gpsd daemon, a plain JSON-over-TCP client (gpsd's Python bindings are not needed).

    A background thread connects, sends ``?WATCH={"enable":true,"json":true};`` and reads ``TPV`` reports. When
    gpsd cannot be reached or goes away it tries again, waiting twice as long each time (``min_backoff_s`` up to
    ``max_backoff_s``). A report without a fix does not erase the last fix; that fix ages out after
    ``max_age_s``.
    """

    _POLL_S = 0.25  # how often a blocked read looks whether stop() was called
    _MAX_LINE_BYTES = 1 << 20  # gpsd's longest reports (SKY) are a few KiB; more is a broken stream

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2947,
        *,
        max_age_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        """Prepare the client; :meth:`start` connects.

        Args:
            host: gpsd's host name or address.
            port: gpsd's TCP port.
            max_age_s: a fix older than this, seconds since it arrived, is not handed out.
            connect_timeout_s: how long one connection attempt may take, seconds.
            min_backoff_s: the first wait before connecting again, seconds.
            max_backoff_s: the longest wait between attempts, seconds.

        Raises:
            InvalidSourceSettings: a port, time or back-off out of range.
        """
        if not 1 <= port <= 65535:
            raise InvalidSourceSettings(f"gpsd port must be 1 to 65535; got {port}")
        if not (connect_timeout_s > 0 and 0 < min_backoff_s <= max_backoff_s):
            raise InvalidSourceSettings(
                "connect_timeout_s and min_backoff_s must be positive and min_backoff_s at most max_backoff_s; got "
                f"{connect_timeout_s}, {min_backoff_s} and {max_backoff_s}"
            )
        self._address = (host, port)
        self._connect_timeout_s = connect_timeout_s
        self._backoff_s = (min_backoff_s, max_backoff_s)
        self._latest = LatestFix(max_age_s=max_age_s)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._mode = 0

    @property
    def fix_mode(self) -> int:
        """The fix mode of gpsd's newest report: 0 unknown or not connected, 1 no fix, 2 two-, 3 three-dimensional."""
        return self._mode

    def start(self) -> None:
        """Connect to gpsd and listen on a background thread.

        Raises:
            SourceAlreadyStarted: the source was started before.
        """
        if self._thread is not None:
            raise SourceAlreadyStarted("this GpsdSource was already started; create a new one")
        self._thread = threading.Thread(target=self._run, name="gpsd-client", daemon=True)
        self._thread.start()

    def latest(self) -> PositionFix | None:
        """The newest fix, or None (no fix yet, stopped, or older than ``max_age_s``)."""
        return self._latest.get()

    def stop(self) -> None:
        """Disconnect and stop the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._connect_timeout_s + 2 * self._POLL_S)
        self._latest.clear()
        self._mode = 0

    def _run(self) -> None:
        host, port = self._address
        backoff = self._backoff_s[0]
        while not self._stopping.is_set():
            try:
                with socket.create_connection(self._address, timeout=self._connect_timeout_s) as connection:
                    connection.sendall(b'?WATCH={"enable":true,"json":true};\n')
                    if self._listen(connection):
                        backoff = self._backoff_s[0]
                    if not self._stopping.is_set():
                        _log.warning("gpsd.disconnected", extra={"host": host, "port": port})
            except OSError as exc:
                _log.warning("gpsd.unavailable", extra={"host": host, "port": port, "reason": str(exc)})
            self._mode = 0
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._backoff_s[1])

    def _listen(self, connection: socket.socket) -> bool:
        """Read reports until gpsd closes the connection or stop() is called; whether anything arrived."""
        connection.settimeout(self._POLL_S)
        pending = b""
        heard = False
        while not self._stopping.is_set():
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return heard
            heard = True
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._handle(line)
            if len(pending) > self._MAX_LINE_BYTES:
                _log.warning("gpsd.line_too_long", extra={"bytes": len(pending)})
                return heard
        return heard

    def _handle(self, line: bytes) -> None:
        try:
            report = json.loads(line)
        except ValueError:
            _log.warning("gpsd.bad_report", extra={"report": line[:200].decode("ascii", "replace")})
            return
        if not isinstance(report, dict) or report.get("class") != "TPV":
            return
        mode = report.get("mode")
        self._mode = mode if isinstance(mode, int) and 0 <= mode <= 3 else 0
        try:
            fix = fix_from_tpv(report, received_at=datetime.now(UTC))
        except InvalidFix as exc:
            _log.warning("gpsd.bad_fix", extra={"reason": str(exc)})
            return
        if fix is not None:
            self._latest.put(fix)
