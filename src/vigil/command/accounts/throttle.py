"""Sign-in throttling: failed sign-ins slow down the source they come from, never lock a person out from outside.

A hard lock on an account after a few failures is a weapon: anyone who knows the duty supervisor's user name can
lock them out in the middle of an incident without signing in. Instead, failures are counted per source, and a
source that has failed too often must wait before it is heard again; the wait doubles with each further failure
(``backoff_first_s``, up to ``lockout_s``), and failures are forgotten after ``failure_memory_s`` without one.
Three counters, each a :class:`~vigil.command.accounts.models.SignInThrottle` row in the database (several server
processes share them):

* **one address, one user** (``max_failed_sign_ins``): one guesser at one user. It holds back only that address,
  so a prankster elsewhere cannot keep the user out; the user's own mistakes hold them back briefly.
* **one address, any name** (``max_failed_sign_ins_per_address``): one guesser spraying names.
* **one user, every address** (``max_failed_sign_ins_per_account``): what per-source limits cannot stop, guessing
  spread over many addresses. Past it, the user can sign in only from an address they opened a session from
  within ``trusted_address_s`` (the control room's own workstations), until the wait ends or an administrator
  clears it: the attacker is held back, the person at their usual desk is not.

The last two do not hold back a user at an address that is theirs (they signed in from it recently): others'
failures from a shared address (a police station behind one NAT) do not keep them out; only failures against
them from that very address do (a prankster at the next desk), for at most ``lockout_s``. A refused attempt does
not count and its password is never checked (a dummy hash is run instead, for the time): a source learns nothing
while it waits, and cannot make its wait longer than the cap. Every answer is the same to the client (see
:mod:`vigil.command.accounts.sign_in`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vigil.command.accounts.models import ANY_SOURCE, SignInThrottle, UserSession
from vigil.command.settings import AccountSettings

UNKNOWN_ADDRESS = "unknown"
"""The address counted when the server could not tell the client's."""

_MAX_DOUBLINGS = 30
"""Past this many doublings the wait is at its cap anyway; stops the power growing without bound."""


@dataclass(frozen=True)
class Refusal:
    """Why a source may not try now.

    Attributes:
        scope: which counter refused: ``user_at_address``, ``address`` or ``account``.
        until: when it may try again (UTC).
    """

    scope: str
    until: datetime


def refusal(
    session: Session, *, address: str, user_id: str | None, settings: AccountSettings, now: datetime, lock: bool
) -> Refusal | None:
    """Whether attempts from this address (for this user, if the name is a user's) are refused now, and why.

    Args:
        session: a session on the database.
        address: the client's address (:data:`UNKNOWN_ADDRESS` when unknown).
        user_id: the user named, when such a user exists; None for an unknown name.
        settings: the limits.
        now: the time of the attempt.
        lock: lock the counters' rows until the transaction ends (the caller then records the outcome), so that
            parallel attempts cannot all slip under a limit. (Attempts for one user are serialised anyway by the
            caller's lock on the user's row; an address's counter for several names is locked once it exists, so
            a first burst of parallel attempts under different names may pass its limit by a few.)

    Returns:
        The refusal with the latest end, or None when the attempt may go ahead.
    """
    keys = [(address, user_id)] if user_id is not None else []
    if user_id is None or not is_trusted_address(session, address=address, user_id=user_id, settings=settings, now=now):
        keys.append((address, ANY_SOURCE))
        if user_id is not None:
            keys.append((ANY_SOURCE, user_id))
    refusals = []
    for key in keys:
        row = session.get(SignInThrottle, key, with_for_update=lock, populate_existing=lock)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            refusals.append(Refusal(scope=_scope(*key), until=row.blocked_until))
    return max(refusals, key=lambda r: r.until, default=None)


def record_failure(
    session: Session, *, address: str, user_id: str | None, settings: AccountSettings, now: datetime
) -> list[Refusal]:
    """Count a failed sign-in against its address, and against the user at that address and from everywhere.

    Also deletes counters nobody has failed against for ``failure_memory_s`` (they would start again anyway).
    The caller commits.

    Returns:
        The counters this failure took past their limit, with when their waits end.
    """
    limits = {
        (address, ANY_SOURCE): settings.max_failed_sign_ins_per_address,
    }
    if user_id is not None:
        limits[(address, user_id)] = settings.max_failed_sign_ins
        limits[(ANY_SOURCE, user_id)] = settings.max_failed_sign_ins_per_account
    forget_before = now - timedelta(seconds=settings.failure_memory_s)
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_failure_at < forget_before,
            or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now),
        )
    )
    blocked = []
    for key in sorted(limits):
        row = _locked_row(session, key, now)
        if row.last_failure_at < forget_before:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        beyond = row.failures - limits[key]
        if beyond >= 0:
            wait_s = min(settings.backoff_first_s * 2 ** min(beyond, _MAX_DOUBLINGS), settings.lockout_s)
            row.blocked_until = now + timedelta(seconds=wait_s)
            blocked.append(Refusal(scope=_scope(*key), until=row.blocked_until))
    return blocked


def record_success(session: Session, *, address: str, user_id: str) -> None:
    """Forget the user's failures at this address (not the address's, nor the account's). The caller commits."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.address == address, SignInThrottle.user_id == user_id))


def clear_user(session: Session, *, user_id: str, now: datetime) -> bool:
    """Forget every failure counted against a user (an administrator's unlock); the caller commits.

    Returns:
        Whether any of their counters was refusing sign-ins.
    """
    counters = select(SignInThrottle).where(SignInThrottle.user_id == user_id)
    was_blocked = any(row.blocked_until is not None and row.blocked_until > now for row in session.scalars(counters))
    session.execute(delete(SignInThrottle).where(SignInThrottle.user_id == user_id))
    return was_blocked


def is_trusted_address(
    session: Session, *, address: str, user_id: str, settings: AccountSettings, now: datetime
) -> bool:
    """Whether the user opened a session from this address within ``trusted_address_s``."""
    if address == UNKNOWN_ADDRESS:
        return False
    since = now - timedelta(seconds=settings.trusted_address_s)
    opened = select(UserSession.token_sha256).where(
        and_(UserSession.user_id == user_id, UserSession.address == address, UserSession.created_at >= since)
    )
    return session.execute(opened.limit(1)).first() is not None


def _locked_row(session: Session, key: tuple[str, str], now: datetime) -> SignInThrottle:
    """The counter's row, created when missing, locked until the transaction ends."""
    address, user_id = key
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(SignInThrottle)
        .values(address=address, user_id=user_id, failures=0, last_failure_at=now, blocked_until=None)
        .on_conflict_do_nothing()
    )
    row = session.get(SignInThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        raise RuntimeError(f"the sign-in counter {key} vanished inside its own transaction")
    return row


def _scope(address: str, user_id: str) -> str:
    if address == ANY_SOURCE:
        return "account"
    return "address" if user_id == ANY_SOURCE else "user_at_address"
