"""The cross-site check compares whole origins: scheme, host and port (another port on the same host is elsewhere)."""

from pathlib import Path

import pytest
from starlette.requests import HTTPConnection

from tests.command.conftest import CreateAccount, RunningServer
from vigil.command.accounts.models import Role
from vigil.command.api.csrf import check_same_origin
from vigil.command.errors import CrossSiteRequest


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The check does not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'command.sqlite'}"


def _shifted(url: str, by: int) -> str:
    base, _, port = url.rpartition(":")
    return f"{base}:{int(port) + by}"


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("SAME", 204),
        ("OTHER_PORT", 403),  # another service on this host: answered 204 when only the host was compared
        ("http://127.0.0.1", 403),  # port 80
        ("https://SAME_HOST_PORT", 403),  # another scheme
        ("http://localhost:SAME_PORT", 403),  # another host name, though the same machine
        ("http://127.0.0.1:99999", 403),  # not a port
    ],
)
def test_a_cookie_borne_request_from_another_port_on_the_same_host_is_refused(
    server: RunningServer, accounts: CreateAccount, origin: str, status: int
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    port = server.url.rpartition(":")[2]
    origin = {"SAME": server.url, "OTHER_PORT": _shifted(server.url, 1)}.get(origin, origin)
    origin = origin.replace("SAME_HOST_PORT", f"127.0.0.1:{port}").replace("SAME_PORT", port)
    with server.client() as page:
        login = {"username": "op-1", "password": operator.password}
        page.cookies.set("vigil_session", page.post("/api/v1/auth/login", json=login).cookies["vigil_session"])
        response = page.post("/api/v1/auth/logout", headers={"Origin": origin})
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "cross_site_request"


def test_signing_in_from_another_port_on_the_same_host_is_refused(
    server: RunningServer, accounts: CreateAccount
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    login = {"username": "op-1", "password": operator.password}
    with server.client() as page:
        elsewhere = page.post("/api/v1/auth/login", json=login, headers={"Origin": _shifted(server.url, 1)})
        here = page.post("/api/v1/auth/login", json=login, headers={"Origin": server.url})
    assert (elsewhere.status_code, here.status_code) == (403, 200)


def _connection(kind: str, scheme: str, host: str, origin: str) -> HTTPConnection:
    headers = [(b"host", host.encode()), (b"origin", origin.encode())]
    return HTTPConnection({"type": kind, "scheme": scheme, "method": "POST", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("kind", "scheme", "host", "origin", "allowed"),
    [
        ("http", "https", "vigil.example", "https://vigil.example", True),
        ("http", "https", "vigil.example", "https://vigil.example:443", True),
        ("http", "https", "vigil.example:443", "https://vigil.example", True),
        ("http", "https", "Vigil.Example", "https://vigil.example", True),
        ("http", "https", "vigil.example:8443", "https://vigil.example:8443", True),
        ("http", "https", "vigil.example", "https://vigil.example:8443", False),
        ("http", "https", "vigil.example:8443", "https://vigil.example", False),
        ("http", "https", "vigil.example", "http://vigil.example", False),
        ("http", "http", "vigil.example", "https://vigil.example", False),
        ("http", "https", "vigil.example", "https://vigil.example.evil", False),
        ("http", "https", "vigil.example", "null", False),
        ("websocket", "wss", "vigil.example", "https://vigil.example", True),
        ("websocket", "ws", "127.0.0.1:8000", "http://127.0.0.1:8000", True),
        ("websocket", "wss", "vigil.example", "http://vigil.example", False),
        ("websocket", "ws", "127.0.0.1:8000", "http://127.0.0.1:8001", False),
    ],
)
def test_an_origin_is_scheme_host_and_port(kind: str, scheme: str, host: str, origin: str, allowed: bool) -> None:
    connection = _connection(kind, scheme, host, origin)
    if allowed:
        check_same_origin(connection)
    else:
        with pytest.raises(CrossSiteRequest, match="another origin"):
            check_same_origin(connection)
