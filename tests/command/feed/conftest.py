"""A real uvicorn server that speaks WebSocket, and a client for the live feed."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.sync.client import ClientConnection, connect

from tests.command.conftest import Account, CreateAccount, RunningServer, serving
from vigil.command.accounts.models import Role

ServeLive = Callable[[FastAPI], RunningServer]


@pytest.fixture
def serve_live() -> Iterator[ServeLive]:
    """Like ``serve``, with WebSockets on (websockets' sans-I/O protocol, the one ``vigil serve`` picks)."""
    yield from serving(ws="websockets-sansio")


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

    def receive_until(self, done: Callable[[dict[str, Any]], bool], *, timeout_s: float) -> list[dict[str, Any]]:
        """Every message up to and including the first after which ``done`` is true; fails after ``timeout_s``."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                got.append(json.loads(self.connection.recv(timeout=max(left, 0.0))))
            except TimeoutError:
                raise AssertionError(f"the feed did not finish within {timeout_s} s; got {len(got)} messages") from None
            if done(got[-1]):
                return got

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def feed_operator(accounts: CreateAccount) -> Account:
    """The operator whose screens follow the feed."""
    return accounts("feed-op", Role.OPERATOR)


@pytest.fixture
def feed_clients(feed_operator: Account) -> Iterator[Callable[..., FeedClient]]:
    """Open feed connections (``after`` = the resume point) signed in as ``feed_operator``, closed after the test."""
    with ExitStack() as stack:

        def open_client(server: RunningServer, after: int | None = None) -> FeedClient:
            query = "" if after is None else f"?after={after}"
            url = f"{server.url.replace('http', 'ws', 1)}/api/v1/feed{query}"
            headers = {"Authorization": f"Bearer {server.sign_in(feed_operator)}"}
            return FeedClient(stack.enter_context(connect(url, additional_headers=headers)))

        yield open_client
