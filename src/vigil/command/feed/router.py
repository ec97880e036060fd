"""Feed API: ``/api/v1/feed`` as a WebSocket (live) and over plain HTTP (catch-up, paged).

Both serve the same entries in the same shape (:data:`~vigil.command.feed.schemas.FeedMessage`), in ``seq``
order, up to the horizon (every entry at or below it is final; see :mod:`vigil.command.feed.service`).

**WebSocket** ``GET /api/v1/feed?after=<seq>``: one JSON text message per entry. With ``after``, first every
entry after it, then new ones as they are committed; without, only new ones. Alerts and status changes are
sent every one, in order, as soon as they are final. Positions are throttled per unit (``feed.position_interval_s``,
1 s by default: a unit's first position at once, then at most one per interval, the latest winning; see
:mod:`vigil.command.feed.throttle`), so a position may arrive after entries with a larger ``seq``.

To resume after a disconnect, reconnect with ``after`` = the largest ``seq`` received: every alert and status
change after it arrives exactly once. A position that was held back when the connection dropped is not sent
again; positions are the units' state, not events, so a screen that reconnects reloads ``GET /api/v1/units``
(or takes the unit's next position). The server ignores what the client sends. When the database is
unavailable the server closes the connection with code 1013 (try again later).

Only operators and supervisors may follow the feed. The WebSocket handshake carries the session as the browser
page's cookie (from the page's own origin only) or as ``Authorization: Bearer``; without a session it is refused
with 401, without the role with 403. While the socket is open its session is checked every
``accounts.feed_session_check_s``: once it has ended (signed out, expired, user disabled) the server closes the
connection with code 1008 (policy violation).

**HTTP** ``GET /api/v1/feed?after=<seq>&limit=<n>``: a page of entries after ``after``, none throttled; follow
``next_after`` until a page comes back short.
"""

import asyncio
import logging
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from vigil.command.accounts.sessions import authenticate_session
from vigil.command.api.dependencies import OperatorDep, RuntimeDep, session_token
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.database import BIGINT_MAX
from vigil.command.errors import DatabaseUnavailable, NotSignedIn
from vigil.command.feed.follower import FeedFollower
from vigil.command.feed.schemas import FeedPage
from vigil.command.feed.service import read_entries
from vigil.command.feed.stream import stream_feed
from vigil.command.runtime import ServerRuntime
from vigil.events import utc_now

_log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["feed"], responses=ERROR_RESPONSES)

AfterQuery = Annotated[
    int | None, Query(ge=0, le=BIGINT_MAX, description="The largest seq already received; entries after it.")
]


@router.get("/feed")
async def get_feed(
    runtime: RuntimeDep,
    operator: OperatorDep,
    after: AfterQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most entries returned.")] = 500,
) -> FeedPage:
    """Feed entries after ``after`` (from the first when omitted), in ``seq`` order, none throttled."""
    horizon = await _follower(runtime).refresh()
    start = after or 0

    def read() -> FeedPage:
        with runtime.database.read_session() as session:
            entries = read_entries(session=session, after=start, upto=horizon, limit=limit)
        return FeedPage(entries=entries, next_after=entries[-1].seq if entries else start, horizon=horizon)

    return await run_in_threadpool(read)


@router.websocket("/feed")
async def feed_socket(websocket: WebSocket, operator: OperatorDep, after: AfterQuery = None) -> None:
    """The live feed (see the module's description)."""
    runtime = websocket.app.state.runtime
    if not isinstance(runtime, ServerRuntime):
        raise TypeError("the app has not been started (its lifespan builds the runtime)")
    follower = _follower(runtime)
    token = session_token(websocket)
    if token is None:
        raise TypeError("the operator dependency let a WebSocket in without a session token")
    try:
        async with follower.following():
            # The start is fixed before the handshake ends: an event committed once the client is connected is sent.
            start = follower.horizon if after is None else after
            await websocket.accept()
            await _serve(websocket, runtime, follower, start, token)
    except DatabaseUnavailable as exc:
        _log.warning("feed.closed", extra={"reason": str(exc)})
        # Before the handshake this refuses the connection; after it, it closes it (1013: try again later).
        with suppress(RuntimeError, OSError):
            await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason="database unavailable")


async def _serve(websocket: WebSocket, runtime: ServerRuntime, follower: FeedFollower, start: int, token: str) -> None:
    """Stream until the client leaves, sending fails or the session ends; raises DatabaseUnavailable."""
    sender = asyncio.create_task(
        stream_feed(
            send=websocket.send_text,
            follower=follower,
            database=runtime.database,
            settings=runtime.settings.feed,
            after=start,
        )
    )
    receiver = asyncio.create_task(_until_closed(websocket))
    session_check = asyncio.create_task(_until_signed_out(runtime, token))
    done, pending = await asyncio.wait({sender, receiver, session_check}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    if sender in done:
        try:
            sender.result()
        except (WebSocketDisconnect, OSError):
            return  # the client left while an entry was on its way
    if session_check in done:
        session_check.result()  # raises DatabaseUnavailable
        _log.info("feed.session_ended")
        with suppress(RuntimeError, OSError):
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="signed out: sign in again")


async def _until_closed(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _until_signed_out(runtime: ServerRuntime, token: str) -> None:
    """Return once the session has ended; watching the feed alone does not keep it from going idle."""
    settings = runtime.settings.accounts

    def live() -> bool:
        with runtime.database.read_session() as session:
            try:
                authenticate_session(session=session, token=token, settings=settings, now=utc_now(), touch=False)
            except NotSignedIn:
                return False
        return True

    while True:
        await asyncio.sleep(settings.feed_session_check_s)
        if not await run_in_threadpool(live):
            return


def _follower(runtime: ServerRuntime) -> FeedFollower:
    if runtime.feed is None:
        raise TypeError("the feed was not started (the app's startup starts it)")
    return runtime.feed
