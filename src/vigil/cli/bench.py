"""``vigil bench …``: performance figures, as a table or as one JSON document."""

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import pyotp
import typer
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.bench.cpu import CpuLayout
from vigil.bench.dispatch import SIZES as DISPATCH_SIZES
from vigil.bench.dispatch import DispatchBenchReport, run_dispatch_bench
from vigil.bench.dispatch_delivery import PreparedDispatch, dispatch_units_named, measure_dispatch_to_device
from vigil.bench.edge import run_edge_bench
from vigil.bench.faces import FaceBenchReport, run_face_bench
from vigil.bench.gallery import SIZES, run_gallery_bench
from vigil.bench.ingest import (
    AIM_ALERTS_PER_S,
    AIM_POSITIONS_PER_S,
    DEFAULT_DATABASES,
    IngestBenchReport,
    PhaseFigures,
    run_ingest_bench,
)
from vigil.bench.lfw import run_lfw_bench
from vigil.bench.server_process import BenchUser
from vigil.bench.testdata import locate_testdata
from vigil.cli.boundary import exits_on_vigil_error
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.schemas import UserEnrolment
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.service import create_user
from vigil.command.actor import Actor
from vigil.command.app import init_database
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.incidents.schemas import IncidentOpen
from vigil.command.incidents.service import open_incident
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import IngestedEvent, Transport
from vigil.command.ingestion.service import ingest as ingest_event
from vigil.command.reviews.schemas import ReviewRequest
from vigil.command.reviews.service import decide
from vigil.command.settings import CommandSettings, WatchlistServerSettings
from vigil.events import ReviewDecision, encode_event, utc_now
from vigil.sim.device_events import DeviceEvents, crop_jpeg
from vigil.sim.load import send_load_watchlist
from vigil.vision.verification import VerificationReport
from vigil.watchlist.keys import create_device_key


def create_bench_app() -> typer.Typer:
    """Build the ``vigil bench`` command group."""
    bench = typer.Typer(help="Measure Vigil's performance on this machine.", no_args_is_help=True)
    bench.command("faces")(exits_on_vigil_error(faces))
    bench.command("gallery")(exits_on_vigil_error(gallery))
    bench.command("edge")(exits_on_vigil_error(edge))
    bench.command("lfw")(exits_on_vigil_error(lfw))
    bench.command("ingest")(exits_on_vigil_error(ingest))
    bench.command("dispatch")(exits_on_vigil_error(dispatch))
    return bench


def faces(
    testdata: Annotated[
        Path | None,
        typer.Option("--testdata", help="Test-data folder (default: $VIGIL_TESTDATA or ../shared/testdata)."),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, max=1000, help="Timed runs per figure (medians).")] = 15,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
) -> None:
    """Face engine speed per backend and each detector's recall on detection/training.xml."""
    Console(stderr=True).print("[dim]measuring the face engine; this takes a minute or two…[/dim]")
    report = run_face_bench(locate_testdata(testdata), runs=runs)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_face_bench(report)


def _print_face_bench(report: FaceBenchReport) -> None:
    console = Console()
    detectors = Table(title="Detectors (median ms)")
    for column in ("detector", "640×360", "1280×720", "recall on training.xml", "false positives"):
        detectors.add_column(column)
    for d in report.detectors:
        detectors.add_row(
            d.detector,
            f"{d.frame_640x360.median_ms:.1f}",
            f"{d.frame_1280x720.median_ms:.1f}",
            f"{d.recall.found}/{d.recall.total}",
            str(d.recall.false_positives),
        )
    console.print(detectors)
    console.print(f"fast detector speed-up over HOG upsample 1 (640×360): {report.fast_detector_speedup:.1f}×")
    console.print(f"landmarks + alignment: {report.landmarks_and_alignment.median_ms:.2f} ms per face")
    embedders = Table(title="Embedders (median ms)")
    for column in ("embedder", "one face", "batch of 8"):
        embedders.add_column(column)
    for e in report.embedders:
        embedders.add_row(e.embedder, f"{e.one_face.median_ms:.1f}", f"{e.batch_of_8.median_ms:.1f}")
    console.print(embedders)
    console.print(f"ONNX embedder speed-up over dlib (one face, 1 thread): {report.fast_embedder_speedup:.1f}×")
    pipeline = Table(title="End to end, 640×360 frame")
    for column in ("detector", "embedder", "ms per frame", "faces/s"):
        pipeline.add_column(column)
    for p in report.end_to_end:
        pipeline.add_row(p.detector, p.embedder, f"{p.frame.median_ms:.1f}", f"{p.faces_per_second:.1f}")
    console.print(pipeline)


def gallery(
    probes: Annotated[int, typer.Option("--probes", min=10, max=10_000, help="Same-person probes per size.")] = 200,
    largest: Annotated[
        int, typer.Option("--largest", min=10_000, max=10_000_000, help="Largest gallery size measured.")
    ] = 1_000_000,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
) -> None:
    """1:N search: latency, memory, build time and recall@1, exact and hashed, at 10k, 100k and 1M templates."""
    Console(stderr=True).print("[dim]building galleries up to 1M templates; this takes a minute or two…[/dim]")
    report = run_gallery_bench(sizes=[size for size in SIZES if size <= largest], probes_per_size=probes)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    table = Table(title=f"Gallery search, {report.threads} thread (probes at distance {report.probe_distance})")
    for column in ("templates", "index", "build s", "memory MiB", "median ms", "p95 ms", "recall@1", "= exact"):
        table.add_column(column, justify="right")
    for row in report.rows:
        agree = "" if row.agrees_with_exact is None else f"{row.agrees_with_exact:.3f}"
        table.add_row(
            f"{row.templates:,}",
            row.index,
            f"{row.build_s:.2f}",
            f"{row.memory_mb:.0f}",
            f"{row.median_ms:.3f}",
            f"{row.p95_ms:.3f}",
            f"{row.recall_at_1:.3f}",
            agree,
        )
    Console().print(table)
    Console().print(f"galleries up to {report.exact_up_to:,} templates are searched exactly")


def edge(
    testdata: Annotated[
        Path | None,
        typer.Option("--testdata", help="Test-data folder (default: $VIGIL_TESTDATA or ../shared/testdata)."),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="Runs per video size (medians).")] = 3,
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds", min=10, max=120, help="Length of each video (the patrol scene needs 10 s for its 5 people)."
        ),
    ] = 20.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
) -> None:
    """Body camera on one core: synthetic patrol at 640×360 and 1280×720, the real arcade clip at 1080p and 720p."""
    Console(stderr=True).print("[dim]running the edge pipeline on one core; this takes a minute or two…[/dim]")
    report = run_edge_bench(locate_testdata(testdata), runs=runs, seconds=seconds)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    table = Table(
        title=f"Edge pipeline, {report.cpu_cores} core, {report.embedder} embedder, {report.fps_of_video:g} fps video"
    )
    for column in (
        "size",
        "frames",
        "processed fps (median)",
        "alerts",
        "wrong alerts",
        "latency frames",
        "latency ms",
    ):
        table.add_column(column, justify="right")
    for row in report.rows:
        table.add_row(
            row.size,
            str(row.frames),
            f"{row.processing_fps:.1f}",
            f"{row.alerts_raised}/{row.alerts_expected}",
            str(row.wrong_alerts),
            ", ".join(str(f) for f in row.latency_frames),
            ", ".join(f"{ms:.0f}" for ms in row.latency_ms_at_camera_pace),
        )
    Console().print(table)
    arcade = Table(title="Real footage: the arcade clip (nobody on the watchlist), every frame, one core")
    for column in ("size", "frames", "fps (median)", "fps runs", "faces/frame", "searches", "alerts", "HOG: found"):
        arcade.add_column(column, justify="right")
    arcade.add_column("BlazeFace: found (also HOG's)", justify="right")
    for clip in report.arcade:
        found = clip.detectors
        arcade.add_row(
            clip.size,
            str(clip.frames),
            f"{clip.processing_fps:.1f}",
            ", ".join(f"{rate:.1f}" for rate in clip.processing_fps_runs),
            f"{clip.faces_per_frame:.1f}",
            str(clip.searches),
            str(clip.alerts),
            f"{found.hog_faces} in {found.frames} frames ({found.hog_ms_per_frame:.0f} ms/frame)",
            f"{found.blazeface_faces} ({found.both})",
        )
    Console().print(arcade)


def lfw(
    testdata: Annotated[
        Path | None,
        typer.Option("--testdata", help="Test-data folder (default: $VIGIL_TESTDATA or ../shared/testdata)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
) -> None:
    """Verification on LFW folds 3–10: Vigil beside the plain face_recognition library, same pairs, one run."""
    console = Console(stderr=True)
    console.print("[dim]embedding LFW twice (Vigil, then face_recognition); this takes about ten minutes…[/dim]")
    with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as bar:
        task = bar.add_task("images", total=None)
        report = run_lfw_bench(
            locate_testdata(testdata), on_progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    if json_output:
        typer.echo(report.model_dump_json(indent=2, by_alias=True))
        return
    table = Table(title=f"LFW folds 3–10 ({report.sides[0].report.pairs:,} pairs), threshold {report.threshold:g}")
    table.add_column("measure")
    for side in report.sides:
        table.add_column(side.system, justify="right")
    rows: list[tuple[str, Callable[[VerificationReport], float | None]]] = [
        ("accuracy, scored pairs", lambda r: r.accuracy_at_default_threshold),
        ("accuracy, all pairs", lambda r: r.accuracy_all_pairs),
        ("EER", lambda r: r.eer),
        ("TAR at FAR 0.001", lambda r: r.tar_at_far.get("0.001")),
        ("TAR at FAR 0.01", lambda r: r.tar_at_far.get("0.01")),
    ]
    for label, figure in rows:
        table.add_row(label, *("n/a" if (v := figure(s.report)) is None else f"{v:.4f}" for s in report.sides))
    table.add_row("failed pairs", *(str(len(s.report.failed)) for s in report.sides))
    table.add_row("seconds", *(f"{s.seconds:.0f}" for s in report.sides))
    Console().print(table)


def ingest(
    db: Annotated[
        list[str] | None,
        typer.Option(
            "--db",
            help="sqlite, or a postgresql+psycopg:// URL (a new schema per run, dropped after); repeatable. "
            f"Default: {' and '.join(DEFAULT_DATABASES)}.",
        ),
    ] = None,
    devices: Annotated[int, typer.Option("--devices", min=1, max=500, help="Simulated devices.")] = 50,
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, max=600, help="Measured time per phase.")] = 10.0,
    warmup: Annotated[float, typer.Option("--warmup", min=0, max=60, help="Warm-up before measuring, s.")] = 2.0,
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="Runs per database (medians).")] = 3,
    window: Annotated[
        int, typer.Option("--window", min=1, max=100, help="Events each device keeps unacknowledged.")
    ] = 4,
    servers: Annotated[
        int, typer.Option("--servers", min=1, max=8, help="`vigil serve` processes sharing the ingestion.")
    ] = 1,
    pin: Annotated[
        bool,
        typer.Option(
            "--pin/--no-pin",
            help="Pin the servers to the last CPUs this process may use and the fleet and broker to the rest "
            "(Linux, with two CPUs or more; the database is never pinned).",
        ),
    ] = True,
    positions_rate: Annotated[
        float,
        typer.Option(
            "--positions-rate", min=1, max=100_000, help="The paced positions phase's rate (the aim), positions/s."
        ),
    ] = AIM_POSITIONS_PER_S,
    alerts_rate: Annotated[
        float,
        typer.Option("--alerts-rate", min=1, max=10_000, help="The paced alerts phase's rate (the aim), alerts/s."),
    ] = AIM_ALERTS_PER_S,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
) -> None:
    """Ingestion: positions/s and alerts/s (20 kB crops) from devices through Mosquitto, p50/p95 to the commit."""
    Console(stderr=True).print("[dim]running devices → Mosquitto → vigil serve on each database…[/dim]")
    report = run_ingest_bench(
        store=CommandCentreDatabase(),
        databases=db or DEFAULT_DATABASES,
        devices=devices,
        seconds=seconds,
        warmup_s=warmup,
        runs=runs,
        window=window,
        servers=servers,
        pin=pin,
        positions_rate=positions_rate,
        alerts_rate=alerts_rate,
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_ingest_bench(report)


class CommandCentreDatabase:
    """The command centre's own database functions, for ``vigil bench ingest``."""

    def prepare(self, url: str, devices: Sequence[tuple[str, str]], *, key_file: Path) -> BenchUser:
        """Migrate the database at ``url``, register each (device_id, unit_id) there, and create an administrator.

        Its second factor is sealed under ``key_file`` (made when missing), which the servers are given.
        """
        if not key_file.exists():
            create_device_key(key_file)
        settings = CommandSettings(database_url=url, watchlists=WatchlistServerSettings(key_wrap_file=key_file))
        database = init_database(settings)
        admin = BenchUser(username="bench-admin", password=secrets.token_urlsafe(24), totp_secret="")
        try:
            for device_id, unit_id in devices:
                with database.session() as session:
                    register_device(
                        session=session,
                        device_id=device_id,
                        unit_id=unit_id,
                        call_sign=None,
                        radio_id=None,
                        kind=None,
                        actor=SYSTEM_ACTOR,
                        address=None,
                        now=utc_now(),
                    )
            with database.session() as session:
                # The fleet's alerts name the load test's watchlist: recorded as sent, as a package sync would.
                send_load_watchlist(session, [device_id for device_id, _ in devices], now=utc_now())
                session.commit()
            with database.session() as session:
                enrolment = _create_bench_user(
                    session, settings, admin, display_name="vigil bench ingest", role=Role.ADMIN, second_factor=True
                )
        finally:
            database.dispose()
        if enrolment.totp_provisioning_uri is None:
            raise TypeError("an administrator is always given a second factor")
        secret = pyotp.parse_uri(enrolment.totp_provisioning_uri.get_secret_value()).secret
        return admin.model_copy(update={"totp_secret": secret})

    def stored_events(self, url: str) -> int:
        """How many events the database at ``url`` holds."""
        database = Database(url)
        try:
            with database.session() as session:
                return session.scalar(select(func.count()).select_from(IngestedEvent)) or 0
        finally:
            database.dispose()


class CommandCentreIncident:
    """The command centre's own functions, preparing a control room for ``vigil bench dispatch``'s delivery runs."""

    def prepare(self, url: str, unit_count: int) -> PreparedDispatch:
        """Migrate, create an operator, units with a radio each, a confirmed alert and an open incident on it."""
        settings = CommandSettings(database_url=url)
        database = init_database(settings)
        operator = BenchUser(username="bench-operator", password=secrets.token_urlsafe(24))
        units = list(dispatch_units_named(unit_count))
        now = utc_now()
        actor = Actor(user_id=operator.username, display_name="vigil bench dispatch", roles=frozenset({"operator"}))
        try:
            with database.session() as session:
                _create_bench_user(session, settings, operator, display_name="vigil bench dispatch", role=Role.OPERATOR)
            for unit_id, device_id in [("bench-camera-unit", "bench-camera"), *units]:
                with database.session() as session:
                    register_device(
                        session=session,
                        device_id=device_id,
                        unit_id=unit_id,
                        call_sign=None,
                        radio_id=None,
                        kind=None,
                        actor=SYSTEM_ACTOR,
                        address=None,
                        now=now,
                    )
            with database.session() as session:
                send_load_watchlist(session, ["bench-camera"], now=now)  # the sighting names the load test's list
                session.commit()
            sighting = DeviceEvents("bench-camera", "bench-camera-unit", seed=1, probe_jpeg=crop_jpeg()).alert()
            with database.session() as session:
                ingest_event(
                    session=session,
                    raw=encode_event(sighting),
                    transport=Transport.HTTP,
                    authenticated_device_id="bench-camera",
                    limits=settings.limits,
                    metrics=IngestionMetrics(),
                )
            with database.session() as session:
                decide(
                    session=session,
                    alert_id=sighting.alert_id,
                    request=ReviewRequest(decision=ReviewDecision.CONFIRMED),
                    actor=actor,
                    now=now,
                )
                incident = open_incident(
                    session=session,
                    request=IncidentOpen(alert_id=sighting.alert_id),
                    actor=actor,
                    now=now,
                    settings=settings.dispatch,
                )
                session.commit()
        finally:
            database.dispose()
        return PreparedDispatch(operator=operator, incident_id=str(incident.incident_id), units=units)


def _print_ingest_bench(report: IngestBenchReport) -> None:
    spread = " (min–max)" if report.runs > 1 else ""
    table = Table(
        title=f"Ingestion: {report.devices} devices, {report.servers} server process(es), window {report.window}, "
        f"{report.seconds:g} s × {report.runs} runs, {report.cpu_cores} cores (medians{spread} over runs; latency "
        "publish → ack after commit; CPU % of one CPU; aims "
        f"{report.aim_positions_per_s:,.0f} positions/s, {report.aim_alerts_per_s:,.0f} alerts/s, "
        f"p95 < {report.aim_p95_ms:.0f} ms)"
    )
    columns = ["database", "events", "per second", "p50 ms", "p95 ms", "server CPU ms/event"]
    columns += ["CPU % server", "CPU % broker", "CPU % fleet", "CPU % database", "published", "accepted", "dup", "rej"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in report.rows:
        for name, phase in _ingest_phases(report, row.database):
            table.add_row(
                row.database,
                name,
                _spread(phase.per_second, phase.per_second_runs, ",.0f"),
                _spread(phase.p50_ms, phase.p50_ms_runs, ".1f"),
                _spread(phase.p95_ms, phase.p95_ms_runs, ".1f"),
                _spread(phase.server_cpu_ms_per_event, phase.server_cpu_ms_per_event_runs, ".3f"),
                _spread(phase.server_cpu_percent, phase.server_cpu_percent_runs, ".0f"),
                _spread(phase.broker_cpu_percent, phase.broker_cpu_percent_runs, ".0f"),
                _spread(phase.fleet_cpu_percent, phase.fleet_cpu_percent_runs, ".0f"),
                _spread(phase.database_cpu_percent, phase.database_cpu_percent_runs, ".0f"),
                f"{phase.published:,}",
                f"{phase.accepted:,}",
                str(phase.duplicates),
                str(phase.rejected),
            )
    console = Console()
    console.print(table)
    console.print(f"CPUs: {_layout_line(report.cpus)}")
    _print_stages(console, report)


def _ingest_phases(report: IngestBenchReport, database: str) -> list[tuple[str, PhaseFigures]]:
    """Each phase of the row for ``database``, with its name in the tables."""
    row = next(row for row in report.rows if row.database == database)
    crop = f"{report.probe_bytes / 1000:.0f} kB crop"
    return [
        ("positions, as fast as acked", row.positions),
        (
            f"positions at {row.positions_at_aim.offered_per_s or report.aim_positions_per_s:,.0f}/s",
            row.positions_at_aim,
        ),
        (f"alerts ({crop}), as fast as acked", row.alerts),
        (f"alerts ({crop}) at {row.alerts_at_aim.offered_per_s or report.aim_alerts_per_s:,.0f}/s", row.alerts_at_aim),
    ]


def _spread(median: float | None, runs: Sequence[float | None], form: str) -> str:
    """``median (min–max)`` over the runs that have the figure (the median alone if they agree); ``–``: none has it."""
    present = [value for value in runs if value is not None]
    if median is None or not present:
        return "–"
    if format(min(present), form) == format(max(present), form):
        return format(median, form)
    return f"{median:{form}} ({min(present):{form}}–{max(present):{form}})"


def _layout_line(layout: CpuLayout) -> str:
    """Where the processes ran, e.g. "server on CPU 1; fleet and broker on CPU 0; PostgreSQL not pinned"."""

    def named(cpus: list[int]) -> str:
        return f"CPU{'s' if len(cpus) > 1 else ''} {', '.join(map(str, cpus))}"

    if not layout.pinned:
        return (
            f"not pinned ({layout.unpinned_because}): server, fleet and broker share {named(layout.servers)}; "
            f"{layout.database}"
        )
    return f"server on {named(layout.servers)}; fleet and broker on {named(layout.load)}; {layout.database}"


def _print_stages(console: Console, report: IngestBenchReport) -> None:
    """The position phases' microseconds per event in each stage of ingestion, as the servers timed them."""
    phases = [
        (row.database, name, phase)
        for row in report.rows
        for name, phase in _ingest_phases(report, row.database)[:2]
        if phase.stages_us_per_event is not None
    ]
    if not phases:
        console.print("Stages: the server does not report ingestion.timing")
        return
    stages = list(dict.fromkeys(stage for _, _, phase in phases for stage in phase.stages_us_per_event or {}))
    table = Table(title="Ingestion stages, positions: µs per event (medians over runs)")
    # The acks are published on a thread of their own, beside the next batch: not part of the ingesting thread's time.
    for column in ("database", "events", *stages, "ingesting thread", "events/batch"):
        table.add_column(column, justify="right")
    for database, name, phase in phases:
        timings = phase.stages_us_per_event or {}
        table.add_row(
            database,
            name,
            *(f"{timings[stage]:.1f}" if stage in timings else "–" for stage in stages),
            f"{sum(us for stage, us in timings.items() if stage != 'ack'):.1f}",
            _spread(phase.events_per_batch, phase.events_per_batch_runs, ".1f"),
        )
    console.print(table)


def dispatch(
    queries: Annotated[
        int, typer.Option("--queries", min=10, max=10_000, help="Queries per shape and area size.")
    ] = 200,
    largest: Annotated[
        int, typer.Option("--largest", min=1_000, max=1_000_000, help="Most units measured.")
    ] = DISPATCH_SIZES[-1],
    delivery_runs: Annotated[
        int,
        typer.Option(
            "--delivery-runs",
            min=0,
            max=20,
            help="Runs of dispatch call → order on a device through a private Mosquitto (0: skip).",
        ),
    ] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
) -> None:
    """Units in an area (1k, 10k, 100k units, each answer checked), and dispatch call → order on a device."""
    console = Console(stderr=True)
    console.print("[dim]scattering units over London and asking which are in each area…[/dim]")
    report = run_dispatch_bench(sizes=[size for size in DISPATCH_SIZES if size <= largest], queries=queries)
    if delivery_runs:
        console.print("[dim]dispatching units through a private Mosquitto and timing each order's arrival…[/dim]")
        delivery = measure_dispatch_to_device(scenario=CommandCentreIncident(), runs=delivery_runs)
        report = report.model_copy(update={"dispatch_to_device": delivery})
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_dispatch_bench(report)


def _print_dispatch_bench(report: DispatchBenchReport) -> None:
    console = Console()
    queries = Table(
        title=f"Units in an area, {report.city} (each unit moves every {report.move_every_s} s; aim p95 < "
        f"{report.aim_query_p95_ms} ms at 100,000 units)"
    )
    for column in ("units", "area", "median ms", "p95 ms", "found", "rows ms", "all units ms", "mismatches"):
        queries.add_column(column, justify="right")
    for row in report.queries:
        queries.add_row(
            f"{row.units:,}",
            f"{row.shape} {row.size_m:,.0f} m",
            f"{row.median_ms:.3f}",
            f"{row.p95_ms:.3f}",
            f"{row.mean_found:,.1f}",
            f"{row.rows_median_ms:.3f}",
            f"{row.all_units_median_ms:.3f}",
            str(row.mismatches),
        )
    console.print(queries)
    upkeep = Table(title=f"Keeping the index (grid cells {report.cell_deg}°, margin {report.margin_m:g} m)")
    for column in (
        "units",
        "load ms",
        "update median µs",
        "update p95 µs",
        "rebuild ms",
        "updates",
        "first query median ms",
        "first query max ms",
    ):
        upkeep.add_column(column, justify="right")
    for index in report.indexes:
        upkeep.add_row(
            f"{index.units:,}",
            f"{index.load_ms:.1f}",
            f"{index.update_median_us:.1f}",
            f"{index.update_p95_us:.1f}",
            f"{index.rebuild_ms:.1f}",
            f"{index.moves:,}",
            f"{index.first_query_median_ms:.3f}",
            f"{index.first_query_max_ms:.3f}",
        )
    console.print(upkeep)
    console.print(f"answers that differ from checking every unit: {report.mismatches}")
    to_device = report.dispatch_to_device
    console.print(
        "dispatch call → order on a device over MQTT: "
        + (
            "not measured (--delivery-runs 0)"
            if to_device is None
            else f"median {to_device.median_ms:.0f} ms, p95 {to_device.p95_ms:.0f} ms, max {to_device.max_ms:.0f} ms "
            f"over {to_device.samples} orders in {to_device.runs} runs (aim < {report.aim_dispatch_to_device_s:g} s)"
        )
    )


def _create_bench_user(
    session: Session,
    settings: CommandSettings,
    user: BenchUser,
    *,
    display_name: str,
    role: Role,
    second_factor: bool = False,
) -> UserEnrolment:
    """The benchmark's own account, created by the system; the caller's session commits nothing else first."""
    return create_user(
        session=session,
        passwords=Passwords(min_length=settings.accounts.min_password_length),
        sealer=SecretSealer.for_settings(settings),
        settings=settings.accounts,
        username=user.username,
        display_name=display_name,
        roles=[role],
        password=SecretStr(user.password),
        second_factor=second_factor,
        actor=SYSTEM_ACTOR,
        address=None,
        now=utc_now(),
    )
