"""The largest request body each route takes, enforced before a route reads a byte of it.

:class:`BodyLimit` wraps the whole app. A request whose declared ``Content-Length`` is over its route's limit is
answered 413 at once, its body unread (and before sign-in is checked: the size alone decides). A body sent
without a length (chunked) is counted as the route reads it; the first chunk past the limit ends the reading
with :class:`~vigil.command.errors.BodyTooLarge`, and whatever the route answers then is replaced by the 413. The
server's memory therefore never holds more of a body than its route's limit, whoever sends it.

Most routes take a few hundred bytes of JSON (sign-in included), so everything not in the table of
:func:`route_body_limits` gets the small default; the routes that legitimately take more are listed with the
setting that sizes them. Every 413 also closes the connection, so the rest of a refused body is never stored.

Closing a connection while the sender is still sending makes the kernel answer the unread bytes with a reset,
which can destroy the 413 before the sender reads it (RFC 9112 §9.6): a handset would see "connection reset"
instead of the advice to send smaller batches. So the 413 waits while up to :data:`LINGER_BYTES` more of the body
are read and thrown away, for at most :data:`LINGER_SECONDS`: a body declared larger than that is answered at
once, and a body that keeps coming is cut off there. Thrown-away bytes cost no memory.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

import anyio
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.command.api.problems import ErrorBody, ErrorDetail, error_code
from vigil.command.errors import BodyTooLarge
from vigil.command.settings import CommandSettings

AREA_BYTES_PER_POSITION = 128
"""Room for one GeoJSON position (``[lon, lat]`` at full precision, pretty-printed) in an area's body, bytes."""

LINGER_BYTES = 32 * 1024 * 1024
"""How much more of a refused body is read and thrown away so that its sender receives the 413, bytes."""
LINGER_SECONDS = 5.0
"""How long the 413 waits for a refused body's sender to finish, seconds."""

_PARAMETER = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class RouteBodyLimit:
    """The largest body one route takes.

    Attributes:
        method: the HTTP method, upper case.
        path: the route's path template, as FastAPI writes it (``/api/v1/watchlists/{watchlist_id}/subjects``).
        limit_bytes: the largest body, bytes.
        advice: what the sender can do instead, for the 413's message.
    """

    method: str
    path: str
    limit_bytes: int
    advice: str
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.limit_bytes < 0:
            raise ValueError(f"{self.method} {self.path}: limit_bytes must be 0 or more, got {self.limit_bytes}")
        if self.method != self.method.upper():
            raise ValueError(f"the method is written in upper case, got {self.method!r}")
        literal = _PARAMETER.split(self.path)
        pattern = "[^/]+".join(re.escape(part) for part in literal)
        object.__setattr__(self, "pattern", re.compile(f"^{pattern}$"))

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is this route's."""
        return method == self.method and self.pattern.match(path) is not None


@dataclass(frozen=True)
class BodyLimits:
    """Every route's largest body: the listed routes', and the default for all others.

    Attributes:
        routes: the routes that take more (or less) than the default.
        default_bytes: the largest body of every other route, bytes.
        default_advice: what the sender of an over-long body to another route can do, for the 413's message.
    """

    routes: Sequence[RouteBodyLimit]
    default_bytes: int
    default_advice: str = "no request to this route needs a larger body"

    def __post_init__(self) -> None:
        if self.default_bytes < 0:
            raise ValueError(f"default_bytes must be 0 or more, got {self.default_bytes}")

    def refusal_for(self, method: str, path: str) -> BodyTooLarge:
        """The refusal a body over the limit of this request's route gets (its ``limit_bytes`` is the limit)."""
        for route in self.routes:
            if route.matches(method, path):
                return BodyTooLarge(limit_bytes=route.limit_bytes, advice=route.advice)
        return BodyTooLarge(limit_bytes=self.default_bytes, advice=self.default_advice)


def route_body_limits(settings: CommandSettings) -> BodyLimits:
    """The command centre's limits: events and enrolment photos by their settings, areas by their positions.

    OsmAnd trackers' fixes (a few fields of a form) are among the routes with the default.

    Returns:
        The table; every other route gets ``settings.max_body_bytes``.
    """
    events = settings.limits.max_request_bytes
    photos = settings.watchlists.max_enrolment_bytes
    area = settings.max_body_bytes + settings.dispatch.areas.max_positions * AREA_BYTES_PER_POSITION
    fewer_points = "draw the area with fewer points"
    return BodyLimits(
        routes=(
            RouteBodyLimit("POST", "/api/v1/events", events, "send fewer events at a time"),
            RouteBodyLimit(
                "POST", "/api/v1/watchlists/{watchlist_id}/subjects", photos, "send fewer or smaller photos"
            ),
            RouteBodyLimit("POST", "/api/v1/units/in-area", area, fewer_points),
            RouteBodyLimit("POST", "/api/v1/incidents", area, fewer_points),
            RouteBodyLimit("PUT", "/api/v1/incidents/{incident_id}/area", area, fewer_points),
        ),
        default_bytes=settings.max_body_bytes,
    )


class BodyLimit:
    """ASGI middleware: no request body past its route's limit is read (413, connection closed)."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        """Wrap ``app``; ``limits`` gives each route's largest body (:func:`route_body_limits`)."""
        self._app = app
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared length over the limit unread; count a streamed body as the route reads it."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        refusal = self._limits.refusal_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > refusal.limit_bytes:
            await _refuse(refusal, scope, receive, send, linger=int(declared) <= LINGER_BYTES)
            return
        received = 0
        over = False
        replaced = False
        more_to_come = True

        async def counted() -> Message:
            nonlocal received, over, more_to_come
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more_to_come = message.get("more_body", False)
                if received > refusal.limit_bytes:
                    over = True
                    raise refusal
            return message

        async def answer(message: Message) -> None:
            # Past the limit, the route may answer anything (FastAPI's own body parsing calls any read failure
            # a 400): the sender is told 413, and the route's answer goes nowhere.
            nonlocal replaced
            if not over:
                await send(message)
            elif message["type"] == "http.response.start" and not replaced:
                replaced = True
                await _refuse(refusal, scope, receive, send, linger=more_to_come)

        try:
            await self._app(scope, counted, answer)
        except BodyTooLarge as exc:
            # A route that lets the refusal escape unanswered: it is answered here.
            if exc is not refusal or replaced:
                raise
            await _refuse(refusal, scope, receive, send, linger=more_to_come)


async def _refuse(refusal: BodyTooLarge, scope: Scope, receive: Receive, send: Send, *, linger: bool) -> None:
    if linger:
        await _throw_away_the_rest(receive)
    body = ErrorBody(
        error=ErrorDetail(code=error_code(refusal), message=str(refusal), details={"limit_bytes": refusal.limit_bytes})
    )
    response = JSONResponse(
        body.model_dump(mode="json"), status_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, headers={"Connection": "close"}
    )
    await response(scope, receive, send)


async def _throw_away_the_rest(receive: Receive) -> None:
    """Read what is left of a refused body, up to :data:`LINGER_BYTES` and :data:`LINGER_SECONDS`, keeping none."""
    thrown_away = 0
    with anyio.move_on_after(LINGER_SECONDS):
        while thrown_away <= LINGER_BYTES:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            thrown_away += len(message.get("body", b""))
