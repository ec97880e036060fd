"""A real uvicorn server that speaks WebSocket, and a client for the live feed."""

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from websockets.sync.client import ClientConnection, connect

from tests.command.conftest import RunningServer

ServeLive = Callable[[FastAPI], RunningServer]


@pytest.fixture
def serve_live() -> Iterator[ServeLive]:
    """Like ``serve``, with WebSockets on (websockets' sans-I/O protocol, the one ``vigil serve`` picks)."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> RunningServer:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return RunningServer(app=app, url=f"http://127.0.0.1:{port}")

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


class FeedClient:
    """An operator's screen: a WebSocket on /api/v1/feed, decoding each message."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def receive(self, count: int, timeout_s: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        return [json.loads(self.connection.recv(timeout=deadline - time.monotonic())) for _ in range(count)]

    def receive_for(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives in the next ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(json.loads(self.connection.recv(timeout=left)))
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def feed_clients() -> Iterator[Callable[..., FeedClient]]:
    """Open feed connections (``after`` = the resume point), closed after the test."""
    with ExitStack() as stack:

        def open_client(server: RunningServer, after: int | None = None) -> FeedClient:
            query = "" if after is None else f"?after={after}"
            url = f"{server.url.replace('http', 'ws', 1)}/api/v1/feed{query}"
            return FeedClient(stack.enter_context(connect(url)))

        yield open_client
