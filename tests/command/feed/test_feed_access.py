"""Who may follow the live feed: signed-in operators and supervisors, from the page's own origin; until signed out."""

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.command.conftest import CreateAccount, RunningServer
from tests.command.feed.conftest import ServeLive
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.settings import AccountSettings, CommandSettings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def live(serve_live: ServeLive, settings: CommandSettings) -> RunningServer:
    checking_often = settings.model_copy(update={"accounts": AccountSettings(feed_session_check_s=0.1)})
    return serve_live(create_app(checking_often))


def _status(url: str, headers: dict[str, str]) -> int:
    try:
        with connect(url, additional_headers=headers, open_timeout=5):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_the_live_feed_lets_in_operators_and_supervisors_only(live: RunningServer, accounts: CreateAccount) -> None:
    url = f"{live.url.replace('http', 'ws', 1)}/api/v1/feed"
    statuses = {"no session": _status(url, {})}
    for role in Role:
        token = live.sign_in(accounts(f"{role.value}-1", role))
        statuses[role.value] = _status(url, {"Authorization": f"Bearer {token}"})
    assert statuses == {"no session": 401, "operator": 101, "supervisor": 101, "admin": 403, "auditor": 403}


def test_the_cookie_opens_the_feed_only_from_the_servers_own_origin(
    live: RunningServer, accounts: CreateAccount
) -> None:
    token = live.sign_in(accounts("op-1", Role.OPERATOR))
    url = f"{live.url.replace('http', 'ws', 1)}/api/v1/feed"
    cookie = {"Cookie": f"vigil_session={token}"}
    assert _status(url, {**cookie, "Origin": live.url}) == 101
    assert _status(url, {**cookie, "Origin": "http://evil.example"}) == 403
    assert _status(url, {**cookie, "Origin": live.url, "Sec-Fetch-Site": "cross-site"}) == 403


def test_signing_out_closes_an_open_feed(live: RunningServer, accounts: CreateAccount) -> None:
    token = live.sign_in(accounts("op-1", Role.OPERATOR))
    url = f"{live.url.replace('http', 'ws', 1)}/api/v1/feed"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5) as screen:
        with live.client(token) as client:
            assert client.post("/api/v1/auth/logout").status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            screen.recv(timeout=5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "signed out: sign in again")
