"""Several events in one HTTP request: split, then ingested one transaction each."""

import json

from sqlalchemy.orm import Session

from vigil.command.errors import BatchTooLarge
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import Transport
from vigil.command.ingestion.schemas import EventOutcome, IngestResponse, Outcome
from vigil.command.ingestion.service import ingest
from vigil.command.settings import IngestionLimits
from vigil.dispatch.planning import DispatchPlanning


def ingest_request(
    *,
    session: Session,
    body: bytes,
    authenticated_device_id: str,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    planning: DispatchPlanning | None = None,
) -> IngestResponse:
    """Ingest the events of one HTTP request, one transaction each: a bad one does not stop the others.

    Args:
        session: as for :func:`ingest`.
        body: one event's JSON, or a JSON array of events.
        authenticated_device_id: the device whose token the request carried.
        limits: what is accepted.
        metrics: counted here.
        planning: as for :func:`ingest`.

    Returns:
        Each event's result, and the ids now stored.

    Raises:
        BatchTooLarge: more events than ``limits.max_batch_events``.
        DatabaseUnavailable: the database failed; the events before stay committed.
    """
    results = [
        EventOutcome.of(
            index,
            ingest(
                session=session,
                raw=raw,
                transport=Transport.HTTP,
                authenticated_device_id=authenticated_device_id,
                limits=limits,
                metrics=metrics,
                planning=planning,
            ),
        )
        for index, raw in enumerate(split_batch(body, max_events=limits.max_batch_events))
    ]
    return IngestResponse(
        results=results,
        committed=[r.event_id for r in results if r.committed and r.event_id is not None],
        accepted=sum(r.outcome is Outcome.ACCEPTED for r in results),
        duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
        rejected=sum(r.outcome is Outcome.REJECTED for r in results),
    )


def split_batch(body: bytes, *, max_events: int) -> list[bytes]:
    """The events of a request body: a JSON array's items, or the body itself as one event.

    A body that is not a JSON array is one event (perhaps malformed: ingestion says so).

    Raises:
        BatchTooLarge: more than ``max_events`` items.
    """
    if not body.lstrip().startswith(b"["):
        return [body]
    try:
        items = json.loads(body)
    except (ValueError, RecursionError):
        return [body]
    if not isinstance(items, list):
        return [body]
    if len(items) > max_events:
        raise BatchTooLarge(count=len(items), limit=max_events)
    return [json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8") for item in items]
