"""``vigil edge run``: the body camera's agent over a video source."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.broker import (
    AllowPlaintextBusOption,
    BusCaOption,
    BusCertificateOption,
    BusKeyOption,
    broker_settings,
)
from vigil.cli.faces import JsonOption, ModelOption
from vigil.edge.notifier import ConsoleNotifier
from vigil.edge.runner import run_edge
from vigil.edge.settings import (
    EdgeSettings,
    GpsdSettings,
    NmeaFileSettings,
    PositionSettings,
    ScreenSettings,
    SimulatedRouteSettings,
)
from vigil.vision.settings import SlotEmbedderSettings

_LOST_EVENTS = 3
"""The exit status when events only in memory were lost as the agent stopped (the disk could not take them)."""


def create_edge_app() -> typer.Typer:
    """Build the ``vigil edge`` command group."""
    group = typer.Typer(help="The body camera's agent.", no_args_is_help=True)
    group.command("run")(exits_on_vigil_error(run))
    return group


def position_settings(spec: str) -> PositionSettings:
    """Position settings from ``sim``, ``nmea:PATH`` or ``gpsd[:HOST[:PORT]]``.

    Raises:
        typer.BadParameter: none of those.
    """
    kind, _, rest = spec.partition(":")
    if kind == "sim" and not rest:
        return SimulatedRouteSettings()
    if kind == "nmea" and rest:
        return NmeaFileSettings(path=Path(rest))
    if kind == "gpsd":
        host, _, port = rest.partition(":")
        return GpsdSettings(host=host or "127.0.0.1", port=int(port) if port else 2947)
    raise typer.BadParameter(f"{spec!r}: use sim, nmea:PATH or gpsd[:HOST[:PORT]]")


def run(
    source: Annotated[str, typer.Option("--source", help="Video file, image folder, camera index or rtsp/http URL.")],
    watchlist: Annotated[Path, typer.Option("--watchlist", help="Device package (.vwl) or local watchlist file.")],
    server: Annotated[
        str | None,
        typer.Option("--server", help="The command centre's broker: mqtts://host[:port] (with --bus-ca) or mqtt://."),
    ] = None,
    bus_ca: BusCaOption = None,
    bus_certificate: BusCertificateOption = None,
    bus_key: BusKeyOption = None,
    allow_plaintext_bus: AllowPlaintextBusOption = False,
    offline: Annotated[bool, typer.Option("--offline", help="No link: events stay in the outbox.")] = False,
    device_key: Annotated[Path | None, typer.Option("--device-key", help="This device's key file.")] = None,
    verify_key: Annotated[Path | None, typer.Option("--verify-key", help="The command centre's public key.")] = None,
    server_ca: Annotated[
        Path | None,
        typer.Option(
            "--server-ca",
            help="The force's CA certificate (PEM) the command centre's HTTPS must chain to (default: system CAs).",
        ),
    ] = None,
    allow_plain_http: Annotated[
        bool,
        typer.Option(
            "--allow-plain-http",
            help="Download packages over http:// from another machine (token readable on the wire: tests only).",
        ),
    ] = False,
    device_id: Annotated[str, typer.Option("--device-id", help="This device's id.")] = "cam-1",
    unit_id: Annotated[str, typer.Option("--unit-id", help="The officer's unit.")] = "unit-1",
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the outbox lives.")] = Path(".vigil/edge"),
    position: Annotated[str, typer.Option("--position", help="sim, nmea:PATH or gpsd[:HOST[:PORT]].")] = "sim",
    events_out: Annotated[Path | None, typer.Option("--events-out", help="Write every event as a JSON line.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Process a file as fast as possible, every frame.")] = False,
    screen: Annotated[
        int | None,
        typer.Option("--screen", min=0, max=65535, help="Serve the handset screen on 127.0.0.1:PORT (0: any port)."),
    ] = None,
    map_tiles: Annotated[
        str | None,
        typer.Option("--map-tiles", help="The screen's map tiles, http://…/{z}/{x}/{y}.png (default: a grid)."),
    ] = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Watch a video source for watchlist faces; alert here and send alerts and positions to the command centre.

    Exits 3 when events were only in memory as it stopped (the outbox's disk could not take them): they are lost.
    """
    if (server is None) == (not offline):
        raise typer.BadParameter("give either --server mqtts://host[:port] or --offline")
    if server is None and (bus_ca or bus_certificate or bus_key or allow_plaintext_bus):
        raise typer.BadParameter("--bus-ca, --bus-certificate, --bus-key and --allow-plaintext-bus need --server")
    if map_tiles is not None and screen is None:
        raise typer.BadParameter("--map-tiles is for the handset screen: give --screen PORT too")
    settings = EdgeSettings(
        device_id=device_id,
        unit_id=unit_id,
        data_dir=data_dir,
        source=source,
        realtime=not fast,
        watchlist=watchlist,
        device_key=device_key,
        verify_key=verify_key,
        server_ca_file=server_ca,
        allow_plain_http=allow_plain_http,
        bus=broker_settings(
            server,
            client_id=f"edge-{device_id}",
            ca_file=bus_ca,
            certificate_file=bus_certificate,
            key_file=bus_key,
            allow_plaintext=allow_plaintext_bus,
        )
        if server is not None
        else None,
        position=position_settings(position),
        events_out=events_out,
        screen=ScreenSettings(port=screen, tile_url=map_tiles) if screen is not None else None,
    )
    if model is not None:
        vision = settings.vision.model_copy(update={"embedder": SlotEmbedderSettings(manifest=model)})
        settings = settings.model_copy(update={"vision": vision})
    console = Console(stderr=True)
    report = run_edge(
        settings,
        notifiers=[ConsoleNotifier(console)],
        on_screen=lambda url: console.print(f"handset screen at {url}"),
        on_warning=lambda warning: console.print(f"WARNING: {warning}", style="bold red", markup=False, soft_wrap=True),
    )
    if report.outbox_lost_at_exit:
        console.print(
            f"error: {report.outbox_lost_at_exit} events were only in memory when the agent stopped and are lost "
            f"({report.outbox_storage}): free space on the device before starting it again",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        raise typer.Exit(_LOST_EVENTS if report.outbox_lost_at_exit else 0)
    console = Console()
    console.print(
        f"frames read {report.frames_read}, processed {report.frames_processed} "
        f"({report.processing_fps:.1f} fps), dropped {report.frames_dropped}, corrupt {report.frames_corrupt}; "
        f"faces seen {report.faces_seen}, tracks {report.tracks}, searched {report.embeddings}, "
        f"alerts {report.alerts}; outbox backlog {report.outbox_backlog} ({report.outbox_storage}"
        + (f", {report.outbox_in_memory} only in memory" if report.outbox_in_memory else "")
        + (f", {report.outbox_dropped} dropped" if report.outbox_dropped else "")
        + ")"
    )
    for alert in report.raised:
        evidence = alert.evidence
        qualities = ", ".join(f"{score:.2f}" for score in evidence.matched_qualities)
        console.print(
            f"alert {alert.subject_id} at frame {evidence.decided_frame} ({evidence.decided_video_s:.2f} s): "
            f"distance {alert.distance:.3f} (threshold {alert.threshold:.3f}), {len(evidence.matched_qualities)} of "
            f"{evidence.faces_searched} faces searched matched, quality {qualities}"
        )
    if report.outbox_lost_at_exit:
        raise typer.Exit(_LOST_EVENTS)
