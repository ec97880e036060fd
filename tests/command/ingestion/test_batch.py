"""Several events in one request: each stands or falls alone."""

import pytest

from tests.command.conftest import Register
from tests.command.events import position, with_fields
from vigil.command.database import Database
from vigil.command.errors import BatchTooLarge
from vigil.command.ingestion.batch import ingest_request, split_batch
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.schemas import Outcome
from vigil.command.settings import IngestionLimits
from vigil.events import encode_event


def test_a_batch_keeps_the_good_events_around_a_bad_one(
    register: Register, database: Database, limits: IngestionLimits
) -> None:
    register("cam-1", "A-12")
    good = [position(), position(lat=51.51)]
    body = b"[" + b",".join([encode_event(good[0]), with_fields(position(), lat=-95), encode_event(good[1])]) + b"]"
    metrics = IngestionMetrics()
    with database.session() as session:
        response = ingest_request(
            session=session, body=body, authenticated_device_id="cam-1", limits=limits, metrics=metrics
        )
    assert [(r.index, r.outcome) for r in response.results] == [
        (0, Outcome.ACCEPTED),
        (1, Outcome.REJECTED),
        (2, Outcome.ACCEPTED),
    ]
    assert response.committed == [good[0].id, good[1].id]
    assert (response.accepted, response.duplicates, response.rejected) == (2, 0, 1)
    counts = metrics.snapshot()
    assert (counts.accepted, counts.rejected_by_reason) == (2, {RejectReason.MALFORMED: 1})
    assert counts.by_transport[Transport.HTTP].rejected == 1
    # One transaction per event, each timed stage by stage.
    timing = counts.timing
    assert (timing.batches, timing.events, timing.acks, timing.ack_s) == (3, 3, 0, 0)
    assert min(timing.read_s, timing.check_s, timing.store_s, timing.feed_s, timing.commit_s) > 0


@pytest.mark.parametrize(
    ("body", "events"),
    [
        (b'{"a": 1}', [b'{"a": 1}']),
        (b' [{"a": 1}, 2]', [b'{"a":1}', b"2"]),
        (b"[not json", [b"[not json"]),
        (b"[]", []),
        (b"[" * 100_000, [b"[" * 100_000]),
    ],
    ids=["one event", "array", "broken array", "empty", "absurdly deep"],
)
def test_a_body_splits_into_its_events(body: bytes, events: list[bytes]) -> None:
    assert split_batch(body, max_events=10) == events


def test_too_many_events_in_one_request_is_refused() -> None:
    with pytest.raises(BatchTooLarge, match="11 events; the limit is 10"):
        split_batch(b"[" + b",".join([b"{}"] * 11) + b"]", max_events=10)
