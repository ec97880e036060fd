"""User administration: create, list, set roles, reset the second factor or password, unlock, disable.

Every change is audited in the same transaction (``user.created``, ``user.roles_changed`` …), with the acting
administrator (or ``system`` for the command line) as the actor. An administrator cannot change their own roles
or disable their own account: another administrator must (see :mod:`vigil.command.accounts.roles`). Nor can they
give themselves a new second factor as an administrator: anyone may replace their own second factor
(:func:`reset_own_second_factor`), but only by giving their password and current code again, so that a session
left open or stolen is not enough to take the account over. Giving a user a role that needs a second factor sets
one up at once, and the answer carries its provisioning URI, once. Secrets are stored sealed
(:mod:`vigil.command.accounts.sealing`).
"""

import re
from collections.abc import Collection
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.accounts import throttle
from vigil.command.accounts.models import Role, User, UserRole
from vigil.command.accounts.passwords import PasswordCheck, Passwords
from vigil.command.accounts.roles import needs_second_factor
from vigil.command.accounts.schemas import USERNAME_PATTERN, UserEnrolment, UserList, UserOut
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.sessions import revoke_user_sessions
from vigil.command.accounts.sign_in import Credentials, authenticate
from vigil.command.accounts.totp import new_secret, provisioning_uri
from vigil.command.audit.chain import ANONYMOUS_ACTOR, SYSTEM_ACTOR
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.command.errors import (
    InvalidAccount,
    OwnAccountRefused,
    ReauthenticationFailed,
    SignInFailed,
    UnknownUser,
    UserAlreadyExists,
)
from vigil.command.settings import AccountSettings

RESERVED_USERNAMES = frozenset({SYSTEM_ACTOR, ANONYMOUS_ACTOR})
"""Names the audit trail uses for actors that are not people."""


def create_user(
    *,
    session: Session,
    passwords: Passwords,
    sealer: SecretSealer,
    settings: AccountSettings,
    username: str,
    display_name: str,
    roles: Collection[Role],
    password: SecretStr,
    second_factor: bool,
    actor: str,
    address: str | None,
    now: datetime,
) -> UserEnrolment:
    """Create a user; with a role that needs one (or when asked), set up their second factor.

    Commits.

    Raises:
        InvalidAccount: the user name, display name, password or roles are not allowed (a weak password too).
        UserAlreadyExists: the name is taken.
        KeyFileError: the key that seals second-factor secrets cannot be read.
    """
    _check_username(username)
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 200:
        raise InvalidAccount("the display name must be 1 to 200 characters", field="display_name")
    granted = _role_set(roles)
    # Hashing takes a tenth of a second: do it before the transaction begins, so no lock is held meanwhile.
    password_hash = passwords.hash(password.get_secret_value(), personal=(username, display_name))
    if session.get(User, username) is not None:
        raise UserAlreadyExists(username=username)
    secret = new_secret() if second_factor or needs_second_factor(granted) else None
    user = User(
        user_id=username,
        display_name=display_name,
        password_hash=password_hash,
        totp_sealed=sealer.seal(secret, user_id=username) if secret is not None else None,
        created_at=now,
        created_by=actor,
        roles=[UserRole(role=role) for role in sorted(granted)],
    )
    session.add(user)
    session.flush()
    details = {"roles": sorted(granted), "second_factor": secret is not None}
    _audit(session, actor, "user.created", username, address, now, details)
    session.commit()
    return _enrolment(user, secret, settings)


def list_users(*, session: Session) -> UserList:
    """Every user, by name."""
    return UserList(users=[user_out(u) for u in session.scalars(select(User).order_by(User.user_id))])


def set_roles(
    *,
    session: Session,
    sealer: SecretSealer,
    settings: AccountSettings,
    username: str,
    roles: Collection[Role],
    actor: str,
    address: str | None,
    now: datetime,
) -> UserEnrolment:
    """Replace a user's roles; set up a second factor if the new roles need one and there is none.

    A user given a second factor this way is signed out everywhere: their sessions began without one. Commits.

    Raises:
        UnknownUser: no such user.
        InvalidAccount: no roles.
        OwnAccountRefused: an administrator changing their own roles.
    """
    granted = _role_set(roles)
    if actor == username:
        raise OwnAccountRefused(
            "you cannot change your own roles; another administrator must (so that nobody grants themselves access)",
            username=username,
        )
    user = _get(session, username)
    before = user.role_set()
    user.roles = [UserRole(role=role) for role in sorted(granted)]
    secret, ended = None, 0
    if needs_second_factor(granted) and user.totp_sealed is None:
        secret = new_secret()
        user.totp_sealed = sealer.seal(secret, user_id=username)
        user.totp_last_step = None
        ended = revoke_user_sessions(session=session, user_id=username, now=now)
    session.flush()
    details = {
        "before": sorted(before),
        "after": sorted(granted),
        "second_factor_set_up": secret is not None,
        "sessions_ended": ended,
    }
    _audit(session, actor, "user.roles_changed", username, address, now, details)
    session.commit()
    return _enrolment(user, secret, settings)


def reset_second_factor(
    *,
    session: Session,
    sealer: SecretSealer,
    settings: AccountSettings,
    username: str,
    actor: str,
    address: str | None,
    now: datetime,
) -> UserEnrolment:
    """Give another user a new second-factor secret (the old one stops working), and end their sessions.

    Commits.

    Raises:
        UnknownUser: no such user.
        OwnAccountRefused: an administrator resetting their own (they must give their password and code:
            :func:`reset_own_second_factor`).
    """
    if actor == username:
        raise OwnAccountRefused(
            "you cannot reset your own second factor as an administrator; replace it yourself with your password "
            "and current code (POST /api/v1/auth/second-factor), or ask another administrator if you lost it",
            username=username,
        )
    user = _get(session, username)
    secret = _replace_secret(sealer, user)
    ended = revoke_user_sessions(session=session, user_id=username, now=now)
    _audit(session, actor, "user.second_factor_reset", username, address, now, {"sessions_ended": ended})
    session.commit()
    return _enrolment(user, secret, settings)


def reset_own_second_factor(
    *,
    database: Database,
    passwords: Passwords,
    sealer: SecretSealer,
    settings: AccountSettings,
    username: str,
    password: SecretStr,
    code: str | None,
    address: str | None,
    now: datetime,
) -> UserEnrolment:
    """Give a signed-in user a new second factor once they have given their password and current code again.

    The check is a sign-in's, under the same throttle (a failure counts against this address and account), so
    a session alone cannot be used to guess the password. The old secret stops working and every session of the
    user ends, this one too: they sign in again with the new code. Commits.

    Args:
        database: the command centre's database.
        passwords: the password hasher.
        sealer: seals the new secret (and opens the old one).
        settings: throttling and second-factor settings.
        username: the signed-in user.
        password: their password, given again.
        code: their current code (needed when they have a second factor).
        address: the client's address.
        now: the time of the request.

    Raises:
        ReauthenticationFailed: the password or code is wrong, or there were too many failures from here.
    """

    def replace(session: Session, user: User, check: PasswordCheck) -> UserEnrolment:
        secret = _replace_secret(sealer, user)
        ended = revoke_user_sessions(session=session, user_id=user.user_id, now=now)
        _audit(session, user.user_id, "user.second_factor_reset", user.user_id, address, now, {"sessions_ended": ended})
        return _enrolment(user, secret, settings)

    try:
        return authenticate(
            database=database,
            passwords=passwords,
            sealer=sealer,
            settings=settings,
            credentials=Credentials(username=username, password=password, code=code, address=address),
            actor=username,
            action="user.reauthentication",
            then=replace,
            now=now,
        )
    except SignInFailed as exc:
        raise ReauthenticationFailed(username=username) from exc


def reset_password(
    *,
    session: Session,
    passwords: Passwords,
    username: str,
    password: SecretStr,
    actor: str,
    address: str | None,
    now: datetime,
) -> UserOut:
    """Set a user's password, and end their sessions.

    Commits.

    Raises:
        UnknownUser: no such user.
        InvalidAccount: the password is not allowed.
    """
    password_hash = passwords.hash(password.get_secret_value(), personal=(username,))
    user = _get(session, username)
    user.password_hash = password_hash
    ended = revoke_user_sessions(session=session, user_id=username, now=now)
    _audit(session, actor, "user.password_reset", username, address, now, {"sessions_ended": ended})
    session.commit()
    return user_out(user)


def unlock_user(*, session: Session, username: str, actor: str, address: str | None, now: datetime) -> UserOut:
    """Forget the failed sign-ins counted against a user, from every address: any wait they caused ends.

    Commits.

    Raises:
        UnknownUser: no such user.
    """
    user = _get(session, username)
    was_locked = throttle.clear_user(session, user_id=username, now=now)
    _audit(session, actor, "user.unlocked", username, address, now, {"was_locked": was_locked})
    session.commit()
    session.refresh(user)
    return user_out(user)


def disable_user(*, session: Session, username: str, actor: str, address: str | None, now: datetime) -> UserOut:
    """Disable a user for good: they cannot sign in, their sessions end, their name is never reused.

    Disabling twice keeps the first time. Commits.

    Raises:
        UnknownUser: no such user.
        OwnAccountRefused: an administrator disabling themselves.
    """
    if actor == username:
        raise OwnAccountRefused("you cannot disable your own account; another administrator must", username=username)
    user = _get(session, username)
    if user.disabled_at is None:
        user.disabled_at = now
        ended = revoke_user_sessions(session=session, user_id=username, now=now)
        _audit(session, actor, "user.disabled", username, address, now, {"sessions_ended": ended})
        session.commit()
    return user_out(user)


def user_out(user: User) -> UserOut:
    """The API shape of a user."""
    return UserOut(
        username=user.user_id,
        display_name=user.display_name,
        roles=sorted(user.role_set()),
        second_factor=user.totp_sealed is not None,
        created_at=user.created_at,
        created_by=user.created_by,
        disabled_at=user.disabled_at,
        locked_until=_guarded_until(user),
        last_signed_in_at=user.last_signed_in_at,
    )


def _guarded_until(user: User) -> datetime | None:
    counter = user.account_throttle
    return counter.blocked_until if counter is not None else None


def _replace_secret(sealer: SecretSealer, user: User) -> str:
    """A new secret for the user, stored sealed; codes of the old one stop working."""
    secret = new_secret()
    user.totp_sealed = sealer.seal(secret, user_id=user.user_id)
    user.totp_last_step = None
    return secret


def _enrolment(user: User, secret: str | None, settings: AccountSettings) -> UserEnrolment:
    uri = None
    if secret is not None:
        uri = SecretStr(provisioning_uri(secret=secret, username=user.user_id, issuer=settings.totp_issuer))
    return UserEnrolment(user=user_out(user), totp_provisioning_uri=uri)


def _get(session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise UnknownUser(username=username)
    return user


def _check_username(username: str) -> None:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidAccount(
            f"{username!r} is not a user name: use 2 to 64 lower-case letters, digits, '.', '_' or '-', starting "
            "with a letter or digit",
            field="username",
        )
    if username in RESERVED_USERNAMES:
        raise InvalidAccount(f"{username!r} is reserved for the audit trail; choose another name", field="username")


def _role_set(roles: Collection[Role]) -> frozenset[Role]:
    if not roles:
        raise InvalidAccount("give the user at least one role", field="roles")
    return frozenset(Role(role) for role in roles)


def _audit(
    session: Session,
    actor: str,
    action: str,
    username: str,
    address: str | None,
    now: datetime,
    details: dict[str, object],
) -> None:
    record_action(
        session=session,
        actor=actor,
        action=action,
        record_type="user",
        record_id=username,
        address=address,
        details=details,
        now=now,
    )
