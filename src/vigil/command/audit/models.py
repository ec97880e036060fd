"""The audit log's table: one row per entry, in chain order (``seq``), each carrying its predecessor's hash.

Rows are only ever inserted. On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE for every role, the
table's owner included (migration ``0003``); on SQLite triggers refuse UPDATE and DELETE, which stops accidents
though not someone who can edit the file (``vigil audit verify`` finds that).
"""

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.command.database import Base, BigIntegerId


class AuditEntry(Base):
    """Who did what to which record, when and from where.

    ``details`` is canonical JSON text (sorted keys, no spaces) of ids, counts and flags only; ``prev_hash`` is
    the previous entry's ``hash`` (64 zeros for the first); ``hash`` is the SHA-256 of ``prev_hash`` and this
    entry's canonical content (:mod:`vigil.command.audit.chain`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record", "record_type", "record_id"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_at", "at"),
    )

    seq: Mapped[int] = mapped_column(BigIntegerId, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
