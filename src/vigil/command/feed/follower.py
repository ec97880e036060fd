"""One server process's view of how far the feed is final (its horizon), shared by every live connection.

The follower runs on the server's event loop while at least one connection follows it. It advances the horizon
(see :mod:`vigil.command.feed.service` for why a horizon, and how it is found on each database) when

* this process commits a transaction that appended to the feed (the database's commit hook wakes it), or
* ``poll_s`` has passed: other server processes write to the same database and cannot wake it.

Connections then read the rows up to the horizon themselves; the follower never holds rows, only a number.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.command.database import Database
from vigil.command.errors import DatabaseUnavailable
from vigil.command.feed.service import APPENDED, largest_seq, visible_beyond, wait_for_feed_writers
from vigil.command.settings import FeedSettings

_log = logging.getLogger(__name__)

_WRITERS_TIMEOUT_S = 1.0


class FeedFollower:
    """Follows the feed's horizon for one server process."""

    def __init__(self, *, database: Database, settings: FeedSettings) -> None:
        """Hook into the database's commits; nothing runs until a connection follows (:meth:`following`).

        Args:
            database: the server's database.
            settings: the feed's settings.
        """
        self._database = database
        self._settings = settings
        self._horizon: int | None = None
        self._followers = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._advanced = asyncio.Event()
        self._advancing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        database.on_commit(self._committed)

    @property
    def horizon(self) -> int:
        """Every entry up to this ``seq`` is final: committed, or never will be (0 before the first look)."""
        return self._horizon or 0

    @asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """Keep the horizon moving while the caller follows it; the horizon is current when this enters.

        Raises:
            DatabaseUnavailable: the first look at the feed failed.
        """
        self._loop = asyncio.get_running_loop()
        self._followers += 1
        try:
            while self._horizon is None:
                await self.refresh()
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name="feed-follower")
            yield
        finally:
            self._followers -= 1
            if self._followers == 0 and self._task is not None:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
                self._task = None

    async def refresh(self) -> int:
        """Advance the horizon as far as the database allows now.

        Returns:
            The horizon.

        Raises:
            DatabaseUnavailable: the database cannot be reached.
        """
        async with self._advancing:
            before = self._horizon
            after = await run_in_threadpool(self._advance, before)
            if after is not None and (before is None or after > before):
                self._horizon = after
                advanced, self._advanced = self._advanced, asyncio.Event()
                advanced.set()
        return self.horizon

    async def wait_beyond(self, seq: int, *, timeout_s: float | None) -> int:
        """Wait until the horizon passes ``seq``, or ``timeout_s`` (None: no limit) has passed.

        Returns:
            The horizon then (still ``seq`` or less after a timeout).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.horizon <= seq:
            advanced = self._advanced
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(advanced.wait(), remaining)
            except TimeoutError:
                break
        return self.horizon

    def wake(self) -> None:
        """Look at the feed now (safe from any thread); nothing happens while nobody follows."""
        loop = self._loop
        if loop is None or self._followers == 0:
            return
        # A commit can land while the server shuts down its event loop; nobody is left to tell then.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake.set)

    def _committed(self, session: Session) -> None:
        if session.info.pop(APPENDED, False):
            self.wake()

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_s)
            self._wake.clear()
            try:
                await self.refresh()
            except DatabaseUnavailable as exc:
                _log.warning("feed.unavailable", extra={"reason": str(exc)})
            except Exception:
                # Never stop following: screens and the unit index wait on it. Say so loudly, and look again.
                _log.exception("feed.follow_failed", extra={"horizon": self._horizon})

    def _advance(self, horizon: int | None) -> int | None:
        """The new horizon, from ``horizon`` (None: not known yet, and still not when the writers were slow)."""
        with self._database.read_session() as session:
            if horizon is None:
                largest, settled = largest_seq(session=session), False
            else:
                largest, count = visible_beyond(session=session, after=horizon)
                # No gap between the horizon and the largest row: everything up to it is committed.
                settled = count == largest - horizon
        if largest == horizon:
            return largest
        if not settled:
            with self._database.session() as session:
                if not wait_for_feed_writers(session=session, timeout_s=_WRITERS_TIMEOUT_S):
                    _log.info("feed.writers_slow", extra={"horizon": horizon, "waiting_for": largest})
                    return horizon
        return largest
