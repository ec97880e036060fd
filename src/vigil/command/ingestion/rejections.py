"""Rejected events (the dead letters): what is kept of an event turned away, and how many are kept.

A rejection keeps its reason, what the event claimed about itself (id, type, device: each cut to its column) and
an *excerpt* of what arrived, at most ``IngestionLimits.max_rejected_raw_bytes``. The excerpt never holds a face
crop: an alert's ``probe_jpeg`` is taken out before cutting, and so is any other long run of base64 (what a crop
becomes in JSON), so a malformed or hostile document cannot smuggle one in. A rejected alert is never reviewed,
so nothing would ever delete its crop; it is not kept in the first place.

The table stays bounded, whoever sends:

* **by count, per transport**: each transaction that records rejections keeps only the newest
  ``IngestionLimits.max_rejected_events`` of their transport (the oldest go first: the newest say what is wrong
  now). Per transport, because OsmAnd requests are the only rejections that may come from anyone unauthenticated;
  a flood of them pushes out older OsmAnd rejections, never body cameras' dead letters (MQTT, or HTTP with a
  device token). A rate limit per source was not chosen: an unauthenticated sender's "source" is whatever id it
  claims, or an address that many phones share behind a carrier's NAT or a proxy.
* **by age**: retention deletes rejections older than ``RetentionSettings.rejected_event_s``
  (:func:`delete_rejections_before`).
"""

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.settings import IngestionLimits
from vigil.events import MAX_EVENT_BYTES

_log = logging.getLogger(__name__)

MAX_CLAIM_CHARS = 200
"""The longest claimed device id kept (the column's size); longer ones are cut."""
_MAX_TYPE_CHARS = 64
_MAX_MESSAGE_CHARS = 2000
_CROP_FIELD = "probe_jpeg"
# A run this long of base64 characters is an image or other blob, never an id, a time or a number.
_BLOB = re.compile(rb"[A-Za-z0-9+/]{100,}={0,2}")


@dataclass(frozen=True)
class Claim:
    """What an event says about itself, read without trusting it: for the rejection record and the ack."""

    event_id: uuid.UUID | None = None
    type: str | None = None
    device_id: str | None = None
    probe_base64: str | None = None

    @classmethod
    def read(cls, raw: bytes) -> "Claim":
        """Whatever of ``id``, ``type``, ``device_id`` and ``probe_jpeg`` the bytes hold (nothing when unreadable)."""
        document = _json_object(raw)
        if document is None:
            return cls()
        event_id = None
        claimed_id = document.get("id")
        if isinstance(claimed_id, str):
            try:
                event_id = uuid.UUID(claimed_id)
            except ValueError:
                event_id = None
        probe = document.get(_CROP_FIELD)
        return cls(
            event_id=event_id,
            type=_text(document.get("type")),
            device_id=_text(document.get("device_id")),
            probe_base64=probe if isinstance(probe, str) else None,
        )


def excerpt(raw: bytes, *, limit_bytes: int) -> bytes:
    """What is kept of a rejected event's bytes: at most ``limit_bytes``, face crops and other blobs taken out.

    A JSON object loses its ``probe_jpeg`` value (replaced by a note of its length); then, in any bytes, each run
    of 100 or more base64 characters is replaced by a note of its length; then the result is cut.
    """
    document = _json_object(raw)
    if document is not None and _CROP_FIELD in document:
        crop = document[_CROP_FIELD]
        size = f"{len(crop):,} characters" if isinstance(crop, str) else "a value"
        document[_CROP_FIELD] = f"<face crop removed: {size}>"
        raw = json.dumps(document, ensure_ascii=False).encode("utf-8")
    kept = _BLOB.sub(lambda blob: f"<{len(blob[0]):,} base64 characters removed>".encode(), raw)
    return kept[:limit_bytes]


def add_rejection(
    *,
    session: Session,
    raw: bytes,
    claim: Claim,
    transport: Transport,
    sender_device_id: str | None,
    reason: RejectReason,
    message: str,
    limits: IngestionLimits,
    now: datetime,
) -> IngestResult:
    """Add a rejected event's record (see the module's docstring for what is kept); the caller trims and commits.

    Args:
        session: the transaction.
        raw: what arrived.
        claim: what it says about itself.
        transport: how it arrived.
        sender_device_id: the device the transport authenticated; None when none was (an OsmAnd request refused
            before its secret was checked, or whose secret did not match).
        reason: why it was rejected.
        message: the rejection, for a person (returned to the sender as it is; stored cut to 2,000 characters).
        limits: how much of it is kept.
        now: the time of receipt (UTC).

    Returns:
        The rejected result.
    """
    session.add(
        RejectedEvent(
            received_at=now,
            transport=transport,
            sender_device_id=_cut(sender_device_id, MAX_CLAIM_CHARS),
            claimed_device_id=_cut(claim.device_id, MAX_CLAIM_CHARS),
            claimed_event_id=claim.event_id,
            claimed_type=_cut(claim.type, _MAX_TYPE_CHARS),
            reason=reason,
            message=message[:_MAX_MESSAGE_CHARS],
            raw=excerpt(raw, limit_bytes=limits.max_rejected_raw_bytes),
            raw_size=len(raw),
        )
    )
    _log.warning(
        "ingestion.rejected",
        extra={
            "reason": reason.value,
            "transport": transport.value,
            "device_id": _cut(sender_device_id or claim.device_id, MAX_CLAIM_CHARS),
            "size": len(raw),
        },
    )
    return IngestResult(
        outcome=Outcome.REJECTED, event_id=claim.event_id, type=claim.type, reason=reason, message=message
    )


def record_rejection(
    *,
    session: Session,
    raw: bytes,
    claim: Claim,
    transport: Transport,
    sender_device_id: str | None,
    reason: RejectReason,
    message: str,
    limits: IngestionLimits,
    now: datetime,
) -> IngestResult:
    """Store a rejected event as :func:`add_rejection` does, keep its transport's newest, and commit.

    Returns:
        The rejected result.
    """
    result = add_rejection(
        session=session,
        raw=raw,
        claim=claim,
        transport=transport,
        sender_device_id=sender_device_id,
        reason=reason,
        message=message,
        limits=limits,
        now=now,
    )
    trim_rejections(session=session, transport=transport, keep=limits.max_rejected_events)
    session.commit()
    return result


def trim_rejections(*, session: Session, transport: Transport, keep: int) -> int:
    """Delete all but the newest ``keep`` rejections of ``transport`` (those added in this transaction count).

    The caller commits.

    Returns:
        How many were deleted.
    """
    oldest_kept = (
        select(RejectedEvent.id)
        .where(RejectedEvent.transport == transport)
        .order_by(RejectedEvent.id.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    result = session.execute(
        delete(RejectedEvent)
        .where(RejectedEvent.transport == transport, RejectedEvent.id < oldest_kept)
        .execution_options(synchronize_session=False)
    )
    deleted = int(result.rowcount)  # type: ignore[attr-defined]
    if deleted:
        _log.info("ingestion.rejections_trimmed", extra={"transport": transport.value, "deleted": deleted})
    return deleted


def delete_rejections_before(*, session: Session, cutoff: datetime) -> int:
    """Delete the rejections received at or before ``cutoff`` (UTC); the caller commits.

    Returns:
        How many were deleted.
    """
    result = session.execute(
        delete(RejectedEvent).where(RejectedEvent.received_at <= cutoff).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _json_object(raw: bytes) -> dict[str, object] | None:
    if len(raw) > MAX_EVENT_BYTES:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return document if isinstance(document, dict) else None


def _text(value: object) -> str | None:
    return value[:MAX_CLAIM_CHARS] if isinstance(value, str) else None


def _cut(text: str | None, limit: int) -> str | None:
    return text[:limit] if text is not None else None
