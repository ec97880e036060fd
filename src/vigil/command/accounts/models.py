"""The people who use the command centre: users, their roles and their sign-in sessions.

A user's id is their user name, fixed for the account's life and never reused (a disabled account keeps it), so
that every audit entry names one person without a look-up. Passwords are stored as argon2id hashes
(:mod:`vigil.command.accounts.passwords`), sessions as the SHA-256 of their random token
(:mod:`vigil.command.accounts.sessions`).
"""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vigil.command.database import Base, string_enum


class Role(enum.StrEnum):
    """What a user may do; a user holds one or more (see :mod:`vigil.command.accounts.roles`)."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class User(Base):
    """A person who signs in to the command centre.

    ``totp_secret`` is the base32 secret of the second factor (None: not set up); ``totp_last_step`` is the
    30-second step of the last code accepted, so that a code cannot be used twice. ``failed_sign_ins`` counts
    failures in a row; ``locked_until`` is set when they reach the limit.
    """

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_sign_ins: Mapped[int]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))
    disabled_at: Mapped[datetime | None]
    last_signed_in_at: Mapped[datetime | None]
    roles: Mapped[list["UserRole"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )

    def role_set(self) -> frozenset[Role]:
        """The roles the user holds."""
        return frozenset(granted.role for granted in self.roles)


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
