"""User administration over the API: admins create users, set roles, reset factors and passwords, disable."""

import pyotp
import pytest
from sqlalchemy import select

from tests.command.conftest import CreateAccount, RunningServer
from vigil.command.accounts.models import Role
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database

NEW_USER = {"username": "sup-2", "display_name": "S. Two", "roles": ["supervisor"], "password": "a long passphrase"}


@pytest.fixture
def admin(server: RunningServer, accounts: CreateAccount) -> str:
    return server.sign_in(accounts("admin-1", Role.ADMIN))


def test_an_admin_creates_a_supervisor_who_signs_in_with_the_second_factor_given_once(
    server: RunningServer, admin: str, database: Database
) -> None:
    with server.client(admin) as client:
        created = client.post("/api/v1/users", json=NEW_USER)
        listed = client.get("/api/v1/users").json()["users"]
    assert created.status_code == 201
    body = created.json()
    assert body["user"]["roles"] == ["supervisor"]
    assert body["user"]["second_factor"] is True
    secret = pyotp.parse_uri(body["totp_provisioning_uri"]).secret
    assert secret not in str(listed)
    assert {u["username"] for u in listed} == {"admin-1", "sup-2"}
    login = {"username": "sup-2", "password": NEW_USER["password"], "code": pyotp.TOTP(secret).now()}
    with server.client() as client:
        assert client.post("/api/v1/auth/login", json=login).status_code == 200
    with database.session() as session:
        created_entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.created")).all()[-1]
    assert (created_entry.actor, created_entry.record_id, created_entry.address) == ("admin-1", "sup-2", "127.0.0.1")
    assert created_entry.details == '{"roles":["supervisor"],"second_factor":true}'


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"username": "Bad Name"}, 422, "invalid_request"),
        ({"username": "system"}, 422, "invalid_account"),
        ({"roles": []}, 422, "invalid_request"),
        ({"roles": ["chief"]}, 422, "invalid_request"),
        ({"password": "short"}, 422, "invalid_account"),
        ({"password": "password1234"}, 422, "invalid_account"),
        ({"username": "olivia-operator", "password": "olivia-operator!"}, 422, "invalid_account"),
        ({"username": "admin-1"}, 409, "user_already_exists"),
    ],
)
def test_a_user_that_is_not_allowed_is_refused_with_the_reason(
    server: RunningServer, admin: str, change: dict[str, object], status: int, code: str
) -> None:
    with server.client(admin) as client:
        response = client.post("/api/v1/users", json={**NEW_USER, **change})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_an_admin_cannot_change_their_own_roles_or_disable_themselves(server: RunningServer, admin: str) -> None:
    with server.client(admin) as client:
        roles = client.put("/api/v1/users/admin-1/roles", json={"roles": ["admin", "operator"]})
        disable = client.post("/api/v1/users/admin-1/disable")
    assert [(r.status_code, r.json()["error"]["code"]) for r in (roles, disable)] == [
        (403, "own_account_refused"),
        (403, "own_account_refused"),
    ]


def test_roles_change_at_once_and_a_role_that_needs_it_brings_a_second_factor(
    server: RunningServer, admin: str, accounts: CreateAccount
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    token = server.sign_in(operator)
    with server.client(admin) as client:
        moved = client.put("/api/v1/users/op-1/roles", json={"roles": ["auditor"]}).json()
    with server.client(token) as client:
        assert client.get("/api/v1/units").status_code == 403  # the session's roles are read at every request
        assert client.get("/api/v1/audit").status_code == 200
    with server.client(admin) as client:
        promoted = client.put("/api/v1/users/op-1/roles", json={"roles": ["supervisor"]}).json()
    with server.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 401  # its session began without a second factor
    assert moved["totp_provisioning_uri"] is None
    assert promoted["totp_provisioning_uri"].startswith("otpauth://totp/Vigil:op-1?secret=")


def test_resetting_the_second_factor_or_password_ends_the_users_sessions(
    server: RunningServer, admin: str, accounts: CreateAccount
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)
    first, second = server.sign_in(supervisor), server.sign_in(supervisor)
    with server.client(admin) as client:
        reset = client.post("/api/v1/users/sup-1/second-factor").json()
        new_password = client.post("/api/v1/users/sup-1/password", json={"password": "another long phrase"})
        missing = client.post("/api/v1/users/nobody/unlock")
    assert pyotp.parse_uri(reset["totp_provisioning_uri"]).secret != supervisor.totp_secret
    assert new_password.status_code == 200
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "unknown_user")
    for token in (first, second):
        with server.client(token) as client:
            assert client.get("/api/v1/auth/me").status_code == 401


def test_an_admin_replaces_their_own_second_factor_only_with_their_password_and_code(
    server: RunningServer, accounts: CreateAccount, database: Database
) -> None:
    account = accounts("admin-1", Role.ADMIN)
    old_secret = account.totp_secret
    assert old_secret is not None
    token = server.sign_in(account)
    own = "/api/v1/auth/second-factor"
    with server.client(token) as client:
        as_admin = client.post("/api/v1/users/admin-1/second-factor")
        wrong_password = client.post(own, json={"password": "not my password at all", "code": "000000"})
        no_code = client.post(own, json={"password": account.password})
        still_signed_in = client.get("/api/v1/auth/me").status_code
        replaced = client.post(own, json={"password": account.password, "code": account.code()})
        after = client.get("/api/v1/auth/me").status_code
    assert (as_admin.status_code, as_admin.json()["error"]["code"]) == (403, "own_account_refused")
    assert [(r.status_code, r.json()["error"]["code"]) for r in (wrong_password, no_code)] == [
        (403, "reauthentication_failed"),
        (403, "reauthentication_failed"),
    ]
    assert still_signed_in == 200  # a failed re-authentication does not sign out, nor change anything
    assert (replaced.status_code, replaced.headers["cache-control"], after) == (200, "no-store", 401)
    new_secret = pyotp.parse_uri(replaced.json()["totp_provisioning_uri"]).secret
    assert new_secret != old_secret
    with server.client() as client:
        body = {"username": "admin-1", "password": account.password, "code": pyotp.TOTP(old_secret).now()}
        assert client.post("/api/v1/auth/login", json=body).status_code == 401
    account.totp_secret, account.last_step = new_secret, None
    assert server.sign_in(account)
    with database.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.record_id == "admin-1")).all()
    assert [(e.actor, e.action, e.details) for e in entries if "reauth" in e.action or "reset" in e.action] == [
        ("admin-1", "user.reauthentication_failed", '{"reason":"wrong_password"}'),
        ("admin-1", "user.reauthentication_failed", '{"reason":"code_missing"}'),
        ("admin-1", "user.second_factor_reset", '{"sessions_ended":1}'),
    ]
