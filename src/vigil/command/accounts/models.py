"""The people who use the command centre: users, their roles and their sign-in sessions.

A user's id is their user name, fixed for the account's life and never reused (a disabled account keeps it), so
that every audit entry names one person without a look-up. Passwords are stored as argon2id hashes
(:mod:`vigil.command.accounts.passwords`), second-factor secrets sealed under the server's key
(:mod:`vigil.command.accounts.sealing`), sessions as the SHA-256 of their random token
(:mod:`vigil.command.accounts.sessions`), failed sign-ins as counters per source
(:mod:`vigil.command.accounts.throttle`).
"""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, and_
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from vigil.command.database import Base, string_enum


class Role(enum.StrEnum):
    """What a user may do; a user holds one or more (see :mod:`vigil.command.accounts.roles`)."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class User(Base):
    """A person who signs in to the command centre.

    ``totp_sealed`` is the second factor's base32 secret sealed under the server's key (None: not set up);
    ``totp_last_step`` is the 30-second step of the last code accepted, so that a code cannot be used twice.
    ``account_throttle`` counts failed sign-ins for the user from every address (see
    :mod:`vigil.command.accounts.throttle`).
    """

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_sealed: Mapped[str | None] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))
    disabled_at: Mapped[datetime | None]
    last_signed_in_at: Mapped[datetime | None]
    roles: Mapped[list["UserRole"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    account_throttle: Mapped["SignInThrottle | None"] = relationship(
        primaryjoin=lambda: and_(User.user_id == foreign(SignInThrottle.user_id), SignInThrottle.address == ANY_SOURCE),
        viewonly=True,
        lazy="selectin",
    )

    def role_set(self) -> frozenset[Role]:
        """The roles the user holds."""
        return frozenset(granted.role for granted in self.roles)


ANY_SOURCE = ""
"""The ``address`` of a counter of one user's failures from every address, or the ``user_id`` of one address's
failures whatever the name."""


class SignInThrottle(Base):
    """Failed sign-ins from one source, and until when its attempts are refused.

    A source is an address and a user (``address`` and ``user_id``), an address whatever the name (``user_id`` is
    :data:`ANY_SOURCE`), or a user from every address (``address`` is :data:`ANY_SOURCE`). Only names of existing
    users are stored. ``failures`` counts those since the count last started (it starts again after
    ``failure_memory_s`` without one); ``blocked_until`` is set once a limit is reached.
    """

    __tablename__ = "sign_in_throttles"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None]


class UserRole(Base):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), primary_key=True)
    role: Mapped[Role] = mapped_column(string_enum(Role, name="user_role"), primary_key=True)


class UserSession(Base):
    """A signed-in session: the SHA-256 of its token, whose it is, and when it ends.

    It ends at ``expires_at`` (absolute), after ``session_idle_s`` without use (from ``last_used_at``), when the
    user signs out or is disabled (``revoked_at``).
    """

    __tablename__ = "user_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id"), index=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(64))
