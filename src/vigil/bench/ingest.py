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

Where the cores go (:mod:`vigil.bench.cpu`): unless told not to, the server processes are pinned to the last CPUs
this process may use and the load (the fleet and the broker) to the rest, so that the server's figures do not move
with what the load happens to do; the database is not pinned (PostgreSQL is a system service the benchmark does
not own; SQLite runs inside the server process). In the measured time, each part's CPU time is read (the servers,
the broker, the fleet and, for PostgreSQL on this machine, every ``postgres`` process), giving the server's and the
database's CPU milliseconds per accepted event and each part's share of a CPU; and, where the server reports them
(``ingestion.timing``), the microseconds per event each stage of ingestion took and the events per batch.

Figures are medians over the runs, with each run's figure beside them.
"""

import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol

import numpy as np
import psycopg
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vigil.bench.cpu import CpuLayout, PartsCpu, allowed_cpus, cpu_layout
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
    server_cpu_ms_per_event: float | None = Field(
        description="Median over runs of the servers' CPU time per event accepted in the measured time, ms "
        "(SQLite's work included: it runs inside the server); None: CPU time not readable (no /proc)."
    )
    server_cpu_ms_per_event_runs: list[float | None]
    server_cpu_percent: float | None = Field(description="Servers' CPU time over the measured time, % of one CPU.")
    server_cpu_percent_runs: list[float | None]
    broker_cpu_percent: float | None = Field(description="Mosquitto's, % of one CPU.")
    broker_cpu_percent_runs: list[float | None]
    fleet_cpu_percent: float | None = Field(description="The simulated fleet's process, % of one CPU.")
    fleet_cpu_percent_runs: list[float | None]
    database_cpu_percent: float | None = Field(
        description="Every postgres process on this machine, % of one CPU: the benchmark's and any other client's "
        "work; a backend that exits in the measured time is not counted. None: SQLite or a database elsewhere."
    )
    database_cpu_percent_runs: list[float | None]
    database_cpu_ms_per_event: float | None = Field(description="PostgreSQL's CPU time per event accepted, ms.")
    database_cpu_ms_per_event_runs: list[float | None]
    stages_us_per_event: dict[str, float] | None = Field(
        description="Microseconds each stage of ingestion took per event (the servers' ingestion.timing over the "
        "measured time), median over runs per stage; None: the server does not report the timing."
    )
    stages_us_per_event_runs: list[dict[str, float] | None]
    events_per_batch: float | None = Field(description="Events per batch the servers handled in the measured time.")
    events_per_batch_runs: list[float | None]


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
    cpus: CpuLayout = Field(description="Which CPUs the servers and the load (fleet and broker) were pinned to.")
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
    pin: bool = True,
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
        pin: pin the servers and the load to CPUs of their own (:func:`vigil.bench.cpu.cpu_layout`); done only
            where the system can and this process may use two CPUs or more.

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
    labels = [_label(spec) for spec in databases]
    layout = cpu_layout(
        allowed=allowed_cpus(),
        servers=servers,
        pin=pin,
        database="; ".join(dict.fromkeys(_where_database_runs(spec) for spec in databases)),
    )
    rows = []
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        for spec, label in zip(databases, labels, strict=True):
            results: dict[Phase, list[tuple[FleetResult, int]]] = {phase: [] for phase in phases}
            for _ in range(runs):
                with (
                    tempfile.TemporaryDirectory(prefix="vigil-bench-ingest-") as tmp,
                    _fresh_database(spec, Path(tmp)) as url,
                ):
                    admin = store.prepare(url, fleet, key_file=Path(tmp) / KEY_FILE)
                    run = _Run(
                        url=url,
                        directory=Path(tmp),
                        admin=admin,
                        fleet=fleet,
                        probe=probe,
                        seconds=seconds,
                        warmup_s=warmup_s,
                        window=window,
                        servers=servers,
                        layout=layout,
                        database_processes=_postgres_here(spec),
                    )
                    runs_results = _one_run(pool, store, run, phases)
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
        cpus=layout,
    )


@dataclass(frozen=True)
class _Run:
    """One run on one database: what its phases share."""

    url: str
    directory: Path
    admin: BenchUser
    fleet: list[tuple[str, str]]
    probe: bytes
    seconds: float
    warmup_s: float
    window: int
    servers: int
    layout: CpuLayout
    database_processes: bool


def _one_run(
    pool: ProcessPoolExecutor, store: CommandCentreStore, run: _Run, phases: list[Phase]
) -> list[tuple[Phase, FleetResult, int]]:
    pinned = run.layout.pinned
    broker = start_broker(run.directory, cpus=run.layout.load if pinned else None)
    try:
        with ExitStack() as stack:
            running = [
                stack.enter_context(
                    server_process(
                        database_url=run.url,
                        bus_url=broker.url,
                        directory=run.directory,
                        name=f"bench-server-{n}",
                        key_wrap_file=run.directory / KEY_FILE,
                        cpus=frozenset(run.layout.servers) if pinned else None,
                    )
                )
                for n in range(1, run.servers + 1)
            ]
            token = sign_in(running[0].base, run.admin)  # sessions live in the database every server shares
            metrics = [(f"{server.base}/metrics", token) for server in running]
            results: list[tuple[Phase, FleetResult, int]] = []
            for kind, rate in phases:
                stored_before = store.stored_events(run.url)
                plan = FleetPlan(
                    host=broker.host,
                    port=broker.port,
                    metrics=metrics,
                    devices=run.fleet,
                    kind=kind,
                    rate=rate,
                    window=run.window,
                    warmup_s=run.warmup_s,
                    seconds=run.seconds,
                    probe_jpeg=run.probe if kind == "alert" else None,
                    drain_timeout_s=DRAIN_TIMEOUT_S,
                    cpus=run.layout.load if pinned else None,
                    server_pids=[server.pid for server in running],
                    broker_pid=broker.process.pid,
                    database_processes=run.database_processes,
                )
                result = pool.submit(drive_fleet, plan).result()
                if result.acknowledged != result.published:
                    raise BenchFailed(
                        f"{result.published - result.acknowledged} of {result.published} {kind} events were not "
                        f"acknowledged within {DRAIN_TIMEOUT_S:g} s of the phase's end"
                    )
                stored = store.stored_events(run.url) - stored_before
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


def _where_database_runs(spec: str) -> str:
    """Where a database's work runs, as the CPU layout says it."""
    if spec == "sqlite":
        return "SQLite inside the server process"
    if _postgres_here(spec):
        return "PostgreSQL not pinned (its own processes)"
    return f"PostgreSQL on {make_url(spec).host} (not measured)"


def _postgres_here(spec: str) -> bool:
    """Whether a PostgreSQL URL names this machine (loopback or a Unix socket), so its processes can be read."""
    if spec == "sqlite":
        return False
    url = make_url(spec)
    socket = url.query.get("host")
    host = url.host or (socket if isinstance(socket, str) else None)
    return host is None or host in ("localhost", "127.0.0.1", "::1") or host.startswith("/")


def _median(values: Sequence[float | None]) -> float | None:
    """Median of the runs that have the figure; None when none has it."""
    present = [value for value in values if value is not None]
    return float(np.median(present)) if present else None


def _ratio(part: float | None, whole: float, scale: float) -> float | None:
    return part / whole * scale if part is not None and whole > 0 else None


def _median_stages(runs: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    present = [stages for stages in runs if stages is not None]
    if not present:
        return None
    names = dict.fromkeys(name for stages in present for name in stages)
    return {name: float(np.median([stages[name] for stages in present if name in stages])) for name in names}


def _figures(phase: Phase, runs: list[tuple[FleetResult, int]]) -> PhaseFigures:
    results = [result for result, _ in runs]
    rates = [r.accepted_in_measured_time / r.measured_s for r in results]
    p50 = [float(np.percentile(r.latencies_ms, 50)) if r.latencies_ms else float("nan") for r in results]
    p95 = [float(np.percentile(r.latencies_ms, 95)) if r.latencies_ms else float("nan") for r in results]
    cpus = [r.cpu or PartsCpu(server_s=None, broker_s=None, fleet_s=None, database_s=None) for r in results]
    server_ms = [_ratio(c.server_s, r.accepted_in_measured_time, 1000.0) for c, r in zip(cpus, results, strict=True)]
    server = [_ratio(c.server_s, r.measured_s, 100.0) for c, r in zip(cpus, results, strict=True)]
    broker = [_ratio(c.broker_s, r.measured_s, 100.0) for c, r in zip(cpus, results, strict=True)]
    fleet = [_ratio(c.fleet_s, r.measured_s, 100.0) for c, r in zip(cpus, results, strict=True)]
    database = [_ratio(c.database_s, r.measured_s, 100.0) for c, r in zip(cpus, results, strict=True)]
    database_ms = [
        _ratio(c.database_s, r.accepted_in_measured_time, 1000.0) for c, r in zip(cpus, results, strict=True)
    ]
    stages = [r.timing.us_per_event() if r.timing is not None else None for r in results]
    per_batch = [r.timing.events_per_batch() if r.timing is not None else None for r in results]
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
        server_cpu_ms_per_event=_median(server_ms),
        server_cpu_ms_per_event_runs=server_ms,
        server_cpu_percent=_median(server),
        server_cpu_percent_runs=server,
        broker_cpu_percent=_median(broker),
        broker_cpu_percent_runs=broker,
        fleet_cpu_percent=_median(fleet),
        fleet_cpu_percent_runs=fleet,
        database_cpu_percent=_median(database),
        database_cpu_percent_runs=database,
        database_cpu_ms_per_event=_median(database_ms),
        database_cpu_ms_per_event_runs=database_ms,
        stages_us_per_event=_median_stages(stages),
        stages_us_per_event_runs=stages,
        events_per_batch=_median(per_batch),
        events_per_batch_runs=per_batch,
    )
