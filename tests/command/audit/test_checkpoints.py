"""Signed checkpoints kept outside the database find what the chain alone cannot.

An entry edited with every hash after it recomputed, entries removed and the rest renumbered, entries cut off the
end: each passes the chain, and each is found against the checkpoints. Checkpoints not signed by the auditor's
key, changed, or taken out of the store are refused; no checkpoint is ever signed over a trail already rewritten.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy import select

from tests.command.audit.conftest import Append, CheckpointKeys, Rehash, Tamper
from vigil.command.audit.anchoring import write_checkpoint
from vigil.command.audit.checkpoint import Checkpoint, TrailHead, sign_checkpoint
from vigil.command.audit.checkpoint_store import read_store, store_file
from vigil.command.audit.errors import CheckpointKeyError, CheckpointStoreError, TrailDiverges
from vigil.command.audit.keys import create_checkpoint_keys, load_checkpoint_signing_key
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.schemas import ChainReport, ProblemKind
from vigil.command.audit.verification import verify_chain
from vigil.command.database import Database
from vigil.command.settings import AuditSettings
from vigil.events import utc_now


@pytest.fixture
def checkpointed(trail: Database, store: Path, checkpoint_keys: CheckpointKeys, append: Append) -> Database:
    """Nine entries under two checkpoints: checkpoint 1 signed entry 6, checkpoint 2 entry 9."""
    first = _write(trail, store, checkpoint_keys.key)
    append(3)
    second = _write(trail, store, checkpoint_keys.key)
    assert [(first.n, first.seq, first.entries), (second.n, second.seq, second.entries)] == [(1, 6, 6), (2, 9, 9)]
    return trail


def _write(database: Database, store: Path, key: Ed25519PrivateKey) -> Checkpoint:
    written = write_checkpoint(database=database, directory=store, key=key, now=utc_now(), always=False)
    assert written is not None
    return written


def _verify(database: Database, store: Path, keys: CheckpointKeys) -> ChainReport:
    reading = read_store(directory=store, public_key=keys.key.public_key())
    return verify_chain(database=database, page_size=4, checkpoints=reading)


def _found(report: ChainReport) -> list[tuple[ProblemKind, int, int | None]]:
    return [(p.kind, p.seq, p.checkpoint) for p in report.problems]


def _edit_and_rehash(tamper: Tamper, rehash: Rehash, seq: int) -> None:
    tamper(f"UPDATE audit_log SET actor = 'op-9' WHERE seq = {seq}")
    rehash(seq)


def _delete_renumber_and_rehash(tamper: Tamper, rehash: Rehash, seq: int) -> None:
    tamper(f"DELETE FROM audit_log WHERE seq = {seq}; UPDATE audit_log SET seq = seq - 1 WHERE seq > {seq}")
    rehash(seq)


def _cut_after(tamper: Tamper, rehash: Rehash, seq: int) -> None:
    tamper(f"DELETE FROM audit_log WHERE seq > {seq}")


Rewrite = Callable[[Tamper, Rehash, int], None]


@pytest.mark.parametrize(
    ("rewrite", "at", "found"),
    [
        pytest.param(_edit_and_rehash, 8, [(ProblemKind.REWRITTEN, 7, 2)], id="edit-and-rehash"),
        pytest.param(_edit_and_rehash, 3, [(ProblemKind.REWRITTEN, 1, 1)], id="edit-early-and-rehash"),
        pytest.param(_delete_renumber_and_rehash, 8, [(ProblemKind.CUT_OFF, 7, 2)], id="delete-renumber-rehash"),
        pytest.param(
            _delete_renumber_and_rehash,
            4,
            [(ProblemKind.CUT_OFF, 1, 2), (ProblemKind.REWRITTEN, 1, 1)],
            id="delete-early-renumber-rehash",
        ),
        pytest.param(_cut_after, 7, [(ProblemKind.CUT_OFF, 7, 2)], id="cut-the-end"),
    ],
)
def test_a_rewrite_that_passes_the_chain_is_found_against_the_checkpoints(
    checkpointed: Database,
    store: Path,
    checkpoint_keys: CheckpointKeys,
    tamper: Tamper,
    rehash: Rehash,
    rewrite: Rewrite,
    at: int,
    found: list[tuple[ProblemKind, int, int]],
) -> None:
    rewrite(tamper, rehash, at)
    alone = verify_chain(database=checkpointed, page_size=4)
    assert (alone.intact, alone.problems) == (True, [])  # the finding: the chain alone cannot tell
    report = _verify(checkpointed, store, checkpoint_keys)
    assert (report.intact, _found(report)) == (False, found)
    assert report.anchor is not None
    assert (report.anchor.checkpoints, report.anchor.last_seq, report.anchor.refused) == (2, 9, [])


def test_entries_cut_and_written_again_show_as_rewritten(
    checkpointed: Database, store: Path, checkpoint_keys: CheckpointKeys, tamper: Tamper, append: Append
) -> None:
    tamper("DELETE FROM audit_log WHERE seq > 7")
    append(3)  # the server carries on: entries 8 to 10 again, saying other things
    assert verify_chain(database=checkpointed).intact
    assert _found(_verify(checkpointed, store, checkpoint_keys)) == [(ProblemKind.REWRITTEN, 7, 2)]


def test_the_messages_name_the_checkpoint_and_the_entries(
    checkpointed: Database, store: Path, checkpoint_keys: CheckpointKeys, tamper: Tamper, rehash: Rehash
) -> None:
    signed = read_store(directory=store, public_key=checkpoint_keys.key.public_key()).checkpoints[1]
    when = f"{signed.at:%Y-%m-%d %H:%M:%S} UTC"
    _edit_and_rehash(tamper, rehash, 8)
    [rewritten] = _verify(checkpointed, store, checkpoint_keys).problems
    assert rewritten.message.startswith(
        "entries 7 to 9 were rewritten after entry 6, the last a checkpoint still vouches for (edited with the hashes "
        f"after recomputed, removed and the rest renumbered, or replaced): checkpoint 2 (signed {when}) signed entry 9 "
        f"with hash {signed.hash[:16]}…; it now has hash "
    )
    _cut_after(tamper, rehash, 7)
    [cut] = _verify(checkpointed, store, checkpoint_keys).problems
    assert cut.message == (
        "entries were removed after entry 6, the last a checkpoint still vouches for (cut off the end, or removed and "
        f"the rest renumbered): checkpoint 2 (signed {when}) signed entry 9, and the trail now ends at entry 7"
    )


def test_an_untouched_trail_agrees_with_its_checkpoints_and_counts_what_came_after(
    checkpointed: Database, store: Path, checkpoint_keys: CheckpointKeys, append: Append
) -> None:
    append(2)
    report = _verify(checkpointed, store, checkpoint_keys)
    assert report.anchor is not None
    assert (report.intact, report.problems, report.anchor.checkpoints, report.anchor.unanchored) == (True, [], 2, 2)


def _head(database: Database) -> TrailHead:
    with database.read_session() as session:
        head = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert head is not None
    return TrailHead(seq=head.seq, hash=head.hash, entries=head.seq)


def _signed_by_another_key(lines: list[str], database: Database) -> list[str]:
    """Checkpoint 2 replaced by one of the rewritten head, signed with the attacker's own key."""
    first = Checkpoint.model_validate_json(lines[0])
    forged = sign_checkpoint(head=_head(database), previous=first, key=Ed25519PrivateKey.generate(), now=utc_now())
    return [lines[0], forged.line()]


def _hash_edited(lines: list[str], database: Database) -> list[str]:
    """Checkpoint 2's hash changed to the rewritten head's, its signature kept."""
    edited = Checkpoint.model_validate_json(lines[1]).model_copy(update={"hash": _head(database).hash})
    return [lines[0], edited.line()]


def _garbled(lines: list[str], database: Database) -> list[str]:
    return [lines[0], lines[1][:40]]


@pytest.mark.parametrize(
    ("forge", "refusal"),
    [
        pytest.param(
            _signed_by_another_key,
            r"line 2 refused: checkpoint 2 was signed by key [0-9a-f]{16}, not by the given key [0-9a-f]{16}$",
            id="another-key",
        ),
        pytest.param(
            _hash_edited,
            "line 2 refused: checkpoint 2's signature does not match what it says: it was changed after it was "
            "signed, or forged$",
            id="edited",
        ),
        pytest.param(_garbled, "line 2 refused: it is not a checkpoint", id="garbled"),
    ],
)
def test_a_forged_or_edited_checkpoint_is_refused(
    checkpointed: Database,
    store: Path,
    checkpoint_keys: CheckpointKeys,
    tamper: Tamper,
    rehash: Rehash,
    forge: Callable[[list[str], Database], list[str]],
    refusal: str,
) -> None:
    _edit_and_rehash(tamper, rehash, 8)
    path = store_file(store)
    path.write_text("\n".join(forge(path.read_text().splitlines(), checkpointed)) + "\n")
    report = _verify(checkpointed, store, checkpoint_keys)
    assert report.anchor is not None
    assert report.intact is False
    assert [(p.line, p.checkpoint) for p in report.anchor.refused] == [(2, None)]
    assert re.match(refusal, report.anchor.refused[0].message)
    assert (report.anchor.checkpoints, report.anchor.unanchored) == (1, 3)  # only checkpoint 1 counts


def test_a_checkpoint_taken_out_of_the_middle_of_the_store_is_missed(
    checkpointed: Database, store: Path, checkpoint_keys: CheckpointKeys, append: Append
) -> None:
    append(1)
    _write(checkpointed, store, checkpoint_keys.key)
    path = store_file(store)
    lines = path.read_text().splitlines()
    path.write_text(f"{lines[0]}\n{lines[2]}\n")
    report = _verify(checkpointed, store, checkpoint_keys)
    assert report.anchor is not None
    assert (report.intact, report.problems) == (False, [])
    assert [(p.line, p.checkpoint, p.message) for p in report.anchor.refused] == [
        (2, 3, "checkpoint 2 is missing before checkpoint 3: removed from the store, or refused above")
    ]


def test_a_line_cut_short_is_reported_once(
    checkpointed: Database, store: Path, checkpoint_keys: CheckpointKeys
) -> None:
    path = store_file(store)
    path.write_bytes(path.read_bytes()[:-100])
    report = _verify(checkpointed, store, checkpoint_keys)
    assert report.anchor is not None
    assert (report.intact, report.anchor.checkpoints) == (False, 1)
    assert [(p.line, p.message) for p in report.anchor.refused] == [
        (2, "line 2 is incomplete: a write was cut short, or the file was cut")
    ]


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        pytest.param(
            "UPDATE audit_log SET actor = 'op-9' WHERE seq = 8",
            "does not extend checkpoint 2: entry 9, which it signed with hash [0-9a-f]{16}…, now has hash",
            id="edit-and-rehash",
        ),
        pytest.param(
            "DELETE FROM audit_log WHERE seq > 7",
            "does not extend checkpoint 2: entry 9, which it signed with hash [0-9a-f]{16}…, is no longer there",
            id="cut",
        ),
    ],
)
def test_no_checkpoint_is_signed_over_a_trail_rewritten_since_the_last(
    checkpointed: Database,
    store: Path,
    checkpoint_keys: CheckpointKeys,
    tamper: Tamper,
    rehash: Rehash,
    append: Append,
    sql: str,
    match: str,
) -> None:
    tamper(sql)
    rehash(1)
    append(1)
    before = store_file(store).read_bytes()
    with pytest.raises(TrailDiverges, match=match):
        write_checkpoint(database=checkpointed, directory=store, key=checkpoint_keys.key, now=utc_now(), always=True)
    assert store_file(store).read_bytes() == before


def test_a_store_s_first_checkpoint_is_not_signed_over_a_broken_chain(
    trail: Database, store: Path, checkpoint_keys: CheckpointKeys, tamper: Tamper
) -> None:
    tamper("UPDATE audit_log SET actor = 'op-9' WHERE seq = 3")
    with pytest.raises(TrailDiverges, match="does not extend the start of the trail: entry 3 does not follow entry 2"):
        write_checkpoint(database=trail, directory=store, key=checkpoint_keys.key, now=utc_now(), always=True)
    assert store_file(store).read_text() == ""


def test_the_scheduler_s_checkpoint_waits_for_the_trail_to_grow(
    trail: Database, store: Path, checkpoint_keys: CheckpointKeys, append: Append
) -> None:
    def write(always: bool) -> Checkpoint | None:
        return write_checkpoint(database=trail, directory=store, key=checkpoint_keys.key, now=utc_now(), always=always)

    assert [(c.n, c.seq) for c in (write(False), write(True)) if c is not None] == [(1, 6), (2, 6)]
    assert write(False) is None
    append(1)
    written = write(False)
    assert (written is not None and (written.n, written.seq, written.entries)) == (3, 7, 7)


def test_an_empty_trail_can_be_checkpointed_on_demand(
    database: Database, store: Path, checkpoint_keys: CheckpointKeys
) -> None:
    assert (
        write_checkpoint(database=database, directory=store, key=checkpoint_keys.key, now=utc_now(), always=False)
        is None
    )
    written = write_checkpoint(database=database, directory=store, key=checkpoint_keys.key, now=utc_now(), always=True)
    assert written is not None
    assert (written.seq, written.entries, written.hash) == (0, 0, "0" * 64)
    assert _verify(database, store, checkpoint_keys).intact


def test_the_store_folder_must_exist_and_its_last_line_must_be_the_key_s(
    trail: Database, store: Path, checkpoint_keys: CheckpointKeys, tmp_path: Path
) -> None:
    key = checkpoint_keys.key
    with pytest.raises(CheckpointStoreError, match="does not exist; create it"):
        write_checkpoint(database=trail, directory=tmp_path / "unmounted", key=key, now=utc_now(), always=True)
    with pytest.raises(CheckpointStoreError, match="does not exist"):
        read_store(directory=tmp_path / "unmounted", public_key=key.public_key())
    _write(trail, store, Ed25519PrivateKey.generate())  # a store begun with another key
    with pytest.raises(
        CheckpointStoreError,
        match=r"refused \(checkpoint 1 was signed by key \w+, not by the given key \w+\), so no checkpoint can follow",
    ):
        write_checkpoint(database=trail, directory=store, key=key, now=utc_now(), always=True)
    with store_file(store).open("a") as file:
        file.write('{"v": 1, "n": 2')  # a write cut short
    with pytest.raises(CheckpointStoreError, match="is incomplete"):
        write_checkpoint(database=trail, directory=store, key=key, now=utc_now(), always=True)


def test_the_signing_key_is_made_private_and_refused_when_others_may_read_it(tmp_path: Path) -> None:
    private, public = tmp_path / "checkpoint.key", tmp_path / "checkpoint.pub"
    create_checkpoint_keys(private, public)
    assert os.stat(private).st_mode & 0o777 == 0o600
    with pytest.raises(CheckpointKeyError, match="already exists"):
        create_checkpoint_keys(private, tmp_path / "other.pub")
    private.chmod(0o640)
    with pytest.raises(CheckpointKeyError, match=r"mode 0640\); `chmod 600"):
        load_checkpoint_signing_key(private)
    with pytest.raises(CheckpointKeyError, match="vigil audit keys"):
        load_checkpoint_signing_key(tmp_path / "missing.key")
    public.chmod(0o600)
    with pytest.raises(CheckpointKeyError, match="not a PEM private key"):
        load_checkpoint_signing_key(public)


def test_a_checkpoint_store_needs_its_key_and_a_key_its_store() -> None:
    with pytest.raises(ValidationError, match="or neither"):
        AuditSettings(checkpoint_dir=Path("/srv/auditor"))
    with pytest.raises(ValidationError, match="or neither"):
        AuditSettings(checkpoint_key_file=Path("/etc/vigil/checkpoint.key"))
