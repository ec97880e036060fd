"""The handset screen's server: the page and its small API, inside the agent's process, on the device itself.

It needs no link to the command centre. Routes:

* ``GET /``: the page, from the built bundle (:func:`vigil.web.assets.page_dir`), with its assets;
* ``GET /api/screen``: the whole screen (:class:`~vigil.edge.screen_view.ScreenView`);
* ``GET /api/stream``: server-sent events, a ``screen`` event with the whole screen on every change and at
  least once a second while the status bar changes (the browser reconnects by itself when it drops);
* ``GET /api/images/{key}``: an image the screen refers to (never cached by the browser);
* ``POST /api/orders/{dispatch_id}/answers``: the officer's tap, ``{"status": …, "reason": …}``; the answer is
  in the outbox when the response says so (201), 404 for an unknown order, 409 for an answer out of turn;
* ``POST /api/orders/{dispatch_id}/verification``: the officer compared the order's crop with the watchlist photo,
  ``{"verdict": "same_person" | "not_the_person" | "cannot_tell"}``; the ``alert.verified`` is in the outbox when
  the response says so (201), 404 for an unknown order, 409 when the order takes no verdict (an officer-in-danger
  order, one that is over, an identity already verified by two people) or a different one was given (only
  "cannot tell" may be followed by another);
* ``POST /api/emergency``: the officer held the emergency button; the emergency is in the outbox when the
  response says so (201, the screen's :class:`~vigil.edge.screen_view.EmergencyView`; a second press while one
  is open answers the open one);
* ``DELETE /api/emergency``: the officer dismisses the emergency control acknowledged (204; 404 when none is
  open, 409 before control acknowledged it).

Every response forbids the page to load anything from elsewhere (Content-Security-Policy; only a configured
tile server is allowed besides), the server answers only requests addressed to its own host name, and a tap
(an answer, a verdict, an emergency) is taken only from the page's own origin.
"""

import asyncio
import logging
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from vigil.edge.device_health import DeviceHealth
from vigil.edge.emergency import EmergencyNotAcknowledged, NoEmergency
from vigil.edge.errors import EdgeError
from vigil.edge.orders import InvalidDispatchAnswer, InvalidVerification, UnknownDispatch
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import EmergencyView, ScreenView
from vigil.edge.settings import ScreenSettings
from vigil.events import AlertVerified, DispatchState, DispatchStatus, IdentityVerdict, OfficerEmergency, utc_now
from vigil.web.page_security import SecurityHeaders, content_security_policy

_log = logging.getLogger(__name__)

# How often the stream looks for a change, and how often it refreshes the status bar, seconds.
_TICK_S = 0.1
_STATUS_EVERY_S = 1.0
# A comment line this often keeps proxies and the browser from timing an idle stream out, seconds.
_KEEPALIVE_S = 15.0
_NO_STORE = {"Cache-Control": "no-store"}


class ScreenUnavailable(EdgeError):
    """The screen's server cannot listen on its address, or did not start."""


class HandsetDevice(Protocol):
    """What the screen needs of the agent (:class:`vigil.edge.agent.EdgeAgent`)."""

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        """Answer an order; stored in the outbox before it returns."""
        ...

    def verify(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict) -> AlertVerified:
        """The officer's verdict on an order's match; stored in the outbox before it returns."""
        ...

    def health(self) -> DeviceHealth:
        """The device's health now."""
        ...

    def raise_emergency(self) -> OfficerEmergency:
        """Raise the officer's emergency (or return the open one); stored in the outbox before it returns."""
        ...

    def dismiss_emergency(self) -> None:
        """Dismiss the acknowledged emergency; raises NoEmergency or EmergencyNotAcknowledged."""
        ...


class AnswerRequest(BaseModel):
    """The officer's tap on an order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: DispatchState
    reason: str = Field("", max_length=2000, description="Why, for a decline (required then).")

    @model_validator(mode="after")
    def _decline_has_reason(self) -> "AnswerRequest":
        if self.status is DispatchState.DECLINED and not self.reason.strip():
            raise ValueError("a decline needs a reason")
        return self


class AnswerSent(BaseModel):
    """The answer is in the outbox; the screen shows it as delivered once the command centre acknowledges it."""

    event_id: uuid.UUID
    dispatch_id: uuid.UUID
    status: DispatchState


class VerificationRequest(BaseModel):
    """The officer's tap after comparing the order's crop with the watchlist photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: IdentityVerdict


class VerdictSent(BaseModel):
    """The verdict is in the outbox; the screen shows it as delivered once the command centre acknowledges it."""

    event_id: uuid.UUID
    dispatch_id: uuid.UUID
    alert_id: uuid.UUID
    verdict: IdentityVerdict


def create_screen_app(
    *,
    settings: ScreenSettings,
    state: ScreenState,
    device: HandsetDevice,
    page: Path,
    stopping: threading.Event,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """Build the screen's app (see the module docstring).

    Args:
        settings: the screen's settings.
        state: what the screen shows.
        device: the agent: answers, verdicts and health.
        page: the built page's folder.
        stopping: set when the server stops, to end the event streams.
        clock: the current time (UTC).

    Returns:
        The app.
    """
    app = FastAPI(title="Vigil handset screen", openapi_url=None, docs_url=None, redoc_url=None)

    def current_view() -> ScreenView:
        return state.view(health=device.health(), now=clock())

    @app.get("/api/screen", response_model=ScreenView)
    def screen() -> Response:
        return Response(current_view().model_dump_json(), media_type="application/json", headers=_NO_STORE)

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(
            _screen_events(request, state=state, view=current_view, stopping=stopping),
            media_type="text/event-stream",
            headers=_NO_STORE,
        )

    @app.get("/api/images/{key}")
    def image(key: str) -> Response:
        data = state.image(key)
        if data is None:
            raise HTTPException(404, "no such image on the screen (it may have been dropped with its card)")
        return Response(data, media_type="image/jpeg", headers=_NO_STORE)

    @app.post("/api/orders/{dispatch_id}/answers", status_code=201)
    def answer(dispatch_id: uuid.UUID, body: AnswerRequest, request: Request) -> AnswerSent:
        _own_page_only(request)
        try:
            event = device.answer(dispatch_id, body.status, reason=body.reason.strip())
        except UnknownDispatch as exc:
            raise HTTPException(404, str(exc)) from exc
        except InvalidDispatchAnswer as exc:
            raise HTTPException(409, str(exc)) from exc
        _log.info("screen.answer", extra={"dispatch_id": str(dispatch_id), "status": body.status.value})
        return AnswerSent(event_id=event.id, dispatch_id=event.dispatch_id, status=event.status)

    @app.post("/api/orders/{dispatch_id}/verification", status_code=201)
    def verify(dispatch_id: uuid.UUID, body: VerificationRequest, request: Request) -> VerdictSent:
        _own_page_only(request)
        try:
            event = device.verify(dispatch_id, body.verdict)
        except UnknownDispatch as exc:
            raise HTTPException(404, str(exc)) from exc
        except InvalidVerification as exc:
            raise HTTPException(409, str(exc)) from exc
        _log.info("screen.verdict", extra={"dispatch_id": str(dispatch_id), "verdict": body.verdict.value})
        return VerdictSent(
            event_id=event.id, dispatch_id=event.dispatch_id, alert_id=event.alert_id, verdict=event.verdict
        )

    @app.post("/api/emergency", status_code=201)
    def raise_emergency(request: Request) -> EmergencyView:
        _own_page_only(request)
        event = device.raise_emergency()
        _log.warning("screen.emergency", extra={"emergency_id": str(event.emergency_id)})
        shown = current_view().emergency
        if shown is None or shown.emergency_id != event.emergency_id:
            # Only when the screen is not among the agent's notifiers: a wiring fault, not the officer's.
            raise HTTPException(500, "the emergency was sent but this screen does not show it")
        return shown

    @app.delete("/api/emergency", status_code=204)
    def dismiss_emergency(request: Request) -> Response:
        _own_page_only(request)
        try:
            device.dismiss_emergency()
        except NoEmergency as exc:
            raise HTTPException(404, str(exc)) from exc
        except EmergencyNotAcknowledged as exc:
            raise HTTPException(409, str(exc)) from exc
        return Response(status_code=204)

    app.mount("/", StaticFiles(directory=page, html=True), name="page")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=_allowed_hosts(settings.host))
    app.add_middleware(SecurityHeaders, policy=content_security_policy(settings.tile_url))
    return app


def _own_page_only(request: Request) -> None:
    """Refuse a tap sent by another site's page (a browser names the page's origin on a cross-site POST)."""
    origin = request.headers.get("origin")
    if origin is not None and urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "taps are taken only from the handset's own page")


async def _screen_events(
    request: Request, *, state: ScreenState, view: Callable[[], ScreenView], stopping: threading.Event
) -> AsyncIterator[str]:
    """The event stream: the screen on every change, the status bar as it changes, a keep-alive when idle."""
    yield "retry: 1000\n\n"  # the browser reconnects after a second when the stream drops
    sent: ScreenView | None = None
    sent_at = status_at = 0.0
    while not stopping.is_set() and not await request.is_disconnected():
        now = time.monotonic()
        if sent is None or state.revision != sent.revision or now - status_at >= _STATUS_EVERY_S:
            status_at = now
            current = await run_in_threadpool(view)
            if sent is None or current.revision != sent.revision or current.status != sent.status:
                sent, sent_at = current, now
                yield f"event: screen\ndata: {current.model_dump_json()}\n\n"
        if now - sent_at >= _KEEPALIVE_S:
            sent_at = now
            yield ": keep-alive\n\n"
        await asyncio.sleep(_TICK_S)


def _allowed_hosts(host: str) -> list[str]:
    if host in ("0.0.0.0", "::"):
        return ["*"]
    return sorted({host.strip("[]"), "127.0.0.1", "localhost", "::1"})


class ScreenServer:
    """Runs the screen's app in a uvicorn server on a thread of the agent's process."""

    def __init__(
        self,
        settings: ScreenSettings,
        *,
        state: ScreenState,
        device: HandsetDevice,
        page: Path,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Prepare the server; :meth:`start` listens.

        Args:
            settings: address, port, map tiles.
            state: what the screen shows.
            device: the agent.
            page: the built page's folder (:func:`vigil.web.assets.page_dir`).
            clock: the current time (UTC).
        """
        self._settings = settings
        self._stopping = threading.Event()
        app = create_screen_app(
            settings=settings, state=state, device=device, page=page, stopping=self._stopping, clock=clock
        )
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off", ws="none")
        )
        self._thread: threading.Thread | None = None
        self._port = settings.port

    @property
    def url(self) -> str:
        """Where the page is, e.g. ``http://127.0.0.1:8081/`` (the port chosen when it was 0)."""
        host = f"[{self._settings.host}]" if ":" in self._settings.host else self._settings.host
        return f"http://{host}:{self._port}/"

    def start(self, timeout_s: float = 10.0) -> None:
        """Listen and serve on a background thread.

        Raises:
            ScreenUnavailable: the address is in use or not this device's, or the server did not start in time.
        """
        family = socket.AF_INET6 if ":" in self._settings.host else socket.AF_INET
        listener = socket.socket(family)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self._settings.host, self._settings.port))
        except OSError as exc:
            listener.close()
            raise ScreenUnavailable(
                f"the handset screen cannot listen on {self._settings.host}:{self._settings.port} ({exc.strerror}); "
                "choose another port with --screen"
            ) from exc
        self._port = int(listener.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, name="screen", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ScreenUnavailable(f"the handset screen did not start on {self.url} in {timeout_s:g} s")
            time.sleep(0.01)
        _log.info("screen.started", extra={"url": self.url})

    def stop(self) -> None:
        """End the event streams and stop serving."""
        self._stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
