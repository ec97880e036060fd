"""`vigil serve` as its own process, as an operator starts it: on a free loopback port, waited for until it answers."""

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class ServedProcess:
    """A running `vigil serve`.

    Attributes:
        url: its base URL (``http://127.0.0.1:PORT`` or ``https://…``).
        port: the port it listens on.
        output: what it printed (standard output and error), filled in once it has stopped.
    """

    url: str
    port: int
    output: str = ""


@contextmanager
def vigil_serve(
    *arguments: str, env: dict[str, str] | None = None, https: ssl.SSLContext | None = None
) -> Iterator[ServedProcess]:
    """Run ``vigil serve ARGUMENTS --port PORT`` without the caller's ``VIGIL_`` variables (``env`` adds some).

    Args:
        arguments: the options after ``serve``.
        env: environment variables to set for it.
        https: the context to reach it over HTTPS with (it serves a certificate); None: plain HTTP.

    Yields:
        The process, once it answers ``/api/v1/openapi.json``; its output is read when it has been stopped.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("VIGIL_")}
    vigil = Path(sys.executable).parent / "vigil"
    server = subprocess.Popen(
        [str(vigil), "serve", *arguments, "--port", str(port)],
        env=clean | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = ServedProcess(url=f"{'https' if https else 'http'}://127.0.0.1:{port}", port=port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{served.url}/api/v1/openapi.json", timeout=1, verify=https or True).raise_for_status()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("vigil serve did not start") from None
                time.sleep(0.1)
        yield served
    finally:
        server.terminate()
        served.output = server.communicate(timeout=30)[0].decode()
