"""Server-side sessions: a random token handed to the client once, stored only as its SHA-256.

A token is 32 random bytes (URL-safe base64): with full entropy a fast hash is enough, and a stolen database
yields no usable token. A session ends at its absolute expiry (``session_absolute_s`` after sign-in), after
``session_idle_s`` unused, when its user signs out, or when the user is disabled. The browser gets the token as an
HttpOnly cookie; API clients send it as ``Authorization: Bearer``.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from vigil.command.accounts.models import User, UserSession
from vigil.command.errors import NotSignedIn
from vigil.command.settings import AccountSettings

_TOKEN_BYTES = 32


@dataclass(frozen=True)
class OpenedSession:
    """A new session's token (to hand to the client, never stored) and its row."""

    token: str
    record: UserSession


def open_session(
    *, session: Session, user_id: str, address: str | None, settings: AccountSettings, now: datetime
) -> OpenedSession:
    """Start a session for a user. The caller commits."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    record = UserSession(
        token_sha256=token_sha256(token),
        user_id=user_id,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_s),
        address=address,
    )
    session.add(record)
    return OpenedSession(token=token, record=record)


def authenticate_session(
    *, session: Session, token: str, settings: AccountSettings, now: datetime, touch: bool = True
) -> User:
    """The user whose live session a token belongs to; with ``touch``, the session counts as used now.

    The caller commits (the touch).

    Raises:
        NotSignedIn: no such session, or it was signed out, has expired, or its user is disabled.
    """
    record = session.get(UserSession, token_sha256(token))
    if record is None or record.revoked_at is not None:
        raise NotSignedIn("you are not signed in (or you signed out); sign in again")
    idle_until = record.last_used_at + timedelta(seconds=settings.session_idle_s)
    if now >= record.expires_at or now >= idle_until:
        raise NotSignedIn(
            f"your session has ended (after {settings.session_idle_s / 60:g} minutes unused, or "
            f"{settings.session_absolute_s / 3600:g} hours after sign-in); sign in again"
        )
    user = session.get(User, record.user_id)
    if user is None or user.disabled_at is not None:
        raise NotSignedIn("this account is disabled; ask an administrator")
    if touch:
        record.last_used_at = now
    return user


def revoke_session(*, session: Session, token: str, now: datetime) -> None:
    """End one session (signing out). The caller commits."""
    record = session.get(UserSession, token_sha256(token))
    if record is not None and record.revoked_at is None:
        record.revoked_at = now


def revoke_user_sessions(*, session: Session, user_id: str, now: datetime) -> int:
    """End every live session of a user; returns how many. The caller commits."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def token_sha256(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
