"""The audit trail: append an entry inside the caller's transaction, read pages, export JSON lines.

:func:`record_action` is the one way in. It adds the entry to the caller's session, so the action and the
record of it commit together or not at all. Appends are serialised so that each entry chains to the one
committed just before it: on PostgreSQL by a transaction-level advisory lock, held until the caller's commit;
on SQLite by the write lock every transaction takes when it begins (``BEGIN IMMEDIATE``, see
:mod:`vigil.command.database`). Call it after the transaction's other writes, just before committing: the lock
is then held briefly, and every transaction takes its row locks before the append lock, so appends never
deadlock with one another.
"""

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.chain import (
    ACTION_PATTERN,
    GENESIS_HASH,
    EntryContent,
    canonical_details,
    entry_hash,
)
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.schemas import AuditEntryOut, AuditExport, AuditPage
from vigil.command.database import Database
from vigil.command.errors import InvalidAuditEntry

_APPEND_LOCK = 0x61756474  # "audt": one audit append at a time across every server process
_ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"
_RECORD_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_MAX_RECORD_ID = 200
_MAX_ADDRESS = 64
EXPORT_PAGE_SIZE = 5000


def record_by(
    actor: Actor,
    *,
    session: Session,
    action: str,
    record_type: str,
    record_id: str | None,
    details: Mapping[str, object] | None = None,
    now: datetime,
) -> None:
    """:func:`record_action` for an :class:`~vigil.command.actor.Actor`: its user id and address, as it acted."""
    record_action(
        session=session,
        actor=actor.user_id,
        action=action,
        record_type=record_type,
        record_id=record_id,
        address=actor.address,
        details=details,
        now=now,
    )


def record_action(
    *,
    session: Session,
    actor: str,
    action: str,
    record_type: str,
    record_id: str | None,
    address: str | None,
    details: Mapping[str, object] | None = None,
    now: datetime,
) -> None:
    """Append one entry to the audit trail, in the caller's transaction (the caller commits).

    Args:
        session: the caller's session; the entry commits with whatever else it holds.
        actor: a user id, ``device:<id>``, ``system`` or ``anonymous``.
        action: a dotted name, such as ``alert.probe_viewed``.
        record_type: the kind of record concerned, such as ``alert``.
        record_id: which record (None when there is none, such as a failed sign-in under an unknown name).
        address: the client's address as the server saw it (None from the command line).
        details: ids, counts and flags only (see :mod:`vigil.command.audit.chain`); never biometric data.
        now: when it happened (timezone-aware).

    Raises:
        InvalidAuditEntry: an argument breaks the trail's rules (a bug in the caller).
    """
    _check(actor=actor, action=action, record_type=record_type, record_id=record_id, address=address)
    content = EntryContent(
        at=now,
        actor=actor,
        action=action,
        record_type=record_type,
        record_id=record_id,
        address=address,
        details=canonical_details(details),
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
    session.add(
        AuditEntry(
            seq=seq,
            at=now,
            actor=actor,
            action=action,
            record_type=record_type,
            record_id=record_id,
            address=address,
            details=content.details,
            prev_hash=prev_hash,
            hash=entry_hash(prev_hash, content),
        )
    )
    # Now, so that a second entry in the same transaction chains to this one.
    session.flush()


def read_entries(
    *,
    session: Session,
    after: int,
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
) -> AuditPage:
    """Entries after ``after`` in chain order, at most ``limit``, optionally only those matching every filter.

    Args:
        session: a session.
        after: the last ``seq`` already read (0 for the start).
        limit: the most entries returned.
        since: only entries at or after this time.
        until: only entries at or before this time.
        actor: only this actor's entries.
        record_type: only entries about this kind of record.
        record_id: only entries about this record.
    """
    query: Select[AuditEntry] = select(AuditEntry).where(AuditEntry.seq > after)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at <= until)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if record_type is not None:
        query = query.where(AuditEntry.record_type == record_type)
    if record_id is not None:
        query = query.where(AuditEntry.record_id == record_id)
    entries = [entry_out(row) for row in session.scalars(query.order_by(AuditEntry.seq).limit(limit))]
    return AuditPage(entries=entries, next_after=entries[-1].seq if entries else after)


def head_seq(*, session: Session) -> int:
    """The last entry's ``seq``; 0 when the trail is empty."""
    return session.scalar(select(func.max(AuditEntry.seq))) or 0


def export_entries(*, database: Database, out: Path, since: datetime | None, until: datetime | None) -> AuditExport:
    """Write the entries (between ``since`` and ``until`` when given) as JSON lines, one entry with its hashes each.

    The file appears whole or not at all (written beside, then renamed). Each page is read in a transaction of its
    own, so a long export does not hold SQLite's write lock.

    Raises:
        DatabaseUnavailable: the database cannot be read.
        OSError: the file cannot be written.
    """
    out = out.resolve()
    count, first, last = 0, None, None
    descriptor, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            for entry in _pages(database=database, since=since, until=until):
                file.write(entry.model_dump_json() + "\n")
                count += 1
                first = first or entry
                last = entry
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return AuditExport(
        path=out,
        entries=count,
        first_seq=first.seq if first else None,
        last_seq=last.seq if last else None,
        last_hash=last.hash if last else None,
    )


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    """The API shape of an entry."""
    return AuditEntryOut(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        record_type=entry.record_type,
        record_id=entry.record_id,
        address=entry.address,
        details=json.loads(entry.details),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def _pages(*, database: Database, since: datetime | None, until: datetime | None) -> Iterator[AuditEntryOut]:
    after = 0
    with database.read_session() as session:
        head = head_seq(session=session)
    while after < head:
        with database.read_session() as session:
            page = read_entries(session=session, after=after, limit=EXPORT_PAGE_SIZE, since=since, until=until)
        yield from (entry for entry in page.entries if entry.seq <= head)
        if len(page.entries) < EXPORT_PAGE_SIZE:
            return
        after = page.next_after


def _check(*, actor: str, action: str, record_type: str, record_id: str | None, address: str | None) -> None:
    if not re.fullmatch(_ACTOR_PATTERN, actor):
        raise InvalidAuditEntry(f"audit actor {actor!r} is not a user id, device:<id>, system or anonymous")
    if len(action) > 64 or not re.fullmatch(ACTION_PATTERN, action):
        raise InvalidAuditEntry(f"audit action {action!r} is not a dotted name such as alert.probe_viewed")
    if not re.fullmatch(_RECORD_TYPE_PATTERN, record_type):
        raise InvalidAuditEntry(f"audit record type {record_type!r} is not a short snake_case name")
    if record_id is not None and not 1 <= len(record_id) <= _MAX_RECORD_ID:
        raise InvalidAuditEntry(f"audit record id has {len(record_id)} characters; 1 to {_MAX_RECORD_ID} allowed")
    if address is not None and len(address) > _MAX_ADDRESS:
        raise InvalidAuditEntry(f"client address has {len(address)} characters; the most is {_MAX_ADDRESS}")
