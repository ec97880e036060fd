"""One operator's live feed: the entries after a resume point, then new ones as they become final.

Every entry goes out once, in ``seq`` order, except positions, which :class:`PositionThrottle` may hold back a
little (and so send after entries with a larger ``seq``) or leave out in favour of a newer one of the same
unit. The connection reads the database itself, from its own position, so a slow screen falls behind without
holding anything up or making the server buffer for it.
"""

import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from vigil.command.database import Database
from vigil.command.feed.follower import FeedFollower
from vigil.command.feed.schemas import FeedMessage, PositionEntry
from vigil.command.feed.service import read_entries
from vigil.command.feed.throttle import PositionThrottle
from vigil.command.settings import FeedSettings

Send = Callable[[str], Awaitable[None]]
"""Sends one JSON text message to the operator's screen."""


async def stream_feed(
    *, send: Send, follower: FeedFollower, database: Database, settings: FeedSettings, after: int
) -> None:
    """Send the feed to one connection until it is cancelled (the connection closed) or sending fails.

    Args:
        send: where each entry's JSON goes.
        follower: this process's horizon.
        database: where the entries are read.
        settings: page size and the position interval.
        after: the entries after this ``seq`` are sent.

    Raises:
        DatabaseUnavailable: the database cannot be reached; the client reconnects with ``after``.
    """
    throttle = PositionThrottle(settings.position_interval_s)

    def read(start: int, upto: int) -> list[FeedMessage]:
        with database.read_session() as session:
            return read_entries(session=session, after=start, upto=upto, limit=settings.page_size)

    async with follower.following():
        last = after
        while True:
            horizon = follower.horizon
            if last < horizon:
                entries = await run_in_threadpool(read, last, horizon)
                for entry in entries:
                    out = throttle.offer(entry, now=time.monotonic()) if isinstance(entry, PositionEntry) else entry
                    if out is not None:
                        await send(out.model_dump_json())
                # A short page read everything up to the horizon (gaps there are rows that never committed).
                last = entries[-1].seq if len(entries) == settings.page_size else horizon
            for held in throttle.due(now=time.monotonic()):
                await send(held.model_dump_json())
            if last < follower.horizon:
                continue
            await follower.wait_beyond(last, timeout_s=throttle.next_due_in(now=time.monotonic()))
