"""Every route's body limit, over a real uvicorn server: bodies past it are refused unread and cost no memory."""

import json
import os
import select
import socket
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.command.conftest import RunningServer
from vigil.command.api.body_limit import AREA_BYTES_PER_POSITION, route_body_limits
from vigil.command.app import create_app
from vigil.command.settings import CommandSettings

SIGN_IN = "/api/v1/auth/login"
HUGE_BYTES = 300 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
MAX_GROWTH_BYTES = 8 * 1024 * 1024
"""What a refused 300 MiB body may add to the server's resident memory (the kernel's and uvicorn's buffers)."""


@pytest.fixture
def settings(tmp_path: Path) -> CommandSettings:
    # The limits do not depend on the database: one SQLite file is enough.
    return CommandSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'command.sqlite'}")


@pytest.fixture
def server(serve: Callable[[FastAPI], RunningServer], settings: CommandSettings) -> RunningServer:
    return serve(create_app(settings))


def _rss_bytes() -> int:
    """This process's resident memory (the server runs on one of its threads)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _connect(server: RunningServer) -> socket.socket:
    address = urllib.parse.urlsplit(server.url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _head(path: str, *, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing}\r\n\r\n").encode()


def _response(connection: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    """Read one whole response (the server closes the connection after a 413).

    The close is a reset when the sender had more of the body on its way; the answer before it still arrives.
    """
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def _send_until_answered(connection: socket.socket, *, chunked: bool) -> int:
    """Send up to 300 MiB of body, stopping once the server answers or stops reading; returns the bytes sent."""
    sent = 0
    connection.setblocking(False)
    frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
    deadline = time.monotonic() + 30
    while sent < HUGE_BYTES and time.monotonic() < deadline:
        readable, writable, _ = select.select([connection], [connection], [], 1.0)
        if readable:
            break
        if writable:
            try:
                sent += connection.send(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            except BlockingIOError:
                continue
    connection.setblocking(True)
    return sent


def _warm(server: RunningServer) -> None:
    with server.client() as client:
        client.post(SIGN_IN, json={"username": "nobody", "password": "x" * 12})


def test_a_declared_300_mib_sign_in_is_refused_before_its_body_is_sent(server: RunningServer) -> None:
    _warm(server)
    before = _rss_bytes()
    with _connect(server) as connection:
        connection.sendall(_head(SIGN_IN, length=HUGE_BYTES))
        status, headers, body = _response(connection)
    assert status == 413
    assert headers["connection"] == "close"
    assert body == {
        "error": {
            "code": "body_too_large",
            "message": (
                "the request body is over the limit of 65,536 bytes; no request to this route needs a larger body"
            ),
            "details": {"limit_bytes": 65536},
        }
    }
    assert _rss_bytes() - before < MAX_GROWTH_BYTES


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "declared"])
def test_a_sender_that_sends_a_refused_body_in_full_before_reading_receives_the_413(
    server: RunningServer, chunked: bool
) -> None:
    """As a handset's HTTP client does: without the server's lingering read, its close resets the connection."""
    size = 8 * 1024 * 1024
    with _connect(server) as connection:
        connection.sendall(_head(SIGN_IN, length=None if chunked else size))
        for _ in range(size // len(CHUNK)):
            connection.sendall(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK)
        if chunked:
            connection.sendall(b"0\r\n\r\n")
        status, headers, body = _response(connection)
    assert (status, headers["connection"]) == (413, "close")
    assert body["error"]["details"] == {"limit_bytes": 64 * 1024}  # type: ignore[index]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "declared"])
def test_a_300_mib_sign_in_body_sent_in_full_is_cut_off_without_growing_the_server(
    server: RunningServer, chunked: bool
) -> None:
    _warm(server)
    before = _rss_bytes()
    with _connect(server) as connection:
        connection.sendall(_head(SIGN_IN, length=None if chunked else HUGE_BYTES))
        sent = _send_until_answered(connection, chunked=chunked)
        status, _, body = _response(connection)
    assert status == 413
    assert body["error"]["code"] == "body_too_large"  # type: ignore[index]
    assert sent < HUGE_BYTES // 4, f"the server read {sent:,} bytes of a refused body"
    assert _rss_bytes() - before < MAX_GROWTH_BYTES


@pytest.mark.parametrize(
    ("path", "size", "declared_status", "streamed_status"),
    [
        # Sign-in and everything else unlisted: 64 KiB (FastAPI reads a parsed body before checking sign-in).
        (SIGN_IN, 64 * 1024 + 1, 413, 413),
        ("/api/v1/users", 64 * 1024 + 1, 413, 413),
        # Routes that take more: refused for being signed out, not for their size.
        (f"/api/v1/watchlists/{uuid.UUID(int=1)}/subjects", 1024 * 1024, 401, 401),
        ("/api/v1/events", 1024 * 1024, 401, 401),
        ("/api/v1/incidents", 128 * 1024, 401, 401),
        # … up to their own limits: a declared length is refused before sign-in is checked, a streamed body by
        # sign-in before it is read.
        ("/api/v1/events", 4 * 1024 * 1024 + 1, 413, 401),
        (f"/api/v1/watchlists/{uuid.UUID(int=1)}/subjects", 24 * 1024 * 1024 + 1, 413, 401),
    ],
)
def test_each_route_takes_bodies_up_to_its_own_limit(
    server: RunningServer, path: str, size: int, declared_status: int, streamed_status: int
) -> None:
    body = b"{" + b" " * (size - 2) + b"}"
    with server.client() as client:
        declared = client.post(path, content=body, headers={"Content-Type": "application/json"})
        streamed = client.post(path, content=iter([body[:1000], body[1000:]]))
    assert (declared.status_code, streamed.status_code) == (declared_status, streamed_status)


def test_a_streamed_body_past_the_limit_of_a_parsed_route_is_413_not_400(server: RunningServer) -> None:
    """FastAPI calls any failure to read a body it parses a 400; the sender is told what happened."""
    body = json.dumps({"username": "op-1", "password": "p" * (70 * 1024)}).encode()
    with server.client() as client:
        response = client.post(SIGN_IN, content=iter([body[:1024], body[1024:]]))
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit_bytes": 64 * 1024}


def test_every_route_in_the_table_exists(server: RunningServer, settings: CommandSettings) -> None:
    """A renamed route would silently fall back to the small default."""
    paths = server.app.openapi()["paths"]
    for route in route_body_limits(settings).routes:
        assert route.method.lower() in paths.get(route.path, {}), f"{route.method} {route.path} is no route"


def test_areas_have_room_for_their_most_positions(settings: CommandSettings) -> None:
    limits = route_body_limits(settings)
    area = limits.refusal_for("PUT", f"/api/v1/incidents/{uuid.UUID(int=1)}/area")
    assert area.limit_bytes == settings.max_body_bytes + settings.dispatch.areas.max_positions * AREA_BYTES_PER_POSITION
    assert limits.refusal_for("PUT", "/api/v1/incidents/x/area/more").limit_bytes == settings.max_body_bytes
