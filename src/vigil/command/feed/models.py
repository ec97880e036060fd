"""The feed: every accepted event's effect, numbered, for the operators' live view to follow.

``seq`` only grows: SQLite's AUTOINCREMENT never reuses a number, nor does a PostgreSQL sequence. On SQLite
writers take turns, so numbers also appear in commit order; on PostgreSQL a number is drawn at insert, so a
transaction that commits later may hold a smaller one, and a reader that follows ``seq`` must allow for gaps
that fill in shortly after.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId


class FeedEntry(Base):
    """One entry: what changed (``kind``) and its JSON payload."""

    __tablename__ = "feed"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012  # SQLAlchemy reads this class attribute

    seq: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
