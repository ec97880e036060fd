"""Signing in and out over HTTP: passwords, the second factor, throttling, sessions, cookies and CSRF, all audited."""

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from tests.command.conftest import Account, CreateAccount, RunningServer
from vigil.command.accounts.models import Role, User
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.events import utc_now

LOGIN = "/api/v1/auth/login"


def _login(server: RunningServer, account: Account, **changes: Any) -> Any:
    body = {"username": account.username, "password": account.password, "delivery": "bearer", **changes}
    with server.client() as client:
        return client.post(LOGIN, json=body)


def _audit(database: Database, action: str | None = None) -> list[tuple[str, str, str | None, str]]:
    with database.session() as session:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return [(e.actor, e.action, e.record_id, e.details) for e in session.scalars(query)]


def test_an_operator_signs_in_with_a_password_and_out_again(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    response = _login(server, operator)
    assert response.status_code == 200
    signed_in = response.json()
    assert signed_in["user"] == {"username": "op-1", "display_name": "OP-1", "roles": ["operator"]}
    assert (signed_in["idle_timeout_s"], response.headers["cache-control"]) == (1800.0, "no-store")
    assert "set-cookie" not in response.headers
    with server.client(signed_in["token"]) as client:
        assert client.get("/api/v1/auth/me").json()["username"] == "op-1"
        assert client.post("/api/v1/auth/logout").status_code == 204
        after = client.get("/api/v1/auth/me")
    assert (after.status_code, after.json()["error"]["code"]) == (401, "not_signed_in")
    assert [(actor, action) for actor, action, _, _ in _audit(database)][-2:] == [
        ("op-1", "user.signed_in"),
        ("op-1", "user.signed_out"),
    ]


def test_a_supervisor_needs_the_code_and_a_code_works_once(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)
    assert supervisor.totp_secret is not None
    code = supervisor.code()
    without = _login(server, supervisor)
    wrong = _login(server, supervisor, code="000000" if code != "000000" else "111111")
    right = _login(server, supervisor, code=code)
    again = _login(server, supervisor, code=code)
    assert [r.status_code for r in (without, wrong, right, again)] == [401, 401, 200, 401]
    assert without.json() == wrong.json() == again.json()  # the client is never told which part was wrong
    assert without.json()["error"]["code"] == "sign_in_failed"
    reasons = [details for _, _, _, details in _audit(database, "user.sign_in_failed")]
    assert reasons == ['{"reason":"code_missing"}', '{"reason":"wrong_code"}', '{"reason":"wrong_code"}']


def test_unknown_names_wrong_passwords_waits_and_disabled_accounts_all_answer_alike(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    operator, held_back, disabled = accounts("op-1"), accounts("op-2"), accounts("op-3")
    admin = server.sign_in(accounts("admin-1", Role.ADMIN))
    with server.client(admin) as client:
        assert client.post("/api/v1/users/op-3/disable").status_code == 200
    for _ in range(5):
        _login(server, held_back, password="wrong password !!")
    answers = {
        "unknown": _login(server, Account("nobody", operator.password, (Role.OPERATOR,), None)),
        "wrong password": _login(server, operator, password="not the password at all"),
        "backed off": _login(server, held_back),  # the right password, from a source that must wait
        "disabled": _login(server, disabled),  # the right password of a disabled account
    }
    assert {name: (r.status_code, r.json()) for name, r in answers.items()} == {
        name: (401, answers["unknown"].json()) for name in answers
    }
    assert answers["unknown"].json()["error"]["code"] == "sign_in_failed"
    audit = [(action, record, details) for _, action, record, details in _audit(database)]
    assert ("user.sign_in_failed", "nobody", '{"reason":"unknown_user"}') in audit
    assert ("user.sign_in_failed", "op-1", '{"reason":"wrong_password"}') in audit
    assert ("user.backed_off", "op-2", '{"scope":"user_at_address","wait_s":15.0}') in audit
    assert ("user.sign_in_refused", "op-2", '{"reason":"backed_off","scope":"user_at_address"}') in audit
    assert ("user.sign_in_failed", "op-3", '{"reason":"disabled"}') in audit


def test_failures_make_their_source_wait_until_an_admin_clears_them(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    admin = server.sign_in(accounts("admin-1", Role.ADMIN))
    codes = [_login(server, operator, password="wrong password !!").json()["error"]["code"] for _ in range(5)]
    waiting = _login(server, operator)
    assert codes == ["sign_in_failed"] * 5
    assert waiting.status_code == 401
    with server.client(admin) as client:
        assert client.post("/api/v1/users/op-1/unlock").json()["locked_until"] is None
    assert _login(server, operator).status_code == 200
    actions = [action for _, action, record, _ in _audit(database) if record == "op-1"]
    assert actions[-4:] == ["user.backed_off", "user.sign_in_refused", "user.unlocked", "user.signed_in"]


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    session_token = server.sign_in(operator)
    with server.client(server.sign_in(accounts("admin-1", Role.ADMIN))) as admin:
        assert admin.post("/api/v1/users/op-1/disable").json()["disabled_at"] is not None
    with server.client(session_token) as client:
        assert client.get("/api/v1/units").status_code == 401
    assert _login(server, operator).status_code == 401
    assert _audit(database, "user.sign_in_failed")[-1][3] == '{"reason":"disabled"}'


def test_a_session_ends_when_idle_too_long(server: RunningServer, accounts: CreateAccount, database: Database) -> None:
    token = server.sign_in(accounts("op-1", Role.OPERATOR))
    with server.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        with database.engine.begin() as connection:
            connection.execute(
                text("UPDATE user_sessions SET last_used_at = :at"), {"at": utc_now() - timedelta(minutes=31)}
            )
        ended = client.get("/api/v1/auth/me")
    assert (ended.status_code, ended.json()["error"]["code"]) == (401, "not_signed_in")
    assert "30 minutes unused" in ended.json()["error"]["message"]


def test_a_session_ends_at_its_absolute_expiry_however_much_it_is_used(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    token = server.sign_in(accounts("op-1", Role.OPERATOR))
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE user_sessions SET expires_at = :at"), {"at": utc_now()})
    with server.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def test_the_browser_gets_an_httponly_strict_cookie_and_no_token(
    server: RunningServer, accounts: CreateAccount
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    response = _login(server, operator, delivery="cookie")
    cookie = response.headers["set-cookie"]
    assert response.json()["token"] is None
    assert cookie.startswith("vigil_session=")
    assert {"HttpOnly", "SameSite=strict", "Path=/"} <= {part.strip() for part in cookie.split(";")}
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is Secure
    with server.client() as page:
        page.cookies.set("vigil_session", response.cookies["vigil_session"])
        assert page.get("/api/v1/auth/me").json()["username"] == "op-1"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),
        ({"Origin": "http://evil.example"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1"}, 403),
        ({"Origin": "ORIGIN"}, 204),
        ({"Sec-Fetch-Site": "same-origin"}, 204),
    ],
)
def test_a_cookie_borne_request_that_changes_state_must_come_from_the_servers_own_origin(
    server: RunningServer, accounts: CreateAccount, headers: dict[str, str], status: int
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    cookie = _login(server, operator, delivery="cookie").cookies["vigil_session"]
    headers = {k: server.url if v == "ORIGIN" else v for k, v in headers.items()}
    with server.client() as page:
        page.cookies.set("vigil_session", cookie)
        response = page.post("/api/v1/auth/logout", headers=headers)
        still = page.get("/api/v1/auth/me").status_code
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "cross_site_request"
    assert still == (200 if status == 403 else 401)


def test_signing_in_from_another_site_is_refused(server: RunningServer, accounts: CreateAccount) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    with server.client() as client:
        body = {"username": "op-1", "password": operator.password}
        refused = client.post(LOGIN, json=body, headers={"Sec-Fetch-Site": "cross-site"})
        own = client.post(LOGIN, json=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert (refused.status_code, refused.json()["error"]["code"], own.status_code) == (403, "cross_site_request", 200)


def test_a_supervisor_whose_second_factor_is_gone_cannot_sign_in(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE users SET totp_sealed = NULL WHERE user_id = 'sup-1'"))
    assert _login(server, supervisor).status_code == 401
    assert _audit(database, "user.sign_in_failed")[-1][3] == '{"reason":"second_factor_not_set_up"}'


def test_an_operator_with_a_second_factor_set_up_must_use_it(server: RunningServer, accounts: CreateAccount) -> None:
    operator = accounts("op-1", Role.OPERATOR, second_factor=True)
    assert operator.totp_secret is not None
    assert _login(server, operator).status_code == 401
    assert _login(server, operator, code=pyotp.TOTP(operator.totp_secret).now()).status_code == 200


def test_a_password_hashed_with_old_parameters_is_rehashed_at_sign_in(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(operator.password)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE users SET password_hash = :h WHERE user_id = 'op-1'"), {"h": weak})
    assert _login(server, operator).status_code == 200
    with database.session() as session:
        stored = session.scalars(select(User.password_hash).where(User.user_id == "op-1")).one()
    assert stored != weak
    assert stored.startswith("$argon2id$")
    assert "m=65536,t=3" in stored
    assert _login(server, operator).status_code == 200
