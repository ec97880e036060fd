"""``vigil bench ingest``: sustained events per second from simulated devices, through Mosquitto, into a database.

For each database (SQLite in a temporary folder; PostgreSQL in a new schema of the given database, dropped
afterwards) and each run: a private Mosquitto (:mod:`vigil.bench.mosquitto`), ``vigil serve`` as a process of
its own on that database with ``--bus mqtt://…``, and the devices (:mod:`vigil.bench.fleet`) in a third
process. Four phases follow, each on positions and then on alerts carrying a ~20 kB JPEG face crop:

* **capacity**: every device keeps ``window`` events unacknowledged and sends the next as each ack comes back,
  so the fleet goes as fast as the server commits (latency is then about the events in flight over the rate);
* **at the aim**: the fleet publishes at the aimed rate (5,000 positions/s, 200 alerts/s), evenly paced,
  whether or not acks have come back; if the server cannot keep up, latency grows and the rate falls short.

Each phase warms up, then measures for ``seconds``:

* **events/s** is the server's own count of accepted (committed) events (``GET /api/v1/metrics``, read as an
  administrator the benchmark creates and signs in with password and second factor) over the
  measured time, divided by its length;
* **latency** is per event, from just before the device publishes it to the arrival of the server's ``ack``
  naming it, which is sent only after the commit (so an upper bound on publish → committed);
* afterwards every published event must have been acknowledged, and stored in the database exactly once
  (the rows counted before and after each phase).

Figures are medians over the runs.
"""

import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol

import numpy as np
import psycopg
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vigil.bench.fleet import EventKind, FleetPlan, FleetResult, drive_fleet
from vigil.bench.mosquitto import start_broker
from vigil.bench.server_process import BenchUser, server_process, sign_in
from vigil.errors import VigilError
from vigil.sim.device_events import crop_jpeg

AIM_POSITIONS_PER_S = 5000.0
AIM_ALERTS_PER_S = 200.0
AIM_P95_MS = 100.0
DRAIN_TIMEOUT_S = 120.0
"""How long a phase waits for its last acks: a paced phase the server cannot keep up with leaves a backlog."""

Phase = tuple[EventKind, float | None]
"""(kind, paced rate in events/s, or None for capacity)."""


class CommandCentreStore(Protocol):
    """The command centre's database, as the benchmark needs it.

    The command line passes the centre's own functions; the benchmark itself drives the server only from
    outside, as devices do.
    """

    def prepare(self, url: str, devices: Sequence[tuple[str, str]], *, key_file: Path) -> BenchUser:
        """Migrate the database at ``url``, register each (device_id, unit_id) there, and create an administrator.

        ``key_file`` is the servers' key-wrapping key (made when missing): the administrator's second factor is
        sealed under it, and every server of the run is given it.
        """
        ...

    def stored_events(self, url: str) -> int:
        """How many events the database at ``url`` holds (committed, each once)."""
        ...


KEY_FILE = "wrap.key"
"""The run's key-wrapping key, in its temporary folder: shared by the set-up and every server."""

DEFAULT_DATABASES = ("sqlite", "postgresql+psycopg://postgres@127.0.0.1:5432/vigil_test")


class BenchFailed(VigilError):
    """The benchmark could not run: a database, the broker or the server did not come up."""


class PhaseFigures(BaseModel):
    """One phase on one database, over the runs."""

    offered_per_s: float | None = Field(description="The paced rate published; None: as fast as acked (capacity).")
    per_second: float = Field(description="Median over runs of events committed per second (server count).")
    per_second_runs: list[float]
    p50_ms: float = Field(description="Median over runs of the median publish → ack latency, ms.")
    p95_ms: float = Field(description="Median over runs of the 95th percentile publish → ack latency, ms.")
    p50_ms_runs: list[float]
    p95_ms_runs: list[float]
    published: int = Field(description="Distinct events published, all runs.")
    behind: int = Field(description="Paced: events a device could not publish on time (1,000 unacked), all runs.")
    acknowledged: int = Field(description="Distinct events the server acknowledged, all runs.")
    stored: int = Field(description="Events the database gained, all runs (must equal published).")
    accepted: int = Field(description="Events the server accepted, all runs (must equal published).")
    duplicates: int
    rejected: int


class DatabaseFigures(BaseModel):
    """Every phase on one database."""

    database: str = Field(description="sqlite or postgresql.")
    positions: PhaseFigures = Field(description="Capacity: as fast as acked.")
    positions_at_aim: PhaseFigures
    alerts: PhaseFigures = Field(description="Capacity: as fast as acked.")
    alerts_at_aim: PhaseFigures


class IngestBenchReport(BaseModel):
    """What ``vigil bench ingest`` prints."""

    rows: list[DatabaseFigures]
    devices: int = Field(description="Simulated devices, one MQTT connection each.")
    servers: int = Field(description="`vigil serve` processes sharing the ingestion (one MQTT shared subscription).")
    window: int = Field(description="Events each device keeps unacknowledged.")
    seconds: float = Field(description="Measured time per phase and run, after the warm-up.")
    warmup_s: float
    runs: int
    probe_bytes: int = Field(description="Size of the JPEG face crop each alert carries.")
    cpu_cores: int = Field(description="CPU cores here; server, broker, database and devices share them.")
    aim_positions_per_s: float = AIM_POSITIONS_PER_S
    aim_alerts_per_s: float = AIM_ALERTS_PER_S
    aim_p95_ms: float = AIM_P95_MS


def run_ingest_bench(
    *,
    store: CommandCentreStore,
    databases: Sequence[str] = DEFAULT_DATABASES,
    devices: int = 50,
    seconds: float = 10.0,
    warmup_s: float = 2.0,
    runs: int = 3,
    window: int = 4,
    servers: int = 1,
    positions_rate: float = AIM_POSITIONS_PER_S,
    alerts_rate: float = AIM_ALERTS_PER_S,
) -> IngestBenchReport:
    """Measure both phases on each database, ``runs`` times.

    Args:
        store: migrates a database, registers the devices and counts the events stored.
        databases: ``sqlite``, or a PostgreSQL URL whose database gets a new schema for each run.
        devices: simulated devices.
        seconds: measured time per phase, after ``warmup_s``.
        warmup_s: time before measuring, seconds.
        runs: runs per database (figures are medians).
        window: events each device keeps unacknowledged, in the capacity phases.
        servers: ``vigil serve`` processes sharing the ingestion (an MQTT shared subscription), each its own
            broker client.
        positions_rate: the paced rate of the second phase, positions/s.
        alerts_rate: the paced rate of the fourth phase, alerts/s.

    Returns:
        The figures per database and phase.

    Raises:
        BenchFailed: a database, the broker or the server did not come up, or events were lost.
        ValueError: ``runs`` or ``devices`` below 1.
    """
    if runs < 1 or devices < 1:
        raise ValueError(f"runs and devices must be at least 1, got {runs} and {devices}")
    fleet = [(f"bench-cam-{n:03d}", f"bench-unit-{n:03d}") for n in range(devices)]
    phases: list[Phase] = [("position", None), ("position", positions_rate), ("alert", None), ("alert", alerts_rate)]
    probe = crop_jpeg()
    rows = []
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        for spec in databases:
            label = _label(spec)
            results: dict[Phase, list[tuple[FleetResult, int]]] = {phase: [] for phase in phases}
            for _ in range(runs):
                with (
                    tempfile.TemporaryDirectory(prefix="vigil-bench-ingest-") as tmp,
                    _fresh_database(spec, Path(tmp)) as url,
                ):
                    admin = store.prepare(url, fleet, key_file=Path(tmp) / KEY_FILE)
                    runs_results = _one_run(
                        pool, store, url, Path(tmp), admin, fleet, probe, phases, seconds, warmup_s, window, servers
                    )
                    for phase, result, stored in runs_results:
                        results[phase].append((result, stored))
            positions, positions_at_aim, alerts, alerts_at_aim = (_figures(phase, results[phase]) for phase in phases)
            rows.append(
                DatabaseFigures(
                    database=label,
                    positions=positions,
                    positions_at_aim=positions_at_aim,
                    alerts=alerts,
                    alerts_at_aim=alerts_at_aim,
                )
            )
    return IngestBenchReport(
        rows=rows,
        devices=devices,
        servers=servers,
        window=window,
        seconds=seconds,
        warmup_s=warmup_s,
        runs=runs,
        probe_bytes=len(probe),
        cpu_cores=os.cpu_count() or 1,
    )


def _one_run(
    pool: ProcessPoolExecutor,
    store: CommandCentreStore,
    url: str,
    directory: Path,
    admin: BenchUser,
    fleet: list[tuple[str, str]],
    probe: bytes,
    phases: list[Phase],
    seconds: float,
    warmup_s: float,
    window: int,
    servers: int,
) -> list[tuple[Phase, FleetResult, int]]:
    broker = start_broker(directory)
    try:
        with ExitStack() as stack:
            bases = [
                stack.enter_context(
                    server_process(
                        database_url=url,
                        bus_url=broker.url,
                        directory=directory,
                        name=f"bench-server-{n}",
                        key_wrap_file=directory / KEY_FILE,
                    )
                )
                for n in range(1, servers + 1)
            ]
            token = sign_in(bases[0], admin)  # sessions live in the database every server shares
            metrics = [(f"{base}/metrics", token) for base in bases]
            results: list[tuple[Phase, FleetResult, int]] = []
            for kind, rate in phases:
                stored_before = store.stored_events(url)
                plan = FleetPlan(
                    host=broker.host,
                    port=broker.port,
                    metrics=metrics,
                    devices=fleet,
                    kind=kind,
                    rate=rate,
                    window=window,
                    warmup_s=warmup_s,
                    seconds=seconds,
                    probe_jpeg=probe if kind == "alert" else None,
                    drain_timeout_s=DRAIN_TIMEOUT_S,
                )
                result = pool.submit(drive_fleet, plan).result()
                if result.acknowledged != result.published:
                    raise BenchFailed(
                        f"{result.published - result.acknowledged} of {result.published} {kind} events were not "
                        f"acknowledged within {DRAIN_TIMEOUT_S:g} s of the phase's end"
                    )
                stored = store.stored_events(url) - stored_before
                if stored != result.published:
                    raise BenchFailed(f"{result.published} {kind} events were published and {stored} stored")
                results.append(((kind, rate), result, stored))
            return results
    finally:
        broker.stop()


@contextmanager
def _fresh_database(spec: str, directory: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file in ``directory``, or a new schema in the PostgreSQL database."""
    if spec == "sqlite":
        yield f"sqlite:///{directory / 'command.sqlite'}"
        return
    url = make_url(spec)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        raise BenchFailed(
            f"PostgreSQL at {url.host}:{url.port or 5432} cannot be reached ({exc}); pass --db sqlite to measure "
            "SQLite only"
        ) from exc
    try:
        # Tables go to the new schema; PostGIS's types and functions stay visible from public.
        yield url.update_query_dict({"options": f"-csearch_path={schema},public"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def _label(spec: str) -> str:
    if spec == "sqlite":
        return "sqlite"
    try:
        backend = make_url(spec).get_backend_name()
    except ArgumentError as exc:
        raise BenchFailed(f"{spec!r} is neither sqlite nor a database URL ({exc})") from exc
    if backend != "postgresql":
        raise BenchFailed(f"{spec!r}: the benchmark runs on sqlite or a postgresql+psycopg:// URL")
    return "postgresql"


def _figures(phase: Phase, runs: list[tuple[FleetResult, int]]) -> PhaseFigures:
    results = [result for result, _ in runs]
    rates = [r.accepted_in_measured_time / r.measured_s for r in results]
    p50 = [float(np.percentile(r.latencies_ms, 50)) if r.latencies_ms else float("nan") for r in results]
    p95 = [float(np.percentile(r.latencies_ms, 95)) if r.latencies_ms else float("nan") for r in results]
    return PhaseFigures(
        offered_per_s=phase[1],
        per_second=float(np.median(rates)),
        per_second_runs=rates,
        p50_ms=float(np.median(p50)),
        p95_ms=float(np.median(p95)),
        p50_ms_runs=p50,
        p95_ms_runs=p95,
        published=sum(r.published for r in results),
        behind=sum(r.behind for r in results),
        acknowledged=sum(r.acknowledged for r in results),
        stored=sum(stored for _, stored in runs),
        accepted=sum(r.accepted for r in results),
        duplicates=sum(r.duplicates for r in results),
        rejected=sum(r.rejected for r in results),
    )
