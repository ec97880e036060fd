"""Simulated body cameras for ``vigil bench ingest``, each with its own MQTT connection.

Unpaced, each device keeps up to ``window`` events unacknowledged: it publishes (QoS 1) until ``window`` are in
flight, then one more for each id the command centre's ``ack`` names, as a device's uplink drains its outbox
while the link is good; the fleet then goes as fast as the server commits. Paced, the devices publish in turn at
a fixed rate for the whole fleet, whether or not acks have come back (up to 1,000 unacknowledged per device).

The fleet runs in a process of its own (started by :mod:`vigil.bench.ingest`), so its Python does not share a
GIL with the server's, and on one thread: a selector serves every device's socket, speaking MQTT 5 through
:mod:`vigil.bus.mqtt_packets`. (A thread per connection, 50 threads taking turns at the GIL for every PUBACK,
cost the fleet most of a core at 5,000 events/s: more than the server it measures.)

A device's latency is from just before its ``publish`` to the arrival of the ``ack`` naming the event, which the
server sends only after the commit: publish → broker → server → commit → ack → broker → device, an upper bound
on publish → committed.
"""

import contextlib
import io
import itertools
import json
import selectors
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from vigil.bus.mqtt_packets import (
    Connack,
    PacketReader,
    Publish,
    Suback,
    encode_connect,
    encode_disconnect,
    encode_puback,
    encode_publish,
    encode_subscribe,
)
from vigil.events import (
    TOPIC_ROOT,
    AlertRaised,
    Location,
    Position,
    PositionOrigin,
    QualitySummary,
    encode_event,
    new_event_id,
    topic_for,
    utc_now,
)

EventKind = Literal["position", "alert"]

PREPARED_PER_DEVICE_PER_S: dict[str, float] = {"position": 250.0, "alert": 10.0}
"""Events encoded before a phase starts, per device per second of the phase; more are made as needed."""

PACED_WINDOW = 1000
"""Paced: the most events a device leaves unacknowledged before it falls behind its schedule."""


class FleetPlan(BaseModel):
    """What the fleet does in one phase."""

    host: str
    port: int
    metrics_url: str = Field(description="The server's GET /api/v1/metrics, read as the measured time starts and ends.")
    metrics_token: str = Field(description="An administrator's session token, to read the metrics with.")
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


def crop_jpeg(target_bytes: int = 20_000) -> bytes:
    """A face-crop-sized JPEG of about ``target_bytes`` (the benchmark's stand-in; its content does not matter).

    Returns:
        JPEG bytes, the first size from 64 px up whose file is at least ``target_bytes``.
    """
    rng = np.random.default_rng(7)
    data = b""
    for side in range(64, 1025, 8):
        ramp = np.linspace(0, 255, side, dtype=np.float32)
        base = (ramp[None, :, None] + ramp[:, None, None]) / 2
        noisy = np.clip(base + rng.normal(0, 40, (side, side, 3)), 0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(noisy, "RGB").save(out, format="JPEG", quality=80)
        data = out.getvalue()
        if len(data) >= target_bytes:
            break
    return data


class _Device:
    """One simulated body camera: its MQTT connection (a non-blocking socket) and the events it has in flight."""

    def __init__(
        self, device_id: str, events: Iterator[tuple[str, str, bytes]], plan: FleetPlan, sock: socket.socket
    ) -> None:
        self.device_id = device_id
        self.sock = sock
        self.reader = PacketReader()
        self.out = bytearray()  # what the socket did not take at once
        self._events = events
        self._window = PACED_WINDOW if plan.rate is not None else plan.window
        self._next_packet_id = 0
        self.sent: dict[str, float] = {}  # event id -> when published (monotonic)
        self.published = 0
        self.behind = 0
        self.acknowledged = 0

    def publish(self, *, paced: bool) -> bool:
        """Publish the next event unless ``window`` are unacknowledged (then, paced, it counts as behind)."""
        if len(self.sent) >= self._window:
            self.behind += paced
            return False
        event_id, topic, payload = next(self._events)
        self._next_packet_id = self._next_packet_id % 65_535 + 1
        self.sent[event_id] = time.monotonic()
        self.published += 1
        self.send(encode_publish(topic=topic, payload=payload, qos=1, packet_id=self._next_packet_id, dup=False))
        return True

    def send(self, data: bytes) -> None:
        if not self.out:
            with contextlib.suppress(BlockingIOError):
                data = data[self.sock.send(data) :]
        self.out += data

    def flush(self) -> None:
        if self.out:
            try:
                del self.out[: self.sock.send(self.out)]
            except BlockingIOError:
                return

    def acknowledged_ids(self, ids: list[str], now: float, latencies: list[tuple[float, float]]) -> None:
        for event_id in ids:
            published = self.sent.pop(event_id, None)
            if published is not None:
                self.acknowledged += 1
                latencies.append((published, now))


def _connect(plan: FleetPlan, device_id: str) -> socket.socket:
    """A device's connection, subscribed to its acks (blocking until the broker confirmed both)."""
    sock = socket.create_connection((plan.host, plan.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"bench-{device_id}-{uuid.uuid4().hex[:6]}"
    sock.sendall(
        encode_connect(
            client_id=client_id,
            clean_start=True,
            keepalive_s=0,
            session_expiry_s=0,
            receive_maximum=65_535,
            username=None,
            password=None,
        )
    )
    sock.sendall(
        encode_subscribe(packet_id=1, topic_filter=f"{TOPIC_ROOT}/{device_id}/down/ack", qos=1, subscription_id=1)
    )
    reader = PacketReader()
    answers: list[object] = []
    while len(answers) < 2:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError(f"the broker closed {device_id}'s connection while it connected")
        answers += reader.feed(data)
    connack, suback = answers[:2]
    if not isinstance(connack, Connack) or connack.reason_code or not isinstance(suback, Suback):
        raise ConnectionError(f"the broker did not accept {device_id}: {connack}, {suback}")
    sock.setblocking(False)
    return sock


class _Fleet:
    """Every device's connection, served by one thread: publish what is due, read what came back."""

    def __init__(self, plan: FleetPlan) -> None:
        self.plan = plan
        self.latencies: list[tuple[float, float]] = []  # (published, acknowledged), monotonic seconds
        self.devices: list[_Device] = []
        self.selector = selectors.DefaultSelector()
        try:
            for seed, (device_id, unit_id) in enumerate(plan.devices):
                device = _Device(
                    device_id, _event_stream(device_id, unit_id, plan, seed), plan, _connect(plan, device_id)
                )
                self.devices.append(device)
                self.selector.register(device.sock, selectors.EVENT_READ, device)
        except BaseException:
            self.close()
            raise
        self.stopping = False
        self._paced_from: float | None = None
        self._paced_sent = 0

    @property
    def in_flight(self) -> int:
        return sum(len(device.sent) for device in self.devices)

    def start(self, now: float) -> None:
        """Begin: paced, count from ``now``; unpaced, fill every device's window."""
        if self.plan.rate is not None:
            self._paced_from = now
        else:
            for device in self.devices:
                while device.publish(paced=False):
                    pass

    def run_until(self, deadline: float) -> None:
        """Publish what is due and handle what arrives until ``deadline`` (monotonic)."""
        while (left := deadline - time.monotonic()) > 0:
            self._publish_due()
            for key, _ in self.selector.select(min(left, 0.002)):
                self._read(key.data)
            for device in self.devices:
                device.flush()

    def close(self) -> None:
        for device in self.devices:
            with contextlib.suppress(OSError):
                device.sock.sendall(encode_disconnect())
            device.sock.close()
        self.selector.close()

    def _publish_due(self) -> None:
        if self._paced_from is None or self.stopping or self.plan.rate is None:
            return
        due = int((time.monotonic() - self._paced_from) * self.plan.rate)
        while self._paced_sent < due:
            self.devices[self._paced_sent % len(self.devices)].publish(paced=True)
            self._paced_sent += 1

    def _read(self, device: _Device) -> None:
        try:
            data = device.sock.recv(256 * 1024)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError(f"the broker closed {device.device_id}'s connection")
        now = time.monotonic()
        for packet in device.reader.feed(data):
            if isinstance(packet, Publish):  # an ack from the command centre
                device.acknowledged_ids(json.loads(packet.payload).get("ids", []), now, self.latencies)
                if packet.qos:
                    device.send(encode_puback(packet.packet_id))
        if self.plan.rate is None and not self.stopping:
            while device.publish(paced=False):
                pass


def _event_stream(device_id: str, unit_id: str, plan: FleetPlan, seed: int) -> Iterator[tuple[str, str, bytes]]:
    """(id, topic, JSON) of the device's events: encoded ahead, so that its Python spends the phase publishing."""
    make = _event_maker(device_id, unit_id, plan, seed)

    def encoded() -> tuple[str, str, bytes]:
        event = make()
        return str(event.id), topic_for(event), encode_event(event)

    ahead = max(1, round(PREPARED_PER_DEVICE_PER_S[plan.kind] * (plan.warmup_s + plan.seconds)))
    ready = [encoded() for _ in range(ahead)]
    return itertools.chain(ready, (encoded() for _ in itertools.count()))


def _event_maker(device_id: str, unit_id: str, plan: FleetPlan, seed: int) -> Callable[[], AlertRaised | Position]:
    rng = np.random.default_rng(seed)
    lat, lon = 51.5 + rng.uniform(-0.05, 0.05), -0.12 + rng.uniform(-0.05, 0.05)
    probe = plan.probe_jpeg

    def position() -> Position:
        nonlocal lat, lon
        lat += float(rng.normal(0, 1e-5))
        lon += float(rng.normal(0, 1e-5))
        return Position(
            device_id=device_id,
            unit_id=unit_id,
            lat=lat,
            lon=lon,
            accuracy_m=5.0,
            heading_deg=90.0,
            speed_mps=1.4,
            source=PositionOrigin.SIM,
        )

    def alert() -> AlertRaised:
        if probe is None:
            raise ValueError("an alert phase needs probe_jpeg")
        now = utc_now()
        return AlertRaised(
            id=new_event_id(),
            at=now,
            device_id=device_id,
            unit_id=unit_id,
            alert_id=uuid.uuid4(),
            subject_id="bench-subject",
            watchlist_version=1,
            distance=0.42,
            threshold=0.5,
            quality=QualitySummary(score=0.8, parts={"sharpness": 0.9}),
            frames=5,
            first_seen_at=now - timedelta(seconds=2),
            location=Location(lat=lat, lon=lon, accuracy_m=5.0),
            probe_jpeg=probe,
        )

    return position if plan.kind == "position" else alert


def _accepted(plan: FleetPlan) -> tuple[int, int, int]:
    request = urllib.request.Request(plan.metrics_url, headers={"Authorization": f"Bearer {plan.metrics_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # a loopback URL we built
        counts = json.loads(response.read())["ingestion"]
    return int(counts["accepted"]), int(counts["duplicate"]), int(counts["rejected"])


def drive_fleet(plan: FleetPlan) -> FleetResult:
    """Connect the devices, run the phase (warm-up, measured time, drain) and report what was seen.

    Returns:
        Counts, the server's accepted counts and the latencies of the events published in the measured time.
    """
    fleet = _Fleet(plan)
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
    devices = fleet.devices
    samples = fleet.latencies
    measured = [(p, a) for p, a in samples if measured_from <= p < measured_to]
    return FleetResult(
        published=sum(d.published for d in devices),
        behind=sum(d.behind for d in devices),
        acknowledged=sum(d.acknowledged for d in devices),
        measured_s=measured_to - measured_from,
        accepted_in_measured_time=accepted_end - accepted_start,
        acked_in_measured_time=sum(measured_from <= a < measured_to for _, a in samples),
        latencies_ms=[(a - p) * 1000 for p, a in measured],
        accepted=after[0] - before[0],
        duplicates=after[1] - before[1],
        rejected=after[2] - before[2],
    )
