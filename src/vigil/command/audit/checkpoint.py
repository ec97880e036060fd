"""A checkpoint: the audit trail's head, signed with a key kept outside the database.

A hash chain shows an entry edited or removed *unless* every hash after it was recomputed, and it cannot show
entries cut off its end. A checkpoint closes both gaps: it says "entry ``seq`` of the trail had hash ``hash``,
and the chain held ``entries`` entries up to it, at time ``at``", signed with Ed25519 by a key the database
does not hold. Whoever rewrites the trail after that cannot make entry ``seq`` hash the same again, nor sign a
new checkpoint without the key.

Checkpoints are kept in a store (:mod:`vigil.command.audit.checkpoint_store`), where they chain as well: each
carries its number ``n`` in the store and ``prev``, the SHA-256 of the canonical line of the checkpoint before it
(64 zeros for the first), so one taken out of the middle of a store shows.

The signed bytes are :data:`SIGNING_CONTEXT` followed by the canonical JSON (sorted keys, no spaces, UTF-8) of
every field but ``signature``; ``at`` is written in UTC with microseconds. ``key_id`` names the key (the first 16
hex digits of the SHA-256 of its raw public bytes), so a checkpoint signed by another key is refused by name.
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.command.audit.chain import GENESIS_HASH
from vigil.command.audit.errors import CheckpointRefused

SIGNING_CONTEXT = b"vigil.audit.checkpoint.v1\n"
"""Prefixed to what is signed, so that a checkpoint signature means nothing anywhere else."""

_HEX64 = r"^[0-9a-f]{64}$"


@dataclass(frozen=True)
class TrailHead:
    """The trail's last entry, as a checkpoint signs it.

    Attributes:
        seq: the last entry's number (0 for an empty trail).
        hash: its hash (:data:`~vigil.command.audit.chain.GENESIS_HASH` for an empty trail).
        entries: how many entries the chain holds up to it.
    """

    seq: int
    hash: str
    entries: int

    def __post_init__(self) -> None:
        if self.seq < 0 or self.entries < 0 or self.entries > self.seq:
            raise ValueError(f"a trail head has 0 <= entries <= seq; got seq {self.seq}, entries {self.entries}")


class Checkpoint(BaseModel):
    """One signed checkpoint, as one line of a checkpoint store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = Field(1, description="The checkpoint format.")
    n: int = Field(ge=1, description="Its number in its store, from 1.")
    prev: str = Field(pattern=_HEX64, description="SHA-256 of the previous checkpoint's canonical line; zeros first.")
    seq: int = Field(ge=0, description="The trail's last entry when it was signed (0: the trail was empty).")
    hash: str = Field(pattern=_HEX64, description="That entry's hash.")
    entries: int = Field(ge=0, description="Entries in the chain up to that entry.")
    at: datetime = Field(description="When it was signed (UTC).")
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Which key signed it (see key_id()).")
    signature: str = Field(description="Ed25519 signature of the signed bytes, base64.")

    def signed_bytes(self) -> bytes:
        """What the signature covers: the context, then the canonical JSON of every field but the signature."""
        return SIGNING_CONTEXT + _canonical(self._body()).encode("utf-8")

    def line(self) -> str:
        """The checkpoint as one canonical JSON line (no newline)."""
        return _canonical({**self._body(), "signature": self.signature})

    def digest(self) -> str:
        """SHA-256 of :meth:`line`, hex: the next checkpoint's ``prev``."""
        return hashlib.sha256(self.line().encode("utf-8")).hexdigest()

    def head(self) -> TrailHead:
        """The trail head it signed."""
        return TrailHead(seq=self.seq, hash=self.hash, entries=self.entries)

    def _body(self) -> dict[str, object]:
        return {
            "v": self.v,
            "n": self.n,
            "prev": self.prev,
            "seq": self.seq,
            "hash": self.hash,
            "entries": self.entries,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": self.key_id,
        }


def key_id(public_key: Ed25519PublicKey) -> str:
    """A key's short name: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_checkpoint(
    *, head: TrailHead, previous: Checkpoint | None, key: Ed25519PrivateKey, now: datetime
) -> Checkpoint:
    """The checkpoint that follows ``previous`` in its store, signing ``head`` at ``now`` (timezone-aware)."""
    unsigned = Checkpoint(
        n=previous.n + 1 if previous is not None else 1,
        prev=previous.digest() if previous is not None else GENESIS_HASH,
        seq=head.seq,
        hash=head.hash,
        entries=head.entries,
        at=now.astimezone(UTC),
        key_id=key_id(key.public_key()),
        signature="",
    )
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode("ascii")
    return unsigned.model_copy(update={"signature": signature})


def read_checkpoint(line: str, *, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint a store line holds, once its signature is checked against ``public_key``.

    Raises:
        CheckpointRefused: the line is not a checkpoint, was signed by another key, or was changed after signing.
    """
    try:
        checkpoint = Checkpoint.model_validate(json.loads(line))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise CheckpointRefused(f"it is not a checkpoint ({_first_line(exc)})") from exc
    expected = key_id(public_key)
    if checkpoint.key_id != expected:
        raise CheckpointRefused(
            f"checkpoint {checkpoint.n} was signed by key {checkpoint.key_id}, not by the given key {expected}"
        )
    try:
        public_key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.signed_bytes())
    except (InvalidSignature, binascii.Error) as exc:
        raise CheckpointRefused(
            f"checkpoint {checkpoint.n}'s signature does not match what it says: it was changed after it was signed, "
            f"or forged"
        ) from exc
    return checkpoint


def _canonical(document: dict[str, object]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
