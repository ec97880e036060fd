"""Simulated body cameras for ``vigil bench ingest``: one phase of a fleet, measured.

The fleet itself (every device's MQTT connection, served by one thread, unpaced or paced) is
:class:`vigil.sim.mqtt_fleet.MqttFleet`; its events are :class:`vigil.sim.device_events.DeviceEvents`, encoded
before the phase starts so that the fleet's Python spends the phase publishing. Unpaced, each device keeps up to
``window`` events unacknowledged; paced, the devices publish at a fixed rate for the whole fleet, whether or not
acks have come back (up to 1,000 unacknowledged per device).

The fleet runs in a process of its own (started by :mod:`vigil.bench.ingest`), so its Python does not share a
GIL with the server's.

A device's latency is from just before its ``publish`` to the arrival of the ``ack`` naming the event, which the
server sends only after the commit: publish → broker → server → commit → ack → broker → device, an upper bound
on publish → committed.
"""

import itertools
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Literal

from pydantic import BaseModel, Field

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


def _accepted(plan: FleetPlan) -> tuple[int, int, int]:
    """Accepted, duplicate and rejected events, every server together."""
    totals = [0, 0, 0]
    for url, token in plan.metrics:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:  # a loopback URL we built
            counts = json.loads(response.read())["ingestion"]
        for n, key in enumerate(("accepted", "duplicate", "rejected")):
            totals[n] += int(counts[key])
    return totals[0], totals[1], totals[2]


def drive_fleet(plan: FleetPlan) -> FleetResult:
    """Connect the devices, run the phase (warm-up, measured time, drain) and report what was seen.

    Returns:
        Counts, the server's accepted counts and the latencies of the events published in the measured time.
    """
    devices = [
        FleetDevice(device_id=device_id, events=_event_stream(device_id, unit_id, plan, seed))
        for seed, (device_id, unit_id) in enumerate(plan.devices)
    ]
    window = PACED_WINDOW if plan.rate is not None else plan.window
    fleet = MqttFleet(plan.host, plan.port, devices, rate=plan.rate, window=window)
    try:
        before = _accepted(plan)
        started = time.monotonic()
        fleet.start(started)
        fleet.run_until(started + plan.warmup_s)
        accepted_start = _accepted(plan)[0]
        measured_from = time.monotonic()
        fleet.run_until(measured_from + plan.seconds)
        accepted_end = _accepted(plan)[0]
        measured_to = time.monotonic()
        fleet.stopping = True
        deadline = time.monotonic() + plan.drain_timeout_s
        while fleet.in_flight and time.monotonic() < deadline:
            fleet.run_until(min(deadline, time.monotonic() + 0.05))
        after = _accepted(plan)
    finally:
        fleet.close()
    samples = fleet.latencies
    measured = [(p, a) for p, a in samples if measured_from <= p < measured_to]
    return FleetResult(
        published=fleet.published,
        behind=fleet.behind,
        acknowledged=fleet.acknowledged,
        measured_s=measured_to - measured_from,
        accepted_in_measured_time=accepted_end - accepted_start,
        acked_in_measured_time=sum(measured_from <= a < measured_to for _, a in samples),
        latencies_ms=[(a - p) * 1000 for p, a in measured],
        accepted=after[0] - before[0],
        duplicates=after[1] - before[1],
        rejected=after[2] - before[2],
    )
