"""Anchoring the audit trail: sign its head into the checkpoint store, once sure it extends the last checkpoint.

Before a checkpoint is signed, the entries after the store's last checkpoint are checked: the entry that
checkpoint signed must still have the hash it signed, and each entry after it must be numbered next, carry its
predecessor's hash and hash to what it holds. A trail rewritten or cut since the last checkpoint is never
signed over (:class:`~vigil.command.audit.errors.TrailDiverges`), so the evidence stays for ``vigil audit
verify``. Only the entries since the last checkpoint are read (the whole trail for a store's first), so a
checkpoint every few minutes costs little.
"""

import logging
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.command.audit.chain import GENESIS_HASH
from vigil.command.audit.checkpoint import Checkpoint, TrailHead, sign_checkpoint
from vigil.command.audit.checkpoint_store import StoreReading, append_checkpoint, read_store
from vigil.command.audit.errors import TrailDiverges
from vigil.command.audit.keys import load_checkpoint_signing_key
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.service import head_seq
from vigil.command.audit.verification import PAGE_SIZE, entries_in_order, hash_matches
from vigil.command.database import Database
from vigil.command.settings import AuditSettings

_log = logging.getLogger(__name__)


def write_checkpoint(
    *, database: Database, directory: Path, key: Ed25519PrivateKey, now: datetime, always: bool
) -> Checkpoint | None:
    """Sign the trail's head and append it to the checkpoint store in ``directory``.

    Args:
        database: the trail's database.
        directory: the checkpoint store's folder.
        key: the private checkpoint key.
        now: the time signed (timezone-aware).
        always: write one even when the trail has not grown since the last checkpoint (on demand); the scheduler
            writes only when it has.

    Returns:
        The checkpoint written; None when the trail had not grown and ``always`` is False.

    Raises:
        TrailDiverges: the trail no longer extends the store's last checkpoint (nothing is written).
        CheckpointStoreError: the store cannot be read or written, or its last line is refused.
        DatabaseUnavailable: the database cannot be read.
    """

    def make(last: Checkpoint | None) -> Checkpoint | None:
        head = checked_head(database=database, since=last)
        if not always and head.seq == (last.seq if last is not None else 0):
            return None
        return sign_checkpoint(head=head, previous=last, key=key, now=now)

    written = append_checkpoint(directory=directory, public_key=key.public_key(), make=make)
    if written is not None:
        _log.info(
            "audit.checkpoint_written",
            extra={"checkpoint": written.n, "seq": written.seq, "entries": written.entries, "store": str(directory)},
        )
    return written


def configured_checkpoints(settings: AuditSettings) -> StoreReading | None:
    """The server's own checkpoint store, checked with its key's public half; None when none is configured.

    Raises:
        CheckpointKeyError: the key file is missing, malformed or readable by others.
        CheckpointStoreError: the store's folder is missing or its file cannot be read.
    """
    if settings.checkpoint_dir is None or settings.checkpoint_key_file is None:
        return None
    public_key = load_checkpoint_signing_key(settings.checkpoint_key_file).public_key()
    return read_store(directory=settings.checkpoint_dir, public_key=public_key)


def checked_head(*, database: Database, since: Checkpoint | None, page_size: int = PAGE_SIZE) -> TrailHead:
    """The trail's head, once the entries after ``since`` (all of them when None) are checked to extend it.

    Raises:
        TrailDiverges: the entry ``since`` signed is gone or has another hash, or an entry after it does not
            chain to the one before.
        DatabaseUnavailable: the database cannot be read.
    """
    seq, hash_, entries = (since.seq, since.hash, since.entries) if since is not None else (0, GENESIS_HASH, 0)
    with database.read_session() as session:
        head = head_seq(session=session)
        anchored = session.get(AuditEntry, seq) if seq > 0 else None
    if since is not None and seq > 0 and (anchored is None or anchored.hash != since.hash):
        what = "is no longer there" if anchored is None else f"now has hash {anchored.hash[:16]}…"
        raise _diverges(since, seq, f"entry {seq}, which it signed with hash {since.hash[:16]}…, {what}")
    for entry in entries_in_order(database=database, after=seq, head=head, page_size=page_size):
        if entry.seq != seq + 1 or entry.prev_hash != hash_ or not hash_matches(entry):
            raise _diverges(since, entry.seq, f"entry {entry.seq} does not follow entry {seq} as written")
        seq, hash_, entries = entry.seq, entry.hash, entries + 1
    return TrailHead(seq=seq, hash=hash_, entries=entries)


def _diverges(since: Checkpoint | None, seq: int, what: str) -> TrailDiverges:
    anchor = f"checkpoint {since.n}" if since is not None else "the start of the trail"
    return TrailDiverges(
        f"the audit trail does not extend {anchor}: {what}. It was rewritten or cut, and no checkpoint is signed "
        "over it; run `vigil audit verify` with the checkpoints to see what changed",
        checkpoint=since.n if since is not None else 0,
        seq=seq,
    )
