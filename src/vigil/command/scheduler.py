"""The server's scheduled jobs, run on one thread, each by at most one server process at a time.

Each :class:`Job` runs when its interval has passed since it last ran in this process. On PostgreSQL a job
first takes its own advisory lock with ``pg_try_advisory_lock`` on a connection of its own: if another server
holds it, this process passes the turn and tries again at the next interval; if the server that holds it dies,
PostgreSQL frees the lock with its connection. On SQLite there is one server process, and the jobs' writes
take turns anyway. A failing job is logged and tried again at its next turn: one job's failure never stops the
others or the server.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from vigil.command.database import Database
from vigil.errors import VigilError

_log = logging.getLogger(__name__)

JOB_LOCK_BASE = 0x76696A00  # "vij": one advisory lock key per job, this plus its index


@dataclass(frozen=True)
class Job:
    """A job the scheduler runs.

    Attributes:
        name: for logs (``scheduler.job_failed``, ``scheduler.job_ran``).
        every_s: how often, seconds.
        lock_key: its PostgreSQL advisory lock key (unique per job).
        run: the job, given the current time (UTC).
        at_stop: also run it once more when the scheduler stops (the audit checkpoint: the trail as the server
            leaves it).
    """

    name: str
    every_s: float
    lock_key: int
    run: Callable[[datetime], None]
    at_stop: bool = False


class Scheduler:
    """Runs jobs on a thread from :meth:`start` to :meth:`stop`."""

    def __init__(self, *, database: Database, jobs: list[Job], tick_s: float, clock: Callable[[], datetime]) -> None:
        """Prepare; nothing runs before :meth:`start`.

        Args:
            database: for the jobs' locks.
            jobs: what to run.
            tick_s: how often to look for a job that is due, seconds.
            clock: the current time (UTC).
        """
        if len({job.lock_key for job in jobs}) != len(jobs):
            raise ValueError("every job needs its own lock key")
        self._database = database
        self._jobs = jobs
        self._tick_s = tick_s
        self._clock = clock
        self._last_run: dict[str, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        """Start the thread; every job is due at once."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the job in progress (if any) ends, then run the jobs marked ``at_stop`` once more."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            _log.warning("scheduler.stop_timed_out", extra={"timeout_s": timeout_s})
            return  # a job still runs: running the last ones beside it could run a job twice at once
        for job in self._jobs:
            if job.at_stop:
                self._run(job)

    def run_due(self) -> list[str]:
        """Run every job whose interval has passed (the thread's work, callable from tests).

        Returns:
            The names of the jobs that ran (and were not passed to another server).
        """
        ran = []
        for job in self._jobs:
            started = time.monotonic()
            last = self._last_run.get(job.name)
            if last is not None and started - last < job.every_s:
                continue
            self._last_run[job.name] = started
            if self._run(job):
                ran.append(job.name)
        return ran

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_due()
            self._stopping.wait(self._tick_s)

    def _run(self, job: Job) -> bool:
        try:
            if self._database.dialect != "postgresql":
                job.run(self._clock())
                return True
            with self._database.engine.connect() as connection:
                taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": job.lock_key}).scalar()
                connection.commit()
                if not taken:
                    return False
                try:
                    job.run(self._clock())
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": job.lock_key})
                    connection.commit()
            return True
        except (VigilError, OSError, ValueError) as exc:
            _log.warning("scheduler.job_failed", extra={"job": job.name, "reason": str(exc)})
        except Exception:
            # A bug in one job must not end the thread: retention and expiry are legal duties that must go on.
            # The traceback is logged, and the job tried again at its next turn.
            _log.exception("scheduler.job_failed", extra={"job": job.name})
        return False
