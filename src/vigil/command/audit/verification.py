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

What no hash chain can show on its own is entries cut off the *end*, or an entry edited with every hash after it
recomputed. Signed checkpoints kept outside the database show both (:mod:`vigil.command.audit.checkpoint`):
given a checkpoint store, each checkpoint's entry must still have the hash the checkpoint signed, with as many
entries up to it. The first checkpoint that disagrees bounds the rewrite: it lies after the last entry a
checkpoint still vouches for, up to the entry the disagreeing checkpoint signed (**rewritten**); a checkpoint
that signed an entry past the trail's end shows entries **cut off**. Store lines not signed by the given key, or
changed since, are refused and reported too. On PostgreSQL the database refuses UPDATE and DELETE on the table
to every role, so tampering there needs a superuser to switch the trigger off first.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from vigil.command.audit.chain import GENESIS_HASH, EntryContent, entry_hash
from vigil.command.audit.checkpoint import Checkpoint
from vigil.command.audit.checkpoint_store import StoreReading
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.schemas import AnchorReport, ChainProblem, ChainReport, ProblemKind
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
    at_checkpoints: dict[int, tuple[str, int]] = field(default_factory=dict)
    """For each entry a checkpoint signed: its stored hash, and the entries up to it."""


def verify_chain(
    *, database: Database, page_size: int = PAGE_SIZE, checkpoints: StoreReading | None = None
) -> ChainReport:
    """Check every entry's hash and link, and the trail against signed checkpoints; say what is wrong where.

    Args:
        database: the trail's database.
        page_size: entries read per transaction.
        checkpoints: a checkpoint store, as read with the auditor's public key; None checks the chain alone.

    Raises:
        DatabaseUnavailable: the database cannot be read.
    """
    with database.read_session() as session:
        head = head_seq(session=session)
    signed = checkpoints.checkpoints if checkpoints is not None else []
    walk = _first_pass(database=database, head=head, page_size=page_size, wanted={c.seq for c in signed})
    found: dict[str, int] = {}
    if walk.breaks:
        claimed = {b.claimed for b in walk.breaks}
        for entry in entries_in_order(database=database, after=0, head=head, page_size=page_size):
            if entry.hash in claimed:
                found.setdefault(entry.hash, entry.seq)
    problems = [*(_edited(seq) for seq in walk.edited), *(_renumbered(*pair) for pair in walk.renumbered)]
    problems += [_explain(b, found.get(b.claimed)) for b in walk.breaks]
    problems += _against_checkpoints(signed, walk.at_checkpoints, head=head)
    problems.sort(key=lambda p: (p.seq, p.kind))
    more = walk.more or len(problems) > MAX_PROBLEMS
    anchor = _anchor_report(checkpoints, head=head) if checkpoints is not None else None
    return ChainReport(
        intact=not problems and not (anchor is not None and anchor.refused),
        entries=walk.entries,
        head_seq=head or None,
        head_hash=walk.head_hash,
        problems=problems[:MAX_PROBLEMS],
        more_problems=more,
        anchor=anchor,
    )


def _first_pass(*, database: Database, head: int, page_size: int, wanted: set[int]) -> _Walk:
    walk = _Walk()
    previous_seq, previous_hash = 0, GENESIS_HASH
    for entry in entries_in_order(database=database, after=0, head=head, page_size=page_size):
        walk.entries += 1
        if entry.seq in wanted:
            walk.at_checkpoints[entry.seq] = (entry.hash, walk.entries)
        content_ok = hash_matches(entry)
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


def _against_checkpoints(
    checkpoints: list[Checkpoint], stored: dict[int, tuple[str, int]], *, head: int
) -> list[ChainProblem]:
    """The first checkpoint that disagrees with the trail (the later ones follow from it), and entries cut off."""
    vouched = 0  # the last entry a checkpoint still vouches for: everything up to it is as written
    rewritten: ChainProblem | None = None
    cut_off: ChainProblem | None = None
    for checkpoint in sorted(checkpoints, key=lambda c: (c.seq, c.n)):
        found = stored.get(checkpoint.seq)
        if checkpoint.seq == 0 or found == (checkpoint.hash, checkpoint.entries):
            if rewritten is None:
                vouched = checkpoint.seq
        elif checkpoint.seq > head:
            cut_off = _cut_off(checkpoint, head=head, vouched=vouched)
        elif rewritten is None:
            rewritten = _rewritten(checkpoint, found, vouched=vouched)
    return [problem for problem in (rewritten, cut_off) if problem is not None]


def _rewritten(checkpoint: Checkpoint, found: tuple[str, int] | None, *, vouched: int) -> ChainProblem:
    seq, signed = checkpoint.seq, f"checkpoint {checkpoint.n} (signed {_when(checkpoint)})"
    span = f"entries {vouched + 1} to {seq} were" if vouched + 1 < seq else f"entry {seq} was"
    if found is None:
        what = f"{signed} signed entry {seq}, which is no longer in the trail"
    elif found[0] != checkpoint.hash:
        what = f"{signed} signed entry {seq} with hash {checkpoint.hash[:16]}…; it now has hash {found[0][:16]}…"
    else:
        what = f"{signed} counted {checkpoint.entries:,} entries up to entry {seq}; the trail now holds {found[1]:,}"
    return ChainProblem(
        kind=ProblemKind.REWRITTEN,
        seq=vouched + 1,
        checkpoint=checkpoint.n,
        message=(
            f"{span} rewritten {_since(vouched)} (edited with the hashes after recomputed, removed and the rest "
            f"renumbered, or replaced): {what}"
        ),
    )


def _cut_off(checkpoint: Checkpoint, *, head: int, vouched: int) -> ChainProblem:
    return ChainProblem(
        kind=ProblemKind.CUT_OFF,
        seq=vouched + 1,
        checkpoint=checkpoint.n,
        message=(
            f"entries were removed {_since(vouched)} (cut off the end, or removed and the rest renumbered): "
            f"checkpoint {checkpoint.n} (signed {_when(checkpoint)}) signed entry {checkpoint.seq}, and the trail "
            f"now ends at entry {head}"
        ),
    )


def _since(vouched: int) -> str:
    return f"after entry {vouched}, the last a checkpoint still vouches for" if vouched else "from the first entry on"


def _anchor_report(reading: StoreReading, *, head: int) -> AnchorReport:
    last = reading.checkpoints[-1] if reading.checkpoints else None
    return AnchorReport(
        store=reading.path,
        key_id=reading.key_id,
        checkpoints=len(reading.checkpoints),
        last_seq=last.seq if last is not None else None,
        last_at=last.at if last is not None else None,
        unanchored=max(0, head - (last.seq if last is not None else 0)),
        refused=reading.problems,
    )


def _when(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.at:%Y-%m-%d %H:%M:%S} UTC"


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


def hash_matches(entry: AuditEntry) -> bool:
    """Whether an entry's stored hash is the hash of its stored predecessor hash and its content."""
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


def entries_in_order(*, database: Database, after: int, head: int, page_size: int) -> Iterator[AuditEntry]:
    """The entries numbered after ``after`` up to ``head`` in chain order, read in pages of their own transactions."""
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
