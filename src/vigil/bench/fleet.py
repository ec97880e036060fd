"""Simulated body cameras for ``vigil bench ingest``, each with its own MQTT connection.

Unpaced, each device keeps up to ``window`` events unacknowledged: it publishes (QoS 1) until ``window`` are in
flight, then one more for each id the command centre's ``ack`` names, as a device's uplink drains its outbox
while the link is good; the fleet then goes as fast as the server commits. Paced, the devices publish in turn at
a fixed rate for the whole fleet, whether or not acks have come back (up to 1,000 unacknowledged per device).

The fleet runs in a process of its own (started by :mod:`vigil.bench.ingest`), so its Python does not share a
GIL with the server's. A device's latency is from just before its ``publish`` to the arrival of the ``ack``
naming the event, which the server sends only after the commit: publish → broker → server → commit → ack →
broker → device, an upper bound on publish → committed.
"""

import io
import itertools
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Literal

import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from PIL import Image
from pydantic import BaseModel, Field

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


class _Latencies:
    """(publish time, ack time) of every acknowledged event, monotonic seconds. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: list[tuple[float, float]] = []

    def add(self, published: float, acked: float) -> None:
        with self._lock:
            self.samples.append((published, acked))


class _Device:
    """One simulated body camera with its own MQTT connection."""

    def __init__(
        self, device_id: str, events: Iterator[tuple[str, str, bytes]], plan: FleetPlan, latencies: _Latencies
    ) -> None:
        self.device_id = device_id
        self._events = events
        self._paced = plan.rate is not None
        self._window = PACED_WINDOW if self._paced else plan.window
        self._latencies = latencies
        self._lock = threading.Lock()
        self._sent: dict[str, float] = {}
        self.published = 0
        self.behind = 0
        self.acknowledged = 0
        self.stopping = False
        self.ready = threading.Event()
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"bench-{device_id}-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        client.max_inflight_messages_set(self._window + 10)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        client.connect(plan.host, plan.port, keepalive=60)
        client.loop_start()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._sent)

    def top_up(self) -> None:
        """Publish until ``window`` events are unacknowledged (nothing once stopping)."""
        while True:
            with self._lock:
                if self.stopping or len(self._sent) >= self._window:
                    return
                event_id, topic, payload = next(self._events)
                self._sent[event_id] = time.monotonic()
                self.published += 1
            self._client.publish(topic, payload, qos=1)

    def publish_next(self) -> None:
        """Publish the next event now, unless the window is full (then it counts as behind) or stopping."""
        with self._lock:
            if self.stopping:
                return
            if len(self._sent) >= self._window:
                self.behind += 1
                return
            event_id, topic, payload = next(self._events)
            self._sent[event_id] = time.monotonic()
            self.published += 1
        self._client.publish(topic, payload, qos=1)

    def stop(self) -> None:
        """Publish nothing more; acks still count."""
        with self._lock:
            self.stopping = True

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: object, reason: ReasonCode, properties: object
    ) -> None:
        sock = client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as MqttBus does: no Nagle delays
        client.subscribe(f"{TOPIC_ROOT}/{self.device_id}/down/ack", qos=1)

    def _on_subscribe(
        self, client: paho.Client, userdata: object, mid: int, reasons: list[ReasonCode], properties: object
    ) -> None:
        self.ready.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        now = time.monotonic()
        ids = json.loads(message.payload).get("ids", [])
        with self._lock:
            for event_id in ids:
                published = self._sent.pop(event_id, None)
                if published is not None:
                    self.acknowledged += 1
                    self._latencies.add(published, now)
        if not self._paced:
            self.top_up()


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


def _accepted(metrics_url: str) -> tuple[int, int, int]:
    with urllib.request.urlopen(metrics_url, timeout=30) as response:  # a loopback URL we built
        counts = json.loads(response.read())["ingestion"]
    return int(counts["accepted"]), int(counts["duplicate"]), int(counts["rejected"])


class _Pacer:
    """Publishes for the devices in turn, ``rate`` events per second in all, from ``started``."""

    def __init__(self, devices: list[_Device], rate: float, started: float) -> None:
        self._devices = devices
        self._rate = rate
        self._started = started
        self._sent = 0

    def catch_up(self) -> None:
        """Publish every event due by now."""
        due = int((time.monotonic() - self._started) * self._rate)
        while self._sent < due:
            self._devices[self._sent % len(self._devices)].publish_next()
            self._sent += 1


def _run_until(deadline: float, pace: _Pacer | None) -> None:
    while (left := deadline - time.monotonic()) > 0:
        if pace is None:
            time.sleep(left)
        else:
            pace.catch_up()
            time.sleep(min(left, 0.002))


def drive_fleet(plan: FleetPlan) -> FleetResult:
    """Connect the devices, run the phase (warm-up, measured time, drain) and report what was seen.

    Returns:
        Counts, the server's accepted counts and the latencies of the events published in the measured time.
    """
    latencies = _Latencies()
    devices = [
        _Device(device_id, _event_stream(device_id, unit_id, plan, seed), plan, latencies)
        for seed, (device_id, unit_id) in enumerate(plan.devices)
    ]
    try:
        for device in devices:
            if not device.ready.wait(30):
                raise TimeoutError(f"device {device.device_id} could not subscribe to its acks in 30 s")
        before = _accepted(plan.metrics_url)
        started = time.monotonic()
        pace = _Pacer(devices, plan.rate, started) if plan.rate is not None else None
        if pace is None:
            for device in devices:
                device.top_up()
        _run_until(started + plan.warmup_s, pace)
        accepted_start = _accepted(plan.metrics_url)[0]
        measured_from = time.monotonic()
        _run_until(measured_from + plan.seconds, pace)
        accepted_end = _accepted(plan.metrics_url)[0]
        measured_to = time.monotonic()
        for device in devices:
            device.stop()
        deadline = time.monotonic() + plan.drain_timeout_s
        while any(d.in_flight for d in devices) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _accepted(plan.metrics_url)
    finally:
        for device in devices:
            device.close()
    measured = [(p, a) for p, a in latencies.samples if measured_from <= p < measured_to]
    return FleetResult(
        published=sum(d.published for d in devices),
        behind=sum(d.behind for d in devices),
        acknowledged=sum(d.acknowledged for d in devices),
        measured_s=measured_to - measured_from,
        accepted_in_measured_time=accepted_end - accepted_start,
        acked_in_measured_time=sum(measured_from <= a < measured_to for _, a in latencies.samples),
        latencies_ms=[(a - p) * 1000 for p, a in measured],
        accepted=after[0] - before[0],
        duplicates=after[1] - before[1],
        rejected=after[2] - before[2],
    )
