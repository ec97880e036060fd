"""In-process counters of ingestion outcomes, shared by the HTTP handlers and the bus subscriber.

They also add up where ingestion's time goes (:class:`StageTimes` per transaction, the ack sender's rounds):
``vigil bench ingest`` reads them before and after its measured time to give a position's cost per stage.

With an MQTT bus, the snapshot also says how the servers' share group stands (``share_group``): members that went
away without leaving hold a share of the events until their session expires (:mod:`.group`).
"""

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vigil.command.ingestion.group import ShareGroupStatus
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.schemas import IngestionCounts, IngestionTiming, IngestResult, Outcome, TransportCounts


@dataclass
class StageTimes:
    """Wall-clock seconds one ingestion spent in each stage (see :class:`IngestionTiming`)."""

    read_s: float = 0.0
    check_s: float = 0.0
    store_s: float = 0.0
    feed_s: float = 0.0
    commit_s: float = 0.0


class IngestionMetrics:
    """Counts of accepted, duplicate and rejected events (per reason and per transport). Thread-safe."""

    def __init__(self) -> None:
        """Start every count at zero."""
        self._lock = threading.Lock()
        self._counts: Counter[tuple[Transport, Outcome, RejectReason | None]] = Counter()
        self._timing = IngestionTiming()
        self._group: Callable[[], ShareGroupStatus] | None = None

    def watch_group(self, status: Callable[[], ShareGroupStatus]) -> None:
        """Include the share group's status, as ``status`` tells it, in every snapshot."""
        self._group = status

    def count(self, *, transport: Transport, results: Sequence[IngestResult], stages: StageTimes | None = None) -> None:
        """Count results (one lock for a whole batch), and the time their transaction took in each stage."""
        counted = Counter((transport, result.outcome, result.reason) for result in results)
        with self._lock:
            self._counts.update(counted)
            if stages is not None:
                timing = self._timing
                timing.batches += 1
                timing.events += len(results)
                timing.read_s += stages.read_s
                timing.check_s += stages.check_s
                timing.store_s += stages.store_s
                timing.feed_s += stages.feed_s
                timing.commit_s += stages.commit_s

    def count_acks(self, *, acks: int, seconds: float) -> None:
        """Count a round of ack messages published, and the time publishing them took."""
        with self._lock:
            self._timing.acks += acks
            self._timing.ack_s += seconds

    def snapshot(self) -> IngestionCounts:
        """The counts now."""
        with self._lock:
            counts = dict(self._counts)
            timing = self._timing.model_copy()
        by_outcome: Counter[Outcome] = Counter()
        by_reason: Counter[RejectReason] = Counter()
        by_transport = {transport: TransportCounts() for transport in Transport}
        for (transport, outcome, reason), count in counts.items():
            by_outcome[outcome] += count
            if reason is not None:
                by_reason[reason] += count
            current = by_transport[transport]
            by_transport[transport] = current.model_copy(
                update={outcome.value: getattr(current, outcome.value) + count}
            )
        return IngestionCounts(
            accepted=by_outcome[Outcome.ACCEPTED],
            duplicate=by_outcome[Outcome.DUPLICATE],
            rejected=by_outcome[Outcome.REJECTED],
            rejected_by_reason=dict(by_reason),
            by_transport=by_transport,
            share_group=self._group() if self._group is not None else None,
            timing=timing,
        )
