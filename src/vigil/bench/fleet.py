"""Simulated body cameras for ``vigil bench ingest``: one phase of a fleet, measured.

The fleet itself (every device's MQTT connection, served by one thread, unpaced or paced) is
:class:`vigil.sim.mqtt_fleet.MqttFleet`; its events are :class:`vigil.sim.device_events.DeviceEvents`, encoded
before the phase starts so that the fleet's Python spends the phase publishing. Unpaced, each device keeps up to
``window`` events unacknowledged; paced, the devices publish at a fixed rate for the whole fleet, whether or not
acks have come back (up to 1,000 unacknowledged per device).

The fleet runs in a process of its own (started by :mod:`vigil.bench.ingest`), so its Python does not share a
GIL with the server's; given CPUs, it pins itself to them first.

As the measured time starts and as it ends, the fleet reads each server's ``GET /api/v1/metrics`` (the accepted
count and, where the server has it, ``ingestion.timing``: the time spent in each stage of ingestion) and, at the
same moment, the CPU time of the servers, the broker, itself and PostgreSQL's processes (:mod:`vigil.bench.cpu`).

A device's latency is from just before its ``publish`` to the arrival of the ``ack`` naming the event, which the
server sends only after the commit: publish → broker → server → commit → ack → broker → device, an upper bound
on publish → committed.
"""

import itertools
import json
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from vigil.bench.cpu import PartsCpu, PartsReading, parts_used, pin_process, read_parts
from vigil.events import AlertRaised, Position, encode_event, topic_for
from vigil.sim.device_events import DeviceEvents
from vigil.sim.mqtt_fleet import EncodedEvent, FleetDevice, MqttFleet

EventKind = Literal["position", "alert"]

PREPARED_PER_DEVICE_PER_S: dict[str, float] = {"position": 250.0, "alert": 10.0}
"""Events encoded before a phase starts, per device per second of the phase; more are made as needed."""

PACED_WINDOW = 1000
"""Paced: the most events a device leaves unacknowledged before it falls behind its schedule."""


class FleetPlan(BaseModel):
    """What the fleet does in one phase."""

    host: str
    port: int
    metrics: list[tuple[str, str]] = Field(
        description="Each server's GET /api/v1/metrics and an administrator's session token for it, read as the "
        "measured time starts and ends (the counts of all servers are added)."
    )
    devices: list[tuple[str, str]] = Field(description="(device_id, unit_id) of each simulated device.")
    kind: EventKind
    rate: float | None = Field(
        None, gt=0, description="Events per second from the whole fleet, evenly paced; None: as fast as acked."
    )
    window: int = Field(ge=1, le=100, description="Unpaced: events each device keeps unacknowledged.")
    warmup_s: float = Field(ge=0)
    seconds: float = Field(gt=0, description="The measured time, after the warm-up.")
    drain_timeout_s: float = Field(30.0, gt=0, le=600, description="How long to wait for the last acks at the end.")
    probe_jpeg: bytes | None = Field(None, description="The face crop every alert carries.")
    cpus: list[int] | None = Field(None, description="The CPUs the fleet's process pins itself to; None: not pinned.")
    server_pids: list[int] = Field(
        default_factory=list, description="The server processes whose CPU time is read (same order as metrics)."
    )
    broker_pid: int | None = Field(None, description="The broker's process, whose CPU time is read.")
    database_processes: bool = Field(
        False, description="Read the CPU time of every process named postgres here (PostgreSQL on this machine)."
    )


class StageTiming(BaseModel):
    """Where ingestion spent its time: a server's ``ingestion.timing``, a sum over servers, or a difference of two.

    The server's document is cumulative since it started: ``batches`` and ``events`` handled, and seconds spent
    in each stage as ``<stage>_s`` (``read_s``, ``check_s``, ``store_s``, ``feed_s``, ``commit_s``, ``ack_s``).
    """

    batches: int
    events: int
    seconds: dict[str, float] = Field(description="Seconds spent in each stage, by stage name (without `_s`).")

    @classmethod
    def from_ingestion(cls, ingestion: Mapping[str, Any]) -> "StageTiming | None":
        """The ``timing`` of a metrics document's ``ingestion`` section; None when the server does not report it.

        Raises:
            ValueError: ``timing`` is there but lacks ``batches`` or ``events``.
        """
        timing = ingestion.get("timing")
        if timing is None:
            return None
        if "batches" not in timing or "events" not in timing:
            raise ValueError(f"ingestion.timing lacks batches or events: {sorted(timing)}")
        return cls(
            batches=int(timing["batches"]),
            events=int(timing["events"]),
            seconds={key.removesuffix("_s"): float(value) for key, value in timing.items() if key.endswith("_s")},
        )

    def plus(self, other: "StageTiming") -> "StageTiming":
        """Both together (two servers); a stage only one of them has counts as zero in the other."""
        stages = self.seconds.keys() | other.seconds.keys()
        return StageTiming(
            batches=self.batches + other.batches,
            events=self.events + other.events,
            seconds={stage: self.seconds.get(stage, 0.0) + other.seconds.get(stage, 0.0) for stage in stages},
        )

    def since(self, earlier: "StageTiming") -> "StageTiming":
        """What was added between ``earlier`` and this reading of the same servers."""
        return StageTiming(
            batches=self.batches - earlier.batches,
            events=self.events - earlier.events,
            seconds={stage: s - earlier.seconds.get(stage, 0.0) for stage, s in self.seconds.items()},
        )

    def us_per_event(self) -> dict[str, float] | None:
        """Microseconds in each stage per event (of a difference); None when no event was handled."""
        if self.events <= 0:
            return None
        return {stage: seconds / self.events * 1e6 for stage, seconds in self.seconds.items()}

    def events_per_batch(self) -> float | None:
        """Events per batch (of a difference); None when no batch was handled."""
        return self.events / self.batches if self.batches > 0 else None


def total_timing(ingestions: Sequence[Mapping[str, Any]]) -> StageTiming | None:
    """The stage timings of every server added up; None when any of them does not report them.

    Args:
        ingestions: each server's ``ingestion`` section of ``GET /api/v1/metrics``.

    Raises:
        ValueError: a ``timing`` lacks ``batches`` or ``events``.
    """
    total: StageTiming | None = None
    for ingestion in ingestions:
        timing = StageTiming.from_ingestion(ingestion)
        if timing is None:
            return None
        total = timing if total is None else total.plus(timing)
    return total


class FleetResult(BaseModel):
    """What the fleet saw in one phase."""

    published: int = Field(description="Distinct events published.")
    behind: int = Field(description="Paced: events not published on time because 1,000 of the device's were unacked.")
    acknowledged: int = Field(description="Distinct events acknowledged by the server.")
    measured_s: float = Field(description="Length of the measured time, seconds.")
    accepted_in_measured_time: int = Field(description="Server's accepted count, end minus start of it.")
    acked_in_measured_time: int
    latencies_ms: list[float] = Field(description="Publish → ack of the events published in the measured time.")
    accepted: int = Field(description="Events the server accepted in the phase, counted after the drain.")
    duplicates: int
    rejected: int
    cpu: PartsCpu | None = Field(description="CPU seconds each part used in the measured time; None: no /proc.")
    timing: StageTiming | None = Field(
        description="The servers' stage timings gained in the measured time; None: the servers do not report them."
    )


def _event_stream(device_id: str, unit_id: str, plan: FleetPlan, seed: int) -> Iterator[EncodedEvent]:
    """(id, topic, JSON) of the device's events: encoded ahead, so that its Python spends the phase publishing."""
    make = _event_maker(device_id, unit_id, plan, seed)

    def encoded() -> EncodedEvent:
        event = make()
        return str(event.id), topic_for(event), encode_event(event)

    ahead = max(1, round(PREPARED_PER_DEVICE_PER_S[plan.kind] * (plan.warmup_s + plan.seconds)))
    ready = [encoded() for _ in range(ahead)]
    return itertools.chain(ready, (encoded() for _ in itertools.count()))


def _event_maker(device_id: str, unit_id: str, plan: FleetPlan, seed: int) -> Callable[[], AlertRaised | Position]:
    events = DeviceEvents(device_id, unit_id, seed=seed, probe_jpeg=plan.probe_jpeg)
    if plan.kind == "alert" and plan.probe_jpeg is None:
        raise ValueError("an alert phase needs probe_jpeg")
    return events.position if plan.kind == "position" else events.alert


@dataclass(frozen=True)
class _ServersReading:
    """The servers' counts, added up, and the CPU time of every part, read at one moment."""

    accepted: int
    duplicate: int
    rejected: int
    timing: StageTiming | None
    cpu: PartsReading | None


def _read_servers(plan: FleetPlan, *, cpu: bool) -> _ServersReading:
    """Every server's metrics (added up), then (``cpu``) the CPU times, as close together as they can be read."""
    ingestions = []
    for url, token in plan.metrics:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # a loopback URL we built
            ingestions.append(json.loads(response.read())["ingestion"])
    reading = (
        read_parts(server_pids=plan.server_pids, broker_pid=plan.broker_pid, database=plan.database_processes)
        if cpu
        else None
    )
    return _ServersReading(
        accepted=sum(int(i["accepted"]) for i in ingestions),
        duplicate=sum(int(i["duplicate"]) for i in ingestions),
        rejected=sum(int(i["rejected"]) for i in ingestions),
        timing=total_timing(ingestions),
        cpu=reading,
    )


def drive_fleet(plan: FleetPlan) -> FleetResult:
    """Connect the devices, run the phase (warm-up, measured time, drain) and report what was seen.

    Returns:
        Counts, the server's accepted counts and the latencies of the events published in the measured time, and
        the CPU time and stage timings of the measured time.
    """
    if plan.cpus is not None:
        pin_process(0, plan.cpus)
    devices = [
        FleetDevice(device_id=device_id, events=_event_stream(device_id, unit_id, plan, seed))
        for seed, (device_id, unit_id) in enumerate(plan.devices)
    ]
    window = PACED_WINDOW if plan.rate is not None else plan.window
    fleet = MqttFleet(plan.host, plan.port, devices, rate=plan.rate, window=window)
    try:
        before = _read_servers(plan, cpu=False)
        started = time.monotonic()
        fleet.start(started)
        fleet.run_until(started + plan.warmup_s)
        start = _read_servers(plan, cpu=True)
        measured_from = time.monotonic()
        fleet.run_until(measured_from + plan.seconds)
        end = _read_servers(plan, cpu=True)
        measured_to = time.monotonic()
        fleet.stopping = True
        deadline = time.monotonic() + plan.drain_timeout_s
        while fleet.in_flight and time.monotonic() < deadline:
            fleet.run_until(min(deadline, time.monotonic() + 0.05))
        after = _read_servers(plan, cpu=False)
    finally:
        fleet.close()
    samples = fleet.latencies
    measured = [(p, a) for p, a in samples if measured_from <= p < measured_to]
    return FleetResult(
        published=fleet.published,
        behind=fleet.behind,
        acknowledged=fleet.acknowledged,
        measured_s=measured_to - measured_from,
        accepted_in_measured_time=end.accepted - start.accepted,
        acked_in_measured_time=sum(measured_from <= a < measured_to for _, a in samples),
        latencies_ms=[(a - p) * 1000 for p, a in measured],
        accepted=after.accepted - before.accepted,
        duplicates=after.duplicate - before.duplicate,
        rejected=after.rejected - before.rejected,
        cpu=parts_used(start.cpu, end.cpu, servers=len(plan.server_pids))
        if start.cpu is not None and end.cpu is not None
        else None,
        timing=end.timing.since(start.timing) if start.timing is not None and end.timing is not None else None,
    )
