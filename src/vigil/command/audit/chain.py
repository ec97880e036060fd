"""The audit chain's arithmetic: an entry's canonical content, its hash, and what its details may hold.

An entry's hash is ``SHA-256(prev_hash || content)``, hex, where ``content`` is the canonical JSON (sorted keys,
no spaces, UTF-8) of ``at`` (UTC, RFC 3339 with microseconds), ``actor``, ``action``, ``record_type``,
``record_id``, ``address`` and ``details``. The position (``seq``) is not hashed: the order is carried by each
entry naming its predecessor's hash, which is what lets verification tell an entry moved from one edited.

Details hold ids, counts and flags, never biometric data: strings of at most :data:`MAX_DETAIL_STRING`
characters, numbers, booleans, null, and lists of at most :data:`MAX_DETAIL_ITEMS` strings or integers. An
image or an embedding cannot fit through that gap.
"""

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.command.errors import InvalidAuditEntry

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

MAX_DETAIL_STRING = 200
MAX_DETAIL_ITEMS = 1000
MAX_DETAILS_BYTES = 16 * 1024

ACTION_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
"""Dotted names: ``user.signed_in``, ``alert.probe_viewed``."""

SYSTEM_ACTOR = "system"
"""The actor of what the server or its command line does on its own authority."""

ANONYMOUS_ACTOR = "anonymous"
"""The actor of an unauthenticated request (a failed sign-in under an unknown name)."""

DEVICE_ACTOR_PREFIX = "device:"
"""``device:<device id>``: the actor of what a body camera does."""


@dataclass(frozen=True)
class EntryContent:
    """What an entry says, as hashed."""

    at: datetime
    actor: str
    action: str
    record_type: str
    record_id: str | None
    address: str | None
    details: str

    def canonical(self) -> str:
        """The canonical JSON text that is hashed."""
        document = {
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": self.action,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "address": self.address,
            "details": json.loads(self.details),
        }
        return _canonical_json(document)


def entry_hash(prev_hash: str, content: EntryContent) -> str:
    """The hash of an entry that follows the entry whose hash is ``prev_hash``, hex."""
    return hashlib.sha256((prev_hash + content.canonical()).encode("utf-8")).hexdigest()


def canonical_details(details: Mapping[str, object] | None) -> str:
    """Details as canonical JSON text, once checked to hold only ids, counts and flags.

    Raises:
        InvalidAuditEntry: a value of another type, a string or list too long, or too much in all.
    """
    if not details:
        return "{}"
    for key, value in details.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            raise InvalidAuditEntry(f"audit detail key {key!r} is not a short snake_case name")
        _check_value(key, value)
    text = _canonical_json(dict(details))
    if len(text.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise InvalidAuditEntry(
            f"audit details are {len(text.encode('utf-8')):,} bytes; the limit is {MAX_DETAILS_BYTES:,} (ids and "
            "counts only)"
        )
    return text


def _check_value(key: str, value: object) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidAuditEntry(f"audit detail {key!r} is {value}; only finite numbers are kept")
        return
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_STRING:
            raise InvalidAuditEntry(
                f"audit detail {key!r} is a string of {len(value):,} characters; the limit is {MAX_DETAIL_STRING} "
                "(ids only: never images, embeddings or free text)"
            )
        return
    if isinstance(value, list | tuple):
        if len(value) > MAX_DETAIL_ITEMS:
            raise InvalidAuditEntry(
                f"audit detail {key!r} lists {len(value):,} items; the limit is {MAX_DETAIL_ITEMS:,}"
            )
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise InvalidAuditEntry(
                    f"audit detail {key!r} lists a {type(item).__name__}; lists hold ids (strings or integers) only"
                )
            _check_value(key, item)
        return
    raise InvalidAuditEntry(
        f"audit detail {key!r} is a {type(value).__name__}; details hold ids, counts and flags only"
    )


def _canonical_json(document: object) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
