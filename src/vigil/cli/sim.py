"""``vigil sim …``: load tests against a running command centre, the demo's photos, and the simulated city's streets."""

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.live import Live
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.broker import broker_settings
from vigil.cli.faces import JsonOption
from vigil.cli.serve import DataDirOption, DbOption, command_settings
from vigil.command.app import init_database
from vigil.edge.server_trust import server_tls_context
from vigil.sim.city import City
from vigil.sim.load import (
    LoadDevice,
    LoadPlan,
    LoadProgress,
    LoadReport,
    read_tokens,
    register_load_devices,
    run_load,
    save_tokens,
)
from vigil.sim.london import central_london
from vigil.sim.photos import (
    DEFAULT_DATA_DIR,
    DEFAULT_SUBJECTS,
    DemoPhotos,
    fetch_face_recognition_photos,
    find_demo_photos,
)


def create_sim_app() -> typer.Typer:
    """Build the ``vigil sim`` command group."""
    group = typer.Typer(help="The simulated city: load tests, the demo's photos, the streets.", no_args_is_help=True)
    group.command("load")(exits_on_vigil_error(load))
    group.command("photos")(exits_on_vigil_error(photos))
    group.command("streets")(exits_on_vigil_error(streets))
    return group


def load(
    devices: Annotated[int, typer.Option("--devices", min=1, max=100_000, help="Simulated devices.")],
    rate: Annotated[float, typer.Option("--rate", min=0.001, max=100_000, help="Events per second, all together.")],
    server: Annotated[
        str,
        typer.Option("--server", help="The command centre, http(s)://host:port (its events over HTTP, its metrics)."),
    ] = "http://127.0.0.1:8000",
    server_ca: Annotated[
        Path | None,
        typer.Option(
            "--server-ca",
            help="The force's CA certificate (PEM) an https:// --server must chain to (default: the system's CAs).",
        ),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus", help="Send over MQTT to this broker, not over HTTP: mqtt://host:port (plaintext, loopback only)."
        ),
    ] = None,
    duration: Annotated[float, typer.Option("--duration", min=0.1, max=86_400, help="Seconds to send.")] = 10.0,
    alert_share: Annotated[
        float, typer.Option("--alert-share", min=0, max=1, help="Share of events that are alerts with a face crop.")
    ] = 0.05,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="Device-token file: its devices are used when it exists; else new devices are registered and "
            "saved there (owner-only).",
        ),
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option("--drain-timeout", min=0.1, max=3600, help="Seconds to wait for the last acks.")
    ] = 30.0,
    metrics_token: Annotated[
        str | None,
        typer.Option(
            "--metrics-token",
            envvar="VIGIL_METRICS_TOKEN",
            help="An administrator's bearer token, to report the server's own counts (its metrics are for admins).",
        ),
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Load a running `vigil serve`: N devices send positions and alerts (no video) at the total rate.

    New devices are registered on the server's database (--db / --data-dir, as for `vigil serve`); with --tokens
    they are kept for the next run. A broker that checks passwords must know them first: run `vigil devices
    broker-config` and reload it, then run again with the same --tokens file.
    """
    broker = None
    if bus is not None:
        settings = broker_settings(bus, client_id="vigil-sim-load")
        broker = (settings.host, settings.port)
    plan = LoadPlan(
        devices=devices,
        rate=rate,
        duration_s=duration,
        alert_share=alert_share,
        transport="mqtt" if broker is not None else "http",
        drain_timeout_s=drain_timeout,
    )
    console = Console(stderr=True)
    fleet = _devices(devices, tokens=tokens, db=db, data_dir=data_dir, console=console)
    with Live(_progress_table(None, plan), console=console, refresh_per_second=4, transient=False) as live:
        report = run_load(
            plan,
            fleet,
            server_url=server,
            broker=broker,
            on_progress=lambda progress: live.update(_progress_table(progress, plan)),
            metrics_token=metrics_token,
            server_tls=server_tls_context(server_ca) if server_ca is not None else None,
        )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    Console().print(_report_table(report))


def _devices(
    count: int, *, tokens: Path | None, db: str | None, data_dir: Path | None, console: Console
) -> list[LoadDevice]:
    if tokens is not None and tokens.exists():
        return read_tokens(tokens, count)
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        console.print(f"registering {count} devices…")
        registered = register_load_devices(database, count)
    finally:
        database.dispose()
    if tokens is not None:
        save_tokens(tokens, registered)
        console.print(f"their tokens are in {tokens}")
    return registered


def _progress_table(progress: LoadProgress | None, plan: LoadPlan) -> Table:
    table = Table(title=f"{plan.devices} devices, {plan.rate:g} events/s over {plan.transport.upper()}")
    for column in ("elapsed s", "sent", "acknowledged", "rejected", "in flight", "behind", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    if progress is not None:
        table.add_row(
            f"{progress.elapsed_s:.1f}",
            str(progress.sent),
            str(progress.acknowledged),
            "n/a" if progress.rejected is None else str(progress.rejected),
            str(progress.in_flight),
            str(progress.behind),
            _ms(progress.p50_ms),
            _ms(progress.p95_ms),
        )
    return table


def _report_table(report: LoadReport) -> Table:
    table = Table(title=f"Load over {report.transport.upper()}: {report.devices} devices, {report.duration_s:g} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = {
        "offered, events/s": f"{report.rate_offered_per_s:g}",
        "acknowledged, events/s": f"{report.acknowledged_per_s:.1f}",
        "sent": str(report.sent),
        "acknowledged": str(report.acknowledged),
        "unacknowledged after the drain": str(report.unacknowledged),
        "rejected": "n/a over MQTT" if report.rejected is None else str(report.rejected),
        "resent / reconnects (MQTT)": f"{report.resent} / {report.reconnects}",
        "latency p50 / p95 / p99 ms": " / ".join(
            _ms(v) for v in (report.latency_p50_ms, report.latency_p95_ms, report.latency_p99_ms)
        ),
        "server counted (accepted / duplicate / rejected)": "not read (give --metrics-token)"
        if report.server is None
        else f"{report.server.accepted} / {report.server.duplicate} / {report.server.rejected}",
    }
    for name, value in rows.items():
        table.add_row(name, value)
    return table


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class PhotosReport(BaseModel):
    """What ``vigil sim photos`` prints: the demo's people and their roles."""

    folder: Path
    subjects: dict[str, dict[str, list[Path] | Path]]
    public: dict[str, Path]


def photos(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The demo's data folder (the fetched photos live in photos/).")
    ] = DEFAULT_DATA_DIR,
    photo_dir: Annotated[
        Path | None, typer.Option("--photos", help="Use this folder of per-person photo folders instead.")
    ] = None,
    subject: Annotated[
        list[str] | None,
        typer.Option("--subject", help="A person to put on the watchlist (repeat for several; default obama)."),
    ] = None,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="Download the face_recognition 1.3.0 sdist with pip if not yet there.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show who the demo puts on the watchlist and who walks past; --fetch gets the photos once from PyPI."""
    if fetch and photo_dir is None:
        fetch_face_recognition_photos(data_dir)
    found = find_demo_photos(photos=photo_dir, data_dir=data_dir, subjects=subject or DEFAULT_SUBJECTS)
    if json_output:
        typer.echo(_photos_report(found).model_dump_json(indent=2))
        return
    table = Table(title=f"The demo's people ({found.folder})")
    for column in ("person", "role", "enrolled from", "the camera shows"):
        table.add_column(column)
    for person in found.people:
        table.add_row(
            person.person_id,
            "watchlist subject" if person.on_watchlist else "member of the public",
            ", ".join(p.name for p in person.enrolment_photos) or "(never enrolled)",
            person.scene_photo.name,
        )
    Console().print(table)


def _photos_report(found: DemoPhotos) -> PhotosReport:
    return PhotosReport(
        folder=found.folder,
        subjects={
            p.person_id: {"enrolment_photos": list(p.enrolment_photos), "scene_photo": p.scene_photo}
            for p in found.subjects
        },
        public={p.person_id: p.scene_photo for p in found.public},
    )


class StreetsReport(BaseModel):
    """What ``vigil sim streets`` prints."""

    path: Path
    city: str
    streets: int
    junctions: int


def streets(
    out: Annotated[Path, typer.Option("--out", help="Write the GeoJSON street file here.")],
    json_output: JsonOption = False,
) -> None:
    """Write the simulated city's streets (central London) as the GeoJSON file dispatch's road network reads.

    Give it to dispatch's ranking settings (``road_network_path``), so that arrival estimates follow the streets
    the simulated officers use.
    """
    city = City(central_london())
    out.write_text(json.dumps(city.street_geojson(), indent=1), encoding="utf-8")
    report = StreetsReport(
        path=out, city=city.name, streets=len(city.street_map.streets), junctions=len(city.junctions())
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(f"wrote {report.streets} streets ({report.junctions} junctions) of {report.city} to {out}")
