"""The command centre over HTTPS for the tests: the force's CA (:mod:`vigil.pki`), a server certificate, uvicorn.

:func:`force_certificates` makes a CA and a server certificate for 127.0.0.1 and localhost;
:func:`serving_https` runs an app as ``vigil serve --certificate --key`` would (:func:`server_config`), on a thread.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from vigil.command.server_config import server_config
from vigil.command.settings import CommandSettings
from vigil.pki import create_authority, issue_certificate


@dataclass(frozen=True)
class ForceCertificates:
    """A CA and a server certificate it issued."""

    ca_file: Path
    certificate_file: Path
    key_file: Path


def force_certificates(directory: Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> ForceCertificates:
    """A new CA in ``directory/ca`` and a server certificate for ``hosts`` in ``directory/server``."""
    authority = create_authority(directory / "ca", name="Test Force CA")
    issued = issue_certificate(authority, directory / "server", name="command", hosts=hosts, purpose="server")
    return ForceCertificates(authority.certificate_file, issued.certificate_file, issued.key_file)


@contextmanager
def serving(app: FastAPI, settings: CommandSettings) -> Iterator[str]:
    """Serve ``app`` on a free loopback port with the settings' transport; yields its base URL (http or https)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        scheme = "https" if settings.https.serves_tls else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
