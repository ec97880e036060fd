"""``vigil users``: the people who sign in to the command centre (create, list, set roles, reset, unlock, disable).

These commands act on the database directly, as the machine's operator: the audit trail records them with the
actor ``system``. They are how the first administrator is made on a fresh install; after that, administrators
can do the same through ``/api/v1/users``. Second-factor secrets are sealed under the server's key: give these
commands the same ``--data-dir`` (or ``VIGIL_WATCHLISTS__KEY_WRAP_FILE``) as ``vigil serve``.
"""

import getpass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import JsonOption
from vigil.cli.serve import DataDirOption, DbOption, command_session, command_settings
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import MAX_PASSWORD_LENGTH, Passwords
from vigil.command.accounts.schemas import UserEnrolment, UserOut
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.service import (
    create_user,
    disable_user,
    list_users,
    reset_second_factor,
    set_roles,
    unlock_user,
)
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.errors import InvalidAccount
from vigil.events import utc_now

UsernameArgument = Annotated[str, typer.Argument(help="The user's name.")]
RoleOption = Annotated[
    list[Role], typer.Option("--role", help="A role (repeat for several): operator, supervisor, admin, auditor.")
]


def create_users_app() -> typer.Typer:
    """The ``vigil users`` group."""
    users = typer.Typer(help="People who sign in to the command centre, and their roles.", no_args_is_help=True)
    users.command("create")(exits_on_vigil_error(create))
    users.command("list")(exits_on_vigil_error(list_all))
    users.command("set-roles")(exits_on_vigil_error(change_roles))
    users.command("reset-totp")(exits_on_vigil_error(reset_totp))
    users.command("unlock")(exits_on_vigil_error(unlock))
    users.command("disable")(exits_on_vigil_error(disable))
    return users


def create(
    username: Annotated[str, typer.Option("--username", help="2–64 of a–z, 0–9, . _ - (fixed, never reused).")],
    display_name: Annotated[str, typer.Option("--display-name", help="The name people read.")],
    role: RoleOption,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="Read the first password from this file's first line (else: prompt)."),
    ] = None,
    second_factor: Annotated[
        bool, typer.Option("--second-factor", help="Set up a second factor even when the roles do not need one.")
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a user. Supervisors and admins get a second factor: its provisioning URI is printed this once."""
    password = _read_password(password_file) if password_file is not None else _prompt_password()
    settings = command_settings(db=db, data_dir=data_dir)
    passwords = Passwords(
        min_length=settings.accounts.min_password_length, min_score=settings.accounts.min_password_score
    )
    with command_session(settings) as session:
        enrolment = create_user(
            session=session,
            passwords=passwords,
            sealer=SecretSealer.for_settings(settings),
            settings=settings.accounts,
            username=username,
            display_name=display_name,
            roles=role,
            password=password,
            second_factor=second_factor,
            actor=SYSTEM_ACTOR,
            address=None,
            now=utc_now(),
        )
    _report_enrolment(enrolment, json_output, f"user {username} created with roles {', '.join(role)}")


def list_all(db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """List the users, disabled ones included."""
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        users = list_users(session=session)
    if json_output:
        typer.echo(users.model_dump_json(indent=2))
        return
    table = Table("user", "name", "roles", "2nd factor", "last sign-in", "own addresses only until", "disabled")
    for user in users.users:
        table.add_row(
            user.username,
            user.display_name,
            ", ".join(user.roles),
            "yes" if user.second_factor else "no",
            f"{user.last_signed_in_at:%Y-%m-%d %H:%M}" if user.last_signed_in_at else "never",
            f"{user.locked_until:%Y-%m-%d %H:%M}" if user.locked_until else "",
            f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "",
        )
    Console().print(table)


def change_roles(
    username: UsernameArgument,
    role: RoleOption,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace a user's roles; a new role that needs a second factor sets one up (its URI printed once)."""
    settings = command_settings(db=db, data_dir=data_dir)
    with command_session(settings) as session:
        enrolment = set_roles(
            session=session,
            sealer=SecretSealer.for_settings(settings),
            settings=settings.accounts,
            username=username,
            roles=role,
            actor=SYSTEM_ACTOR,
            address=None,
            now=utc_now(),
        )
    _report_enrolment(enrolment, json_output, f"user {username} now has roles {', '.join(role)}")


def reset_totp(
    username: UsernameArgument, db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False
) -> None:
    """Give a user a new second factor (the old one stops working, their sessions end); prints its URI once."""
    settings = command_settings(db=db, data_dir=data_dir)
    with command_session(settings) as session:
        enrolment = reset_second_factor(
            session=session,
            sealer=SecretSealer.for_settings(settings),
            settings=settings.accounts,
            username=username,
            actor=SYSTEM_ACTOR,
            address=None,
            now=utc_now(),
        )
    _report_enrolment(enrolment, json_output, f"user {username} has a new second factor")


def unlock(
    username: UsernameArgument, db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False
) -> None:
    """Forget the failed sign-ins counted against a user from every address: any wait they caused ends."""
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        user = unlock_user(session=session, username=username, actor=SYSTEM_ACTOR, address=None, now=utc_now())
    _report_user(user, json_output, f"user {username} unlocked")


def disable(
    username: UsernameArgument, db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False
) -> None:
    """Disable a user for good: they cannot sign in, their sessions end, their name is never reused."""
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        user = disable_user(session=session, username=username, actor=SYSTEM_ACTOR, address=None, now=utc_now())
    _report_user(user, json_output, f"user {username} disabled")


def _report_enrolment(enrolment: UserEnrolment, json_output: bool, summary: str) -> None:
    if json_output:
        typer.echo(enrolment.model_dump_json(indent=2))
        return
    typer.echo(summary, err=True)
    if enrolment.totp_provisioning_uri is not None:
        typer.echo(
            "second factor: give this URI (or a QR code of it) to the user alone, for their authenticator app; "
            "it is shown once:",
            err=True,
        )
        typer.echo(enrolment.totp_provisioning_uri.get_secret_value())


def _report_user(user: UserOut, json_output: bool, summary: str) -> None:
    if json_output:
        typer.echo(user.model_dump_json(indent=2))
        return
    typer.echo(summary)


def _read_password(path: Path) -> SecretStr:
    try:
        with path.open("rb") as file:
            raw = file.read(4 * MAX_PASSWORD_LENGTH + 2)
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidAccount(f"cannot read the password file {path} ({exc})", field="password") from exc
    return SecretStr(lines[0] if lines else "")


def _prompt_password() -> SecretStr:
    # getpass writes its prompt to the terminal (or stderr), so --json output stays one document.
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidAccount("the two passwords differ; nothing was created", field="password")
    return SecretStr(first)
