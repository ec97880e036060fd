"""The command centre served over HTTP from inside the demo's own process, as ``vigil serve`` would serve it.

:func:`listen` binds the port first, so a taken port is a clear error before anything starts;
:class:`ServedCommandCentre` runs :func:`vigil.command.app.create_app`'s app in uvicorn on a thread of its own
(WebSockets on, for the live feed) and hands back the server's runtime once its startup steps have run.
"""

import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from vigil.bus.protocol import Bus
from vigil.command.app import create_app
from vigil.command.runtime import ServerRuntime
from vigil.command.settings import CommandSettings
from vigil.sim.errors import DemoError, DemoPortInUse

DEFAULT_PORT = 8000
"""The command centre's port unless told otherwise (``vigil serve``'s too)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port), for the server to listen on.

    Raises:
        DemoPortInUse: the port is taken (or the address is not this machine's).
    """
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise DemoPortInUse(
            f"cannot listen on {host}:{port} ({exc.strerror}); give another --port (0 picks a free one)", port=port
        ) from exc
    return listener


def listen_on_default(host: str, port: int | None, *, say: Callable[[str], None]) -> socket.socket:
    """A socket on ``port``; when None, on :data:`DEFAULT_PORT`, or a free port when that is taken (and say so).

    Raises:
        DemoPortInUse: a port given is taken.
    """
    if port is not None:
        return listen(host, port)
    try:
        return listen(host, DEFAULT_PORT)
    except DemoPortInUse:
        say(f"port {DEFAULT_PORT} is taken; the command centre takes a free one")
        return listen(host, 0)


class ServedCommandCentre:
    """The command centre in uvicorn on a thread. ``start()``, then ``stop()`` once."""

    def __init__(self, settings: CommandSettings, *, bus: Bus | None, listener: socket.socket) -> None:
        """Prepare the server.

        Args:
            settings: the server's settings.
            bus: the bus to use instead of the one the settings name (the caller's to stop), or None.
            listener: the bound socket it listens on.
        """
        self.url = f"http://{settings.host}:{listener.getsockname()[1]}"
        self._app = create_app(settings, bus=bus)
        self._server = uvicorn.Server(
            uvicorn.Config(self._app, log_level="warning", ws="websockets-sansio", lifespan="on", log_config=None)
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, name="command-centre", daemon=True
        )

    def start(self, timeout_s: float = 120.0) -> ServerRuntime:
        """Start serving; returns the server's runtime once its startup steps have run.

        Raises:
            DemoError: the server stopped during startup (its log says why) or did not start in time.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DemoError("the command centre did not start; its log above says why")
            time.sleep(0.05)
        runtime = self._app.state.runtime
        if not isinstance(runtime, ServerRuntime):
            raise TypeError("the command centre started without its runtime")
        return runtime

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop serving: the server's shutdown steps run (the database is closed last)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
