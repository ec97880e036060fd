"""Signing in: password, second factor, per-source throttling, and a new session; every outcome audited.

The password is checked outside any transaction (argon2 takes a tenth of a second, and on SQLite a transaction
holds the database's write lock). The account and its counters are then read again under row locks: the
throttle (:mod:`vigil.command.accounts.throttle`) and the last accepted second-factor step are decided there, so
that parallel attempts cannot slip past a limit or use one code twice.

Every failure looks the same to the client, and costs the same: an unknown name, a wrong password, a wrong,
missing or reused code, a disabled account, a role that needs a second factor not set up, or a source that must
wait after too many failures all answer :class:`SignInFailed`, and each runs one password hash (a dummy one when
there is no user, or when the source must wait), so neither the answer nor its time tells which names exist. The
audit trail says which (``user.sign_in_failed`` with ``reason``, ``user.sign_in_refused`` with the counter that
refused, ``user.backed_off`` when a failure takes a counter past its limit).

:func:`authenticate` is the same check for a signed-in user asked for their password again before a sensitive
change (:func:`vigil.command.accounts.service.reset_own_second_factor`).
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy.orm import Session

from vigil.command.accounts import throttle
from vigil.command.accounts.models import User
from vigil.command.accounts.passwords import PasswordCheck, Passwords
from vigil.command.accounts.roles import needs_second_factor
from vigil.command.accounts.schemas import USERNAME_PATTERN, CurrentUser
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.sessions import open_session
from vigil.command.accounts.totp import accepted_step
from vigil.command.audit.chain import ANONYMOUS_ACTOR
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.command.errors import SecondFactorUnreadable, SignInFailed
from vigil.command.settings import AccountSettings
from vigil.watchlist.keys import KeyFileError

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class SignInResult:
    """A new session: its token (for the cookie or the bearer), whose it is, and when it ends."""

    token: str
    user: CurrentUser
    expires_at: datetime


@dataclass(frozen=True)
class Credentials:
    """What a person gave to prove who they are, and from where.

    Attributes:
        username: the name given (letter case and surrounding spaces are ignored).
        password: the password given.
        code: the second-factor code given, if any.
        address: the client's address (None when the server could not tell).
    """

    username: str
    password: SecretStr
    code: str | None
    address: str | None


def sign_in(
    *,
    database: Database,
    passwords: Passwords,
    sealer: SecretSealer,
    settings: AccountSettings,
    credentials: Credentials,
    now: datetime,
) -> SignInResult:
    """Check a user's password and code, and open a session.

    Args:
        database: the command centre's database (two short transactions are used).
        passwords: the password hasher.
        sealer: opens the user's second-factor secret.
        settings: throttling, session and second-factor settings.
        credentials: what the person gave.
        now: the time of the attempt.

    Raises:
        SignInFailed: anything wrong, or too many failures from this source (the audit trail records which).
    """

    def open_new_session(session: Session, user: User, check: PasswordCheck) -> SignInResult:
        user.last_signed_in_at = now
        opened = open_session(
            session=session, user_id=user.user_id, address=credentials.address, settings=settings, now=now
        )
        record_action(
            session=session,
            actor=user.user_id,
            action="user.signed_in",
            record_type="user",
            record_id=user.user_id,
            address=credentials.address,
            details={"second_factor": user.totp_sealed is not None, "rehashed": check.new_hash is not None},
            now=now,
        )
        return SignInResult(
            token=opened.token,
            user=CurrentUser(username=user.user_id, display_name=user.display_name, roles=sorted(user.role_set())),
            expires_at=opened.record.expires_at,
        )

    return authenticate(
        database=database,
        passwords=passwords,
        sealer=sealer,
        settings=settings,
        credentials=credentials,
        actor=ANONYMOUS_ACTOR,
        action="user.sign_in",
        then=open_new_session,
        now=now,
    )


def authenticate(
    *,
    database: Database,
    passwords: Passwords,
    sealer: SecretSealer,
    settings: AccountSettings,
    credentials: Credentials,
    actor: str,
    action: str,
    then: Callable[[Session, User, PasswordCheck], T],
    now: datetime,
) -> T:
    """Check a user's password and code under the throttle; on success run ``then`` in the same transaction.

    Args:
        database: the command centre's database.
        passwords: the password hasher.
        sealer: opens the user's second-factor secret.
        settings: throttling and second-factor settings.
        credentials: what the person gave.
        actor: who the audit trail names for a failure: ``anonymous`` signing in, the user when signed in.
        action: the audit trail's name for the attempt: failures are ``<action>_failed``, refusals
            ``<action>_refused``.
        then: what success does (given the locked user row and the password check); its result is returned, and
            the transaction commits after it.
        now: the time of the attempt.

    Raises:
        SignInFailed: anything wrong, or too many failures from this source.
    """
    username = credentials.username.strip().lower()
    address = credentials.address or throttle.UNKNOWN_ADDRESS
    password = credentials.password.get_secret_value()
    with database.read_session() as session:
        found = session.get(User, username)
        user_id = found.user_id if found is not None else None
        stored_hash = found.password_hash if found is not None else None
        waiting = throttle.refusal(session, address=address, user_id=user_id, settings=settings, now=now, lock=False)
    if stored_hash is None or waiting is not None:
        # The same work as a real check, so that the time of the answer tells nothing.
        passwords.check_unknown(password)
        check = PasswordCheck(matches=False)
    else:
        check = passwords.check(password, stored_hash)
    with database.session() as session:
        user = session.get(User, username, with_for_update=True, populate_existing=True) if user_id else None
        if user is None:
            name = username if re.fullmatch(USERNAME_PATTERN, username) else None
            # Read again under lock, so that parallel attempts cannot all slip under the limit.
            refused = waiting or throttle.refusal(
                session, address=address, user_id=None, settings=settings, now=now, lock=True
            )
            if refused is not None:
                _audit(session, actor, f"{action}_refused", name, credentials, refused, now)
            else:
                _audit(session, actor, f"{action}_failed", name, credentials, "unknown_user", now)
                _count_failure(session, actor, address, None, credentials, settings, now)
            session.commit()
            raise SignInFailed()
        refused = waiting or throttle.refusal(
            session, address=address, user_id=username, settings=settings, now=now, lock=True
        )
        if refused is not None:
            _audit(session, actor, f"{action}_refused", username, credentials, refused, now)
            session.commit()
            raise SignInFailed()
        reason = _failure(user, check, credentials.code, sealer, settings, now)
        if reason is not None:
            _audit(session, actor, f"{action}_failed", username, credentials, reason, now)
            _count_failure(session, actor, address, username, credentials, settings, now)
            session.commit()
            raise SignInFailed()
        throttle.record_success(session, address=address, user_id=username)
        if check.new_hash is not None:
            user.password_hash = check.new_hash
        result = then(session, user, check)
        session.commit()
        return result


def _failure(
    user: User,
    check: PasswordCheck,
    code: str | None,
    sealer: SecretSealer,
    settings: AccountSettings,
    now: datetime,
) -> str | None:
    """Why this attempt fails (the audit trail's reason), or None when it succeeds; accepts the code if it does."""
    if user.disabled_at is not None:
        return "disabled"
    if not check.matches:
        return "wrong_password"
    if user.totp_sealed is None:
        return "second_factor_not_set_up" if needs_second_factor(user.role_set()) else None
    if not code:
        return "code_missing"
    try:
        secret = sealer.open(user.totp_sealed, user_id=user.user_id)
    except (SecondFactorUnreadable, KeyFileError) as exc:
        # The server's own fault (another key, a missing key file): said loudly in the log, not to the client.
        _log.error("user.second_factor_unreadable", extra={"user_id": user.user_id, "error": str(exc)})
        return "second_factor_unreadable"
    step = accepted_step(
        secret=secret, code=code, now=now, window_steps=settings.totp_window_steps, last_step=user.totp_last_step
    )
    if step is None:
        return "wrong_code"
    user.totp_last_step = step
    return None


def _count_failure(
    session: Session,
    actor: str,
    address: str,
    user_id: str | None,
    credentials: Credentials,
    settings: AccountSettings,
    now: datetime,
) -> None:
    for blocked in throttle.record_failure(session, address=address, user_id=user_id, settings=settings, now=now):
        record_action(
            session=session,
            actor=actor,
            action="user.backed_off",
            record_type="user",
            record_id=None if blocked.scope == "address" else user_id,
            address=credentials.address,
            details={"scope": blocked.scope, "wait_s": round((blocked.until - now).total_seconds(), 1)},
            now=now,
        )


def _audit(
    session: Session,
    actor: str,
    action: str,
    username: str | None,
    credentials: Credentials,
    reason: "str | throttle.Refusal",
    now: datetime,
) -> None:
    if isinstance(reason, throttle.Refusal):
        details: dict[str, object] = {"reason": "backed_off", "scope": reason.scope}
    else:
        details = {"reason": reason}
    record_action(
        session=session,
        actor=actor,
        action=action,
        record_type="user",
        record_id=username,
        address=credentials.address,
        details=details,
        now=now,
    )
