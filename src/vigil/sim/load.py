"""``vigil sim load``: N simulated devices sending positions and alerts to a running command centre.

No video: each device sends what a body camera would (positions, and alerts with a face crop at the share asked),
at a total rate spread evenly over the devices, over HTTP with its own token (:mod:`vigil.sim.http_fleet`) or over
MQTT (:mod:`vigil.sim.mqtt_fleet`). The devices are registered on the command centre's database first, and their
tokens kept in a file when one is named, so that a later run (or a broker's password file) can use them again.

While it runs, :class:`LoadProgress` snapshots feed a live display; at the end, :class:`LoadReport` says what was
sent, acknowledged and rejected, what is still unacknowledged after the drain (lost, unless the server is merely
slow), the latency from an event being due to the server's acknowledgement, and what the server itself counted
(``GET /api/v1/metrics``, when it answers). Over MQTT the devices behave as body cameras do: a lost connection (a
broker restart) is made again with back-off, and an event without an ack is sent again, so the run carries on.
"""

import hashlib
import json
import os
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.watchlists.models import VersionReason, Watchlist, WatchlistVersion
from vigil.events import WatchlistAvailable, encode_event, topic_for, utc_now
from vigil.sim.device_events import LOAD_SUBJECT_ID, LOAD_WATCHLIST_VERSION, DeviceEvents, crop_jpeg, is_alert
from vigil.sim.errors import DeviceTokensUnusable, LoadError
from vigil.sim.http_fleet import HttpDevice, HttpFleet
from vigil.sim.mqtt_fleet import RESEND_AFTER_S, EncodedEvent, FleetDevice, MqttFleet
from vigil.vision.face_model import DLIB_MODEL_ID

Transport = Literal["http", "mqtt"]

_LIVE_WINDOW = 10_000
"""The live display's latencies are those of the last this many acknowledged events."""
_MQTT_WINDOW = 1000
"""The most events an MQTT device leaves unacknowledged before it falls behind its schedule."""


class LoadPlan(BaseModel):
    """What ``vigil sim load`` does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: int = Field(ge=1, le=100_000, description="Simulated devices.")
    rate: float = Field(gt=0, le=100_000, description="Events per second from all devices together.")
    duration_s: float = Field(10.0, gt=0, le=86_400, description="How long to send, seconds.")
    alert_share: float = Field(
        0.05, ge=0, le=1, description="Share of the events that are alerts (the rest positions)."
    )
    probe_bytes: int = Field(20_000, ge=1_000, le=200_000, description="Size of the face crop each alert carries.")
    transport: Transport = Field("http", description="HTTP with each device's token, or MQTT.")
    drain_timeout_s: float = Field(30.0, gt=0, le=3_600, description="How long to wait for the last acks, seconds.")
    resend_after_s: float = Field(
        RESEND_AFTER_S, gt=0, le=3_600, description="MQTT: a device sends an event again without an ack this long."
    )


@dataclass(frozen=True)
class LoadDevice:
    """A registered device and its token."""

    device_id: str
    unit_id: str
    token: str


@dataclass(frozen=True)
class LoadProgress:
    """The load so far.

    Attributes:
        elapsed_s: seconds since sending began.
        sent: events sent.
        acknowledged: events the server answered for (committed or rejected).
        rejected: events rejected (HTTP only: an MQTT ack does not say).
        in_flight: events sent and not yet acknowledged.
        behind: MQTT: events not sent on time because 1,000 of the device's were unacknowledged.
        p50_ms: median latency of recent acknowledgements, milliseconds; None before the first.
        p95_ms: their 95th percentile.
    """

    elapsed_s: float
    sent: int
    acknowledged: int
    rejected: int | None
    in_flight: int
    behind: int
    p50_ms: float | None
    p95_ms: float | None


class ServerCounts(BaseModel):
    """What the server counted during the load (``GET /api/v1/metrics``, after minus before)."""

    accepted: int
    duplicate: int
    rejected: int


class LoadReport(BaseModel):
    """What ``vigil sim load`` prints at the end."""

    transport: Transport
    devices: int
    rate_offered_per_s: float = Field(description="Events per second asked for.")
    alert_share: float
    duration_s: float = Field(description="Seconds spent sending.")
    sent: int = Field(description="Events sent.")
    acknowledged: int = Field(description="Events the server answered for: committed or rejected.")
    accepted: int | None = Field(description="HTTP: committed now. None over MQTT (its acks do not say).")
    duplicates: int | None = Field(description="HTTP: committed before (a resend). None over MQTT.")
    rejected: int | None = Field(description="HTTP: rejected, with the reasons below. None over MQTT.")
    rejected_by_reason: dict[str, int]
    unacknowledged: int = Field(description="Sent but not acknowledged by the end of the drain: lost, or late.")
    behind: int = Field(description="MQTT: events not sent on time because 1,000 of a device's were unacked.")
    retries: int = Field(description="HTTP: requests tried again after a failure.")
    resent: int = Field(0, description="MQTT: events sent again (no ack in the resend interval, or reconnected).")
    reconnects: int = Field(0, description="MQTT: device connections made again after a loss (a broker restart).")
    acknowledged_per_s: float = Field(description="Acknowledged events over the time spent sending.")
    latency_p50_ms: float | None = Field(description="Median time from an event being due to its ack, ms.")
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    server: ServerCounts | None = Field(description="The server's own counts, when its metrics answer.")


LOAD_ACTOR = "cli:vigil-sim-load"
"""Who the audit trail records as registering the load test's devices."""


def register_load_devices(database: Database, count: int, *, prefix: str | None = None) -> list[LoadDevice]:
    """Register ``count`` new devices (``load-<run>-0001`` …, each with its own unit) and return their tokens.

    Each device is also recorded as sent the load test's watchlist version, as the centre's package sync would
    record it: the command centre accepts only alerts naming a version and subject their device was sent.

    Raises:
        CommandError: the database refused a registration.
        LoadError: the database holds a watchlist version of the load test's number that is not the load test's.
    """
    run = prefix or f"load-{uuid.uuid4().hex[:6]}"
    devices = []
    for number in range(1, count + 1):
        device_id, unit_id = f"{run}-{number:04d}", f"{run}-unit-{number:04d}"
        with database.session() as session:
            registration = register_device(
                session=session,
                device_id=device_id,
                unit_id=unit_id,
                call_sign=None,
                radio_id=None,
                kind=None,
                actor=LOAD_ACTOR,
                address=None,
                now=utc_now(),
            )
        devices.append(LoadDevice(device_id, unit_id, registration.token.get_secret_value()))
    with database.session() as session:
        send_load_watchlist(session, [d.device_id for d in devices], now=utc_now())
        session.commit()
    return devices


def send_load_watchlist(session: Session, device_ids: Sequence[str], *, now: datetime) -> None:
    """Record :data:`LOAD_WATCHLIST_VERSION` (made if missing) as announced to the devices, announcements sent."""
    version = session.get(WatchlistVersion, LOAD_WATCHLIST_VERSION)
    if version is None:
        # A watchlist of no deployment (no current version): no scheduled job packages or renews it.
        watchlist = Watchlist(
            watchlist_id=uuid.uuid4(), name="Load test", model=DLIB_MODEL_ID, created_by=LOAD_ACTOR, created_at=now
        )
        session.add(watchlist)
        session.flush()
        version = WatchlistVersion(
            version=LOAD_WATCHLIST_VERSION,
            watchlist_id=watchlist.watchlist_id,
            reason=VersionReason.APPROVAL,
            made_by=LOAD_ACTOR,
            created_at=now,
            valid_until=now,
            subject_ids=[LOAD_SUBJECT_ID],
            threshold=0.5,
            model=DLIB_MODEL_ID,  # the model the load test's alerts name (vigil.sim.device_events)
        )
        session.add(version)
    elif LOAD_SUBJECT_ID not in version.subject_ids:
        raise LoadError(
            f"this database's watchlist version {LOAD_WATCHLIST_VERSION} is not the load test's; run the load test "
            "on a database of its own"
        )
    for device_id in device_ids:
        announcement = WatchlistAvailable(
            device_id=device_id,
            version=LOAD_WATCHLIST_VERSION,
            sha256=hashlib.sha256(LOAD_SUBJECT_ID.encode()).hexdigest(),
            url=f"http://load.test/api/v1/device/watchlist/{LOAD_WATCHLIST_VERSION}",
            at=now,
        )
        session.add(
            DownlinkMessage(
                event_id=announcement.id,
                device_id=device_id,
                type=announcement.type,
                topic=topic_for(announcement),
                payload=encode_event(announcement),
                created_at=now,
                published_at=now,  # nothing to deliver: a load-test device has no package to fetch
            )
        )


def save_tokens(path: Path, devices: Sequence[LoadDevice]) -> None:
    """Write the devices and their tokens as JSON, readable by the owner only (the tokens are credentials)."""
    document = [{"device_id": d.device_id, "unit_id": d.unit_id, "token": d.token} for d in devices]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)


def read_tokens(path: Path, count: int) -> list[LoadDevice]:
    """The first ``count`` devices of a file :func:`save_tokens` wrote.

    Raises:
        DeviceTokensUnusable: the file cannot be read, is not such a file, or holds fewer devices.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        devices = [_StoredDevice.model_validate(item) for item in document]
    except (OSError, ValueError, TypeError, ValidationError) as exc:
        raise DeviceTokensUnusable(
            f"not a device-token file `vigil sim load --tokens` wrote ({exc})", path=path
        ) from exc
    if len(devices) < count:
        raise DeviceTokensUnusable(
            f"holds {len(devices)} devices and {count} were asked for; ask for fewer, or name a new file",
            path=path,
        )
    return [LoadDevice(d.device_id, d.unit_id, d.token) for d in devices[:count]]


class _StoredDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    unit_id: str
    token: str


def run_load(
    plan: LoadPlan,
    devices: Sequence[LoadDevice],
    *,
    server_url: str,
    broker: tuple[str, int] | None,
    on_progress: Callable[[LoadProgress], None],
    metrics_token: str | None = None,
    server_tls: ssl.SSLContext | None = None,
) -> LoadReport:
    """Send the load, drain, and report.

    Args:
        plan: devices, rate, duration, alert share, transport.
        devices: the registered devices, at least ``plan.devices`` of them.
        server_url: the command centre, ``http(s)://host:port`` (events over HTTP; its metrics either way).
        broker: the broker's (host, port): events go over MQTT; None: over HTTP.
        on_progress: called a few times a second with the load so far.
        metrics_token: an administrator's bearer token, to read the server's own counts (its metrics are for
            administrators); None: the report leaves them out.
        server_tls: how an ``https://`` server's certificate is checked
            (:func:`vigil.edge.server_trust.server_tls_context`); None: against the system's trusted CAs.

    Returns:
        The report.

    Raises:
        ServerUnreachable: the server or the broker cannot be reached, or refuses a device.
        LoadError: fewer devices than the plan needs, or a broker given or missing against the plan's transport.
    """
    fleet_devices = list(devices[: plan.devices])
    if len(fleet_devices) < plan.devices:
        raise LoadError(f"{plan.devices} devices asked for, {len(devices)} given")
    if (plan.transport == "mqtt") != (broker is not None):
        raise LoadError("a load over MQTT needs the broker's address (--bus mqtt://host:port), and only then")
    probe = crop_jpeg(plan.probe_bytes) if plan.alert_share > 0 else None
    streams = {
        d.device_id: _events(d, seed=seed, probe=probe, share=plan.alert_share) for seed, d in enumerate(fleet_devices)
    }
    verify: ssl.SSLContext | bool = server_tls if server_tls is not None else True
    before = _server_counts(server_url, metrics_token, verify=verify)
    started = time.monotonic()
    if broker is None:
        http = HttpFleet(
            server_url,
            [HttpDevice(d.device_id, d.token, streams[d.device_id]) for d in fleet_devices],
            rate=plan.rate,
            verify=verify,
        )

        def show() -> None:
            rejected = http.outcomes["rejected"]
            on_progress(_progress(started, http.sent, http.acknowledged, rejected, 0, http.latencies))

        http.run(plan.duration_s, drain_timeout_s=plan.drain_timeout_s, on_tick=show)
        sent, acknowledged, latencies = http.sent, http.acknowledged, http.latencies
        outcomes: dict[str, int] | None = dict(http.outcomes)
        rejections, behind, retries = dict(http.rejections), 0, http.retries
        resent, reconnects = 0, 0
    else:
        mqtt_devices = [FleetDevice(d.device_id, streams[d.device_id], password=d.token) for d in fleet_devices]
        fleet = _run_mqtt(plan, broker, mqtt_devices, started, on_progress)
        sent, acknowledged, behind, latencies = fleet.published, fleet.acknowledged, fleet.behind, fleet.latencies
        outcomes, rejections, retries = None, {}, 0
        resent, reconnects = fleet.resent, fleet.reconnects
    after = _server_counts(server_url, metrics_token, verify=verify)
    ms = np.array([(acked - due) * 1000 for due, acked in latencies], dtype=np.float64)
    return LoadReport(
        transport=plan.transport,
        devices=plan.devices,
        rate_offered_per_s=plan.rate,
        alert_share=plan.alert_share,
        duration_s=plan.duration_s,
        sent=sent,
        acknowledged=acknowledged,
        accepted=outcomes.get("accepted", 0) if outcomes is not None else None,
        duplicates=outcomes.get("duplicate", 0) if outcomes is not None else None,
        rejected=outcomes.get("rejected", 0) if outcomes is not None else None,
        rejected_by_reason=rejections,
        unacknowledged=sent - acknowledged,
        behind=behind,
        retries=retries,
        resent=resent,
        reconnects=reconnects,
        acknowledged_per_s=acknowledged / plan.duration_s,
        latency_p50_ms=_percentile(ms, 50),
        latency_p95_ms=_percentile(ms, 95),
        latency_p99_ms=_percentile(ms, 99),
        latency_max_ms=_percentile(ms, 100),
        server=ServerCounts(
            accepted=after.accepted - before.accepted,
            duplicate=after.duplicate - before.duplicate,
            rejected=after.rejected - before.rejected,
        )
        if before is not None and after is not None
        else None,
    )


def _run_mqtt(
    plan: LoadPlan,
    broker: tuple[str, int],
    devices: list[FleetDevice],
    started: float,
    on_progress: Callable[[LoadProgress], None],
) -> MqttFleet:
    """Run the load over MQTT and drain; returns the (closed) fleet with its counts."""
    fleet = MqttFleet(
        broker[0], broker[1], devices, rate=plan.rate, window=_MQTT_WINDOW, resend_after_s=plan.resend_after_s
    )
    try:
        begun = time.monotonic()
        fleet.start(begun)

        def show() -> None:
            on_progress(_progress(started, fleet.published, fleet.acknowledged, None, fleet.behind, fleet.latencies))

        end = begun + plan.duration_s
        while (now := time.monotonic()) < end:
            fleet.run_until(min(end, now + 0.25))
            show()
        fleet.stopping = True
        deadline = time.monotonic() + plan.drain_timeout_s
        while fleet.in_flight and time.monotonic() < deadline:
            fleet.run_until(min(deadline, time.monotonic() + 0.05))
        show()
    finally:
        fleet.close()
    return fleet


def _events(device: LoadDevice, *, seed: int, probe: bytes | None, share: float) -> Iterator[EncodedEvent]:
    events = DeviceEvents(device.device_id, device.unit_id, seed=seed, probe_jpeg=probe)
    number = 0
    while True:
        event = events.alert() if is_alert(number, share) else events.position()
        number += 1
        yield str(event.id), topic_for(event), encode_event(event)


def _progress(
    started: float,
    sent: int,
    acknowledged: int,
    rejected: int | None,
    behind: int,
    latencies: list[tuple[float, float]],
) -> LoadProgress:
    recent = np.array([(a - d) * 1000 for d, a in latencies[-_LIVE_WINDOW:]], dtype=np.float64)
    return LoadProgress(
        elapsed_s=time.monotonic() - started,
        sent=sent,
        acknowledged=acknowledged,
        rejected=rejected,
        in_flight=sent - acknowledged,
        behind=behind,
        p50_ms=_percentile(recent, 50),
        p95_ms=_percentile(recent, 95),
    )


def _percentile(values: npt.NDArray[np.float64], q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def _server_counts(server_url: str, token: str | None, *, verify: ssl.SSLContext | bool) -> ServerCounts | None:
    """The server's ingestion counts, or None without an administrator's token or when its metrics do not answer."""
    if token is None:
        return None
    try:
        response = httpx.get(
            server_url.rstrip("/") + "/api/v1/metrics",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            verify=verify,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    counts = response.json().get("ingestion", {})
    return ServerCounts(
        accepted=int(counts.get("accepted", 0)),
        duplicate=int(counts.get("duplicate", 0)),
        rejected=int(counts.get("rejected", 0)),
    )
