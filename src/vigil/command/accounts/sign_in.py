"""Signing in: password, second factor, lock-out, and a new session; every outcome audited.

The password is checked outside any transaction (argon2 takes a tenth of a second, and on SQLite a transaction
holds the database's write lock). The account is then read again under a row lock: the lock-out and the last
accepted second-factor step are decided there, so that parallel attempts cannot slip past the limit or use one
code twice.

Every failure looks the same to the client (:class:`SignInFailed`): an unknown name, a wrong password, a wrong,
missing or reused code, a disabled account, or a role that needs a second factor not set up. The audit trail
says which (``user.sign_in_failed`` with ``reason``). Only a lock-out is told as such (:class:`AccountLocked`), so
the person knows to wait or call an administrator. Failures in a row are counted per account; at
``max_failed_sign_ins`` the account refuses every sign-in for ``lockout_s`` (``user.locked_out``).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.orm import Session

from vigil.command.accounts.models import User
from vigil.command.accounts.passwords import PasswordCheck, Passwords
from vigil.command.accounts.roles import needs_second_factor
from vigil.command.accounts.schemas import USERNAME_PATTERN, CurrentUser
from vigil.command.accounts.sessions import open_session
from vigil.command.accounts.totp import accepted_step
from vigil.command.audit.chain import ANONYMOUS_ACTOR
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.command.errors import AccountLocked, SignInFailed
from vigil.command.settings import AccountSettings


@dataclass(frozen=True)
class SignInResult:
    """A new session: its token (for the cookie or the bearer), whose it is, and when it ends."""

    token: str
    user: CurrentUser
    expires_at: datetime


def sign_in(
    *,
    database: Database,
    passwords: Passwords,
    settings: AccountSettings,
    username: str,
    password: SecretStr,
    code: str | None,
    address: str | None,
    now: datetime,
) -> SignInResult:
    """Check a user's password and code, and open a session.

    Args:
        database: the command centre's database (two short transactions are used).
        passwords: the password hasher.
        settings: lock-out, session and second-factor settings.
        username: the name given (letter case and surrounding spaces are ignored).
        password: the password given.
        code: the second-factor code given, if any.
        address: the client's address, for the audit trail.
        now: the time of the attempt.

    Raises:
        SignInFailed: anything wrong (the audit trail records what).
        AccountLocked: the account is locked after repeated failures.
    """
    username = username.strip().lower()
    with database.session() as session:
        found = session.get(User, username)
        stored_hash = found.password_hash if found is not None else None
        locked_until = found.locked_until if found is not None else None
    if stored_hash is None:
        passwords.check_unknown(password.get_secret_value())
        with database.session() as session:
            known_form = re.fullmatch(USERNAME_PATTERN, username) is not None
            _audit_failure(session, username if known_form else None, "unknown_user", address, now)
            session.commit()
        raise SignInFailed(username=username)
    if locked_until is not None and locked_until > now:
        _refuse_locked(database, username, locked_until, address, now)
    check = passwords.check(password.get_secret_value(), stored_hash)
    with database.session() as session:
        user = session.get(User, username, with_for_update=True, populate_existing=True)
        if user is None:  # deleted meanwhile: users are never deleted, but fail safe
            raise SignInFailed(username=username)
        if user.locked_until is not None and user.locked_until > now:
            session.rollback()
            _refuse_locked(database, username, user.locked_until, address, now)
        reason = _failure(user, check, code, settings, now)
        if reason is not None:
            _count_failure(session, user, reason, settings, address, now)
            session.commit()
            if user.locked_until is not None and user.locked_until > now:
                raise AccountLocked(username=username, locked_until=user.locked_until)
            raise SignInFailed(username=username)
        user.failed_sign_ins = 0
        user.locked_until = None
        user.last_signed_in_at = now
        if check.new_hash is not None:
            user.password_hash = check.new_hash
        opened = open_session(session=session, user_id=username, address=address, settings=settings, now=now)
        record_action(
            session=session,
            actor=username,
            action="user.signed_in",
            record_type="user",
            record_id=username,
            address=address,
            details={"second_factor": user.totp_secret is not None, "rehashed": check.new_hash is not None},
            now=now,
        )
        session.commit()
        return SignInResult(
            token=opened.token,
            user=CurrentUser(username=username, display_name=user.display_name, roles=sorted(user.role_set())),
            expires_at=opened.record.expires_at,
        )


def _failure(
    user: User, check: PasswordCheck, code: str | None, settings: AccountSettings, now: datetime
) -> str | None:
    """Why this attempt fails (the audit trail's reason), or None when it succeeds; accepts the code if it does."""
    if user.disabled_at is not None:
        return "disabled"
    if not check.matches:
        return "wrong_password"
    if user.totp_secret is None:
        return "second_factor_not_set_up" if needs_second_factor(user.role_set()) else None
    if not code:
        return "code_missing"
    step = accepted_step(
        secret=user.totp_secret,
        code=code,
        now=now,
        window_steps=settings.totp_window_steps,
        last_step=user.totp_last_step,
    )
    if step is None:
        return "wrong_code"
    user.totp_last_step = step
    return None


def _count_failure(
    session: Session, user: User, reason: str, settings: AccountSettings, address: str | None, now: datetime
) -> None:
    _audit_failure(session, user.user_id, reason, address, now)
    if user.disabled_at is not None:
        return
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= settings.max_failed_sign_ins:
        user.locked_until = now + timedelta(seconds=settings.lockout_s)
        user.failed_sign_ins = 0
        record_action(
            session=session,
            actor=ANONYMOUS_ACTOR,
            action="user.locked_out",
            record_type="user",
            record_id=user.user_id,
            address=address,
            details={"failures": settings.max_failed_sign_ins, "lockout_s": settings.lockout_s},
            now=now,
        )


def _refuse_locked(
    database: Database, username: str, locked_until: datetime, address: str | None, now: datetime
) -> None:
    with database.session() as session:
        record_action(
            session=session,
            actor=ANONYMOUS_ACTOR,
            action="user.sign_in_refused",
            record_type="user",
            record_id=username,
            address=address,
            details={"reason": "locked"},
            now=now,
        )
        session.commit()
    raise AccountLocked(username=username, locked_until=locked_until)


def _audit_failure(session: Session, username: str | None, reason: str, address: str | None, now: datetime) -> None:
    record_action(
        session=session,
        actor=ANONYMOUS_ACTOR,
        action="user.sign_in_failed",
        record_type="user",
        record_id=username,
        address=address,
        details={"reason": reason},
        now=now,
    )
