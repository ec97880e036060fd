"""``vigil users`` as the machine's operator runs it on a fresh install, every change audited as ``system``."""

import json
from pathlib import Path

import pyotp
from sqlalchemy import select
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_first_admin_is_created_with_a_second_factor_shown_once(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    password = tmp_path / "password"
    password.write_text("a long enough passphrase\n")
    users = ["users", "create", "--db", database_url, "--data-dir", str(tmp_path), "--password-file", str(password)]
    code, out, err = _run(*users, "--username", "admin-1", "--display-name", "A. Admin", "--role", "admin")
    assert code == 0
    assert "shown once" in err
    uri = pyotp.parse_uri(out.strip())
    assert (uri.name, uri.issuer) == ("admin-1", "Vigil")

    code, out, _ = _run(*users, "--username", "op-1", "--display-name", "O. Perator", "--role", "operator", "--json")
    created = json.loads(out)
    assert (code, created["totp_provisioning_uri"], created["user"]["roles"]) == (0, None, ["operator"])

    code, _, err = _run(*users, "--username", "op-1", "--display-name", "Again", "--role", "operator")
    assert (code, err.strip()) == (1, "error: user name 'op-1' is taken; user names are never reused, choose another")

    password.write_text("short\n")
    code, _, err = _run(*users, "--username", "op-2", "--display-name", "O", "--role", "operator")
    assert (code, err.strip()) == (
        1,
        "error: the password has 5 characters; use at least 12 (a passphrase of several words is easiest to remember)",
    )

    with database.session() as session:
        entries = [(e.actor, e.action, e.record_id) for e in session.scalars(select(AuditEntry))]
    assert entries == [("system", "user.created", "admin-1"), ("system", "user.created", "op-1")]


def test_users_are_listed_given_roles_reset_unlocked_and_disabled(database_url: str, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("a long enough passphrase\n")
    db = ["--db", database_url, "--data-dir", str(tmp_path)]
    assert (
        _run(
            "users",
            "create",
            *db,
            "--password-file",
            str(password),
            "--username",
            "op-1",
            "--display-name",
            "Op",
            "--role",
            "operator",
        )[0]
        == 0
    )

    code, out, _ = _run("users", "set-roles", "op-1", "--role", "operator", "--role", "supervisor", *db, "--json")
    promoted = json.loads(out)
    assert (code, promoted["user"]["roles"], promoted["user"]["second_factor"]) == (0, ["operator", "supervisor"], True)
    assert promoted["totp_provisioning_uri"].startswith("otpauth://totp/")

    code, out, _ = _run("users", "reset-totp", "op-1", *db)
    assert (code, out.startswith("otpauth://totp/"), out.strip() != promoted["totp_provisioning_uri"]) == (
        0,
        True,
        True,
    )
    assert _run("users", "unlock", "op-1", *db) == (0, "user op-1 unlocked\n", "")
    code, out, _ = _run("users", "disable", "op-1", *db, "--json")
    assert (code, json.loads(out)["disabled_at"] is not None) == (0, True)

    code, out, _ = _run("users", "list", *db, "--json")
    (user,) = json.loads(out)["users"]
    assert (user["username"], user["roles"], user["disabled_at"] is not None) == (
        "op-1",
        ["operator", "supervisor"],
        True,
    )
    code, out, _ = _run("users", "list", *db)
    assert (code, "op-1" in out, "supervisor" in out) == (0, True, True)
    assert (
        _run("users", "disable", "nobody", *db)[2].strip()
        == "error: no user 'nobody'; `vigil users list` shows the users"
    )
