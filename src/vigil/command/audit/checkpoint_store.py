"""The checkpoint store: an append-only JSON-lines file of signed checkpoints, in a folder outside the database.

``<folder>/audit-checkpoints.jsonl`` holds one checkpoint per line
(:class:`~vigil.command.audit.checkpoint.Checkpoint`), oldest first. The folder must exist (it is never created,
so that a share that failed to mount is not silently replaced by a local folder). Writers hold an exclusive
``flock`` on the file, so the server's job and ``vigil audit checkpoint`` never interleave; each line is written
in one ``write`` and synced to disk before the writer lets go.

Reading checks every line's signature against the given public key and the store's own chain (numbers ``n``
consecutive, each ``prev`` the digest of the checkpoint before): a line refused, or a checkpoint missing, is a
:class:`~vigil.command.audit.schemas.CheckpointProblem`. Every checkpoint whose signature holds is kept for
checking the trail: a signed checkpoint is the key holder's word whatever became of its neighbours.
"""

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.command.audit.checkpoint import Checkpoint, key_id, read_checkpoint
from vigil.command.audit.errors import CheckpointRefused, CheckpointStoreError
from vigil.command.audit.schemas import CheckpointProblem

STORE_FILE = "audit-checkpoints.jsonl"
_TAIL_BYTES = 64 * 1024
"""Enough of the file's end to hold its last line (a checkpoint is some 400 bytes)."""


@dataclass(frozen=True)
class StoreReading:
    """What a store holds.

    Attributes:
        path: the store's file.
        key_id: the key the checkpoints were checked with.
        checkpoints: those signed by the key, oldest first.
        problems: lines refused and checkpoints missing, in file order.
    """

    path: Path
    key_id: str
    checkpoints: list[Checkpoint]
    problems: list[CheckpointProblem]


def store_file(directory: Path) -> Path:
    """The store's file in ``directory``."""
    return directory / STORE_FILE


def append_checkpoint(
    *,
    directory: Path,
    public_key: Ed25519PublicKey,
    make: Callable[[Checkpoint | None], Checkpoint | None],
) -> Checkpoint | None:
    """Under the store's lock, make the next checkpoint from the last one (None: an empty store) and append it.

    Args:
        directory: the store's folder.
        public_key: the signing key's public half, to check the last checkpoint with.
        make: given the last checkpoint, the next one, or None to write nothing.

    Returns:
        The checkpoint appended, or None when ``make`` gave none.

    Raises:
        CheckpointStoreError: the folder is missing, the file cannot be read or written, or its last line is
            refused (no checkpoint may follow one that is not the key's).
    """
    path = checked_store(directory)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(descriptor, "a+b") as file:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            checkpoint = make(_last(file, path=path, public_key=public_key))
            if checkpoint is None:
                return None
            file.write((checkpoint.line() + "\n").encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
            return checkpoint
    except OSError as exc:
        raise CheckpointStoreError(f"the checkpoint store {path} cannot be written: {exc}", store=path) from exc


def read_store(*, directory: Path, public_key: Ed25519PublicKey) -> StoreReading:
    """Every checkpoint in the store that ``public_key`` signed, and what is wrong with the rest.

    Raises:
        CheckpointStoreError: the folder is missing or the file cannot be read.
    """
    path = checked_store(directory)
    try:
        with path.open("rb") as file:
            fcntl.flock(file.fileno(), fcntl.LOCK_SH)
            data = file.read()
    except FileNotFoundError:
        return StoreReading(path=path, key_id=key_id(public_key), checkpoints=[], problems=[])
    except OSError as exc:
        raise CheckpointStoreError(f"the checkpoint store {path} cannot be read: {exc}", store=path) from exc
    checkpoints: list[Checkpoint] = []
    problems: list[CheckpointProblem] = []
    previous: Checkpoint | None = None
    lines = data.split(b"\n")
    torn = lines.pop()  # what follows the last newline: nothing, unless a write was cut short
    for number, raw in enumerate(lines, start=1):
        try:
            checkpoint = read_checkpoint(raw.decode("utf-8", errors="replace"), public_key=public_key)
        except CheckpointRefused as exc:
            problems.append(CheckpointProblem(line=number, checkpoint=None, message=f"line {number} refused: {exc}"))
            continue
        gap = _gap(previous, checkpoint)
        if gap is not None:
            problems.append(CheckpointProblem(line=number, checkpoint=checkpoint.n, message=gap))
        checkpoints.append(checkpoint)
        previous = checkpoint
    if torn:
        problems.append(
            CheckpointProblem(
                line=len(lines) + 1,
                checkpoint=None,
                message=f"line {len(lines) + 1} is incomplete: a write was cut short, or the file was cut",
            )
        )
    return StoreReading(path=path, key_id=key_id(public_key), checkpoints=checkpoints, problems=problems)


def _gap(previous: Checkpoint | None, checkpoint: Checkpoint) -> str | None:
    expected = previous.n + 1 if previous is not None else 1
    if checkpoint.n < expected:
        return f"checkpoint {checkpoint.n} comes again after checkpoint {expected - 1}: lines were copied or moved"
    if checkpoint.n > expected:
        missing = (
            f"checkpoint {expected} is"
            if checkpoint.n == expected + 1
            else f"checkpoints {expected} to {checkpoint.n - 1} are"
        )
        return f"{missing} missing before checkpoint {checkpoint.n}: removed from the store, or refused above"
    if previous is not None and checkpoint.prev != previous.digest():
        return (
            f"checkpoint {checkpoint.n} was not written after the checkpoint {previous.n} now before it: "
            "one of them was replaced"
        )
    return None


def checked_store(directory: Path) -> Path:
    """The store's file in ``directory``, once the folder is found to exist.

    Raises:
        CheckpointStoreError: there is no such folder (a share not mounted, a typo).
    """
    if not directory.is_dir():
        raise CheckpointStoreError(
            f"the checkpoint store folder {directory} does not exist; create it (or mount the auditor's share "
            "there) first",
            store=directory,
        )
    return store_file(directory)


def _last(file: BinaryIO, *, path: Path, public_key: Ed25519PublicKey) -> Checkpoint | None:
    size = file.seek(0, os.SEEK_END)
    if size == 0:
        return None
    file.seek(max(0, size - _TAIL_BYTES))
    tail = file.read()
    if not tail.endswith(b"\n"):
        raise CheckpointStoreError(
            f"the last line of the checkpoint store {path} is incomplete (a write cut short, or the file cut); "
            "keep the file as evidence and give the server a new store folder",
            store=path,
        )
    line = tail[:-1].rsplit(b"\n", 1)[-1]
    try:
        return read_checkpoint(line.decode("utf-8", errors="replace"), public_key=public_key)
    except CheckpointRefused as exc:
        raise CheckpointStoreError(
            f"the last line of the checkpoint store {path} is refused ({exc}), so no checkpoint can follow it; keep "
            "the file as evidence and give the server a new store folder (and key, if this one may have leaked)",
            store=path,
        ) from exc
