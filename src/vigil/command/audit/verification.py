"""Checking the audit chain: which entry was edited, which are missing, which were moved.

Every entry is read in chain order (``seq``), in pages of their own transactions, up to the entry that was last
when verification began. Two checks per entry:

* its hash must be the hash of its predecessor's hash and its own content; if not, the entry was **edited**;
* the predecessor hash it carries must be the stored hash of the entry before it. If not, the link is broken,
  and a second pass looks for the entry whose hash it carries:

  - found elsewhere: the entry is **out of order** (it was written after that one);
  - not found, with numbers skipped before it: the skipped entries are **missing**;
  - not found, no numbers skipped: the entry before it was altered and its hash recomputed to hide it
    (reported as **edited**), or entries were removed and the rest renumbered.

What no hash chain can show on its own is entries cut off the *end*: keep the head's hash (``head_hash``, or
the last line of ``vigil audit export``) elsewhere and compare. On PostgreSQL the database refuses UPDATE and
DELETE on the table to every role, so tampering there needs a superuser to switch the trigger off first.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from vigil.command.audit.chain import GENESIS_HASH, EntryContent, entry_hash
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.schemas import ChainProblem, ChainReport, ProblemKind
from vigil.command.audit.service import head_seq
from vigil.command.database import Database

PAGE_SIZE = 5000
MAX_PROBLEMS = 1000
"""Most problems listed; past this the report says there were more."""


@dataclass(frozen=True)
class _Break:
    """An entry whose predecessor hash is not its predecessor's stored hash."""

    seq: int
    previous_seq: int
    claimed: str


@dataclass
class _Walk:
    """What the first pass found."""

    entries: int = 0
    head_hash: str | None = None
    edited: list[int] = field(default_factory=list)
    renumbered: list[tuple[int, int]] = field(default_factory=list)
    breaks: list[_Break] = field(default_factory=list)
    more: bool = False


def verify_chain(*, database: Database, page_size: int = PAGE_SIZE) -> ChainReport:
    """Check every entry's hash and link, and say what is wrong where.

    Raises:
        DatabaseUnavailable: the database cannot be read.
    """
    with database.read_session() as session:
        head = head_seq(session=session)
    walk = _first_pass(database=database, head=head, page_size=page_size)
    found: dict[str, int] = {}
    if walk.breaks:
        claimed = {b.claimed for b in walk.breaks}
        for entry in _entries(database=database, head=head, page_size=page_size):
            if entry.hash in claimed:
                found.setdefault(entry.hash, entry.seq)
    problems = [*(_edited(seq) for seq in walk.edited), *(_renumbered(*pair) for pair in walk.renumbered)]
    problems += [_explain(b, found.get(b.claimed)) for b in walk.breaks]
    problems.sort(key=lambda p: (p.seq, p.kind))
    more = walk.more or len(problems) > MAX_PROBLEMS
    return ChainReport(
        intact=not problems,
        entries=walk.entries,
        head_seq=head or None,
        head_hash=walk.head_hash,
        problems=problems[:MAX_PROBLEMS],
        more_problems=more,
    )


def _first_pass(*, database: Database, head: int, page_size: int) -> _Walk:
    walk = _Walk()
    previous_seq, previous_hash = 0, GENESIS_HASH
    for entry in _entries(database=database, head=head, page_size=page_size):
        walk.entries += 1
        content_ok = _hash_matches(entry)
        if len(walk.edited) + len(walk.breaks) + len(walk.renumbered) >= MAX_PROBLEMS:
            walk.more = True
        elif not content_ok:
            # An edited entry's own link is explained by the edit (its predecessor hash may be what was edited).
            walk.edited.append(entry.seq)
        elif entry.prev_hash != previous_hash:
            walk.breaks.append(_Break(seq=entry.seq, previous_seq=previous_seq, claimed=entry.prev_hash))
        elif entry.seq != previous_seq + 1:
            walk.renumbered.append((previous_seq, entry.seq))
        previous_seq, previous_hash = entry.seq, entry.hash
    walk.head_hash = previous_hash if walk.entries else None
    return walk


def _explain(broken: _Break, written_after: int | None) -> ChainProblem:
    seq, previous = broken.seq, broken.previous_seq
    after = f"entry {previous}" if previous else "the start"
    if written_after is not None:
        return ChainProblem(
            kind=ProblemKind.OUT_OF_ORDER,
            seq=seq,
            written_after=written_after,
            message=f"entry {seq} is out of order: it was written after entry {written_after} but now follows {after}",
        )
    if seq != previous + 1:
        missing = list(range(previous + 1, seq))
        span = f"entry {missing[0]} is" if len(missing) == 1 else f"entries {missing[0]} to {missing[-1]} are"
        return ChainProblem(
            kind=ProblemKind.MISSING,
            seq=missing[0],
            missing_seqs=missing,
            message=f"{span} missing: entry {seq} was written after an entry that is no longer there",
        )
    if previous == 0:
        return ChainProblem(
            kind=ProblemKind.MISSING,
            seq=seq,
            message=f"entry {seq} is not the first entry ever written: the entries before it were removed",
        )
    return ChainProblem(
        kind=ProblemKind.EDITED,
        seq=previous,
        message=(
            f"entry {previous} was altered and its hash recomputed (entry {seq} was written after a different "
            f"entry {previous}), or entries between them were removed and the rest renumbered"
        ),
    )


def _edited(seq: int) -> ChainProblem:
    return ChainProblem(
        kind=ProblemKind.EDITED, seq=seq, message=f"entry {seq} was edited: its content no longer matches its hash"
    )


def _renumbered(previous: int, seq: int) -> ChainProblem:
    return ChainProblem(
        kind=ProblemKind.EDITED,
        seq=seq,
        message=f"entry {seq} was renumbered: it directly follows entry {previous} in the chain",
    )


def _hash_matches(entry: AuditEntry) -> bool:
    try:
        return entry_hash(entry.prev_hash, _content(entry)) == entry.hash
    except ValueError:  # details that are no longer JSON, a time out of range: edited
        return False


def _content(entry: AuditEntry) -> EntryContent:
    return EntryContent(
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        record_type=entry.record_type,
        record_id=entry.record_id,
        address=entry.address,
        details=entry.details,
    )


def _entries(*, database: Database, head: int, page_size: int) -> Iterator[AuditEntry]:
    after = 0
    while after < head:
        with database.read_session() as session:
            page = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > after, AuditEntry.seq <= head)
                    .order_by(AuditEntry.seq)
                    .limit(page_size)
                )
            )
        if not page:
            return
        yield from page
        after = page[-1].seq
