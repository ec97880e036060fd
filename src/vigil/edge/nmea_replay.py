"""Fixes replayed from an NMEA 0183 log (tests, demos, field logs): :class:`NmeaFileSource`.

The sentences are parsed and combined into epochs by :mod:`vigil.edge.nmea`; a bad sentence is skipped and counted.
"""

import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from vigil.edge.nmea import Epoch, EpochAssembler
from vigil.edge.position import (
    InvalidSourceSettings,
    LatestFix,
    NmeaLogUnreadable,
    PositionFix,
    SourceAlreadyStarted,
)

_log = logging.getLogger(__name__)


class NmeaFileSource:
    """Fixes replayed from an NMEA 0183 log: RMC and GGA, combined as :class:`vigil.edge.nmea.EpochAssembler` says.

    With ``realtime`` the replay keeps the log's pace: the time between two epochs in the log passes between their
    fixes here. Without it the log is read as fast as it can be, for tests and batch work. The fixes keep the
    log's times. A bad sentence is skipped and counted (:attr:`rejected`).
    """

    def __init__(self, path: Path | str, *, realtime: bool = True, loop: bool = False, max_age_s: float = 10.0) -> None:
        """Prepare the replay; :meth:`start` opens the log.

        Args:
            path: the log, one sentence a line.
            realtime: keep the log's pace; otherwise read it as fast as possible.
            loop: start again at the end of the log (needs ``realtime``); the first epoch comes one step after
                the last, the step being the log's last interval between epochs.
            max_age_s: a fix older than this, seconds since it was replayed, is not handed out.

        Raises:
            InvalidSourceSettings: ``loop`` without ``realtime``, or ``max_age_s`` not positive.
        """
        if loop and not realtime:
            raise InvalidSourceSettings("loop=True needs realtime=True: an unpaced endless replay would spin a core")
        self._path = Path(path)
        self._realtime = realtime
        self._loop = loop
        self._latest = LatestFix(max_age_s=max_age_s)
        self._assembler = EpochAssembler()
        self._rejected_before = 0  # in earlier passes over a looped log
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_s = 1.0  # NMEA receivers' usual 1 Hz, until the log shows its own interval
        self._last: tuple[datetime, float] | None = None  # the previous epoch's log time and monotonic replay time

    @property
    def rejected(self) -> int:
        """How many bad sentences (checksum, truncated, malformed) have been skipped so far."""
        return self._rejected_before + self._assembler.rejected

    def start(self) -> None:
        """Open the log and replay it on a background thread.

        Raises:
            NmeaLogUnreadable: the file does not exist or cannot be read.
            SourceAlreadyStarted: the source was started before.
        """
        if self._thread is not None:
            raise SourceAlreadyStarted("this NmeaFileSource was already started; create a new one")
        try:
            log = self._path.open(encoding="ascii", errors="replace")
        except OSError as exc:
            raise NmeaLogUnreadable(self._path, exc.strerror or str(exc)) from exc
        self._thread = threading.Thread(target=self._replay, args=(log,), name="nmea-replay", daemon=True)
        self._thread.start()

    def latest(self) -> PositionFix | None:
        """The newest replayed fix, or None (none yet, stopped, or older than ``max_age_s``)."""
        return self._latest.get()

    def wait_finished(self, timeout_s: float) -> bool:
        """Wait until the replay has reached the end of the log (never, with ``loop``); whether it has."""
        return self._done.wait(timeout_s)

    def stop(self) -> None:
        """Stop the replay and close the log."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._latest.clear()

    def _replay(self, log: TextIO) -> None:
        with log:
            while not self._stopping.is_set():
                epochs = 0
                for line in log:
                    epoch = self._assembler.feed(line)
                    if epoch is not None:
                        epochs += 1
                        self._publish(epoch)
                    if self._stopping.is_set():
                        return
                last = self._assembler.finish()
                if last is not None:
                    epochs += 1
                    self._publish(last)
                if not self._loop:
                    break
                if epochs == 0:
                    _log.warning("nmea.nothing_to_loop", extra={"path": str(self._path)})
                    break
                log.seek(0)
                # A fresh assembler each pass: the log's times start again rather than run into the next day.
                self._rejected_before += self._assembler.rejected
                self._assembler = EpochAssembler()
        if not self._stopping.is_set():
            self._done.set()

    def _publish(self, epoch: Epoch) -> None:
        if self._realtime and self._last is not None:
            previous_at, previous_replayed = self._last
            step = (epoch.at - previous_at).total_seconds()
            if step > 0:
                self._step_s = step
            if self._stopping.wait(max(0.0, previous_replayed + self._step_s - time.monotonic())):
                return
        self._last = (epoch.at, time.monotonic())
        if epoch.position is not None:
            lat, lon = epoch.position
            self._latest.put(
                PositionFix(lat, lon, epoch.accuracy_m, epoch.heading_deg, epoch.speed_mps, epoch.at, source="gps")
            )
