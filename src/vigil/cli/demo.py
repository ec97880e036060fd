"""``vigil demo``: the whole system on one machine, from a body camera's frame to an officer on scene."""

import functools
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from vigil.bus.mqtt_settings import MqttSettings
from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.broker import broker_settings
from vigil.cli.faces import JsonOption
from vigil.cli.log_format import log_to_stderr
from vigil.sim.demo import Demo, DemoProgress, DemoSettings, DemoStarted
from vigil.sim.demo_summary import DemoSummary, Latency
from vigil.sim.photos import DEFAULT_DATA_DIR, DEFAULT_SUBJECTS
from vigil.sim.shift import ShiftSettings
from vigil.web.loopback import is_loopback

PROGRESS_EVERY_S = 5.0
"""Seconds between two progress lines with --headless."""


def register_demo_command(app: typer.Typer) -> None:
    """Add ``vigil demo`` to the ``vigil`` command."""
    app.command("demo")(exits_on_vigil_error(demo))


def demo(
    autopilot: Annotated[
        bool,
        typer.Option("--autopilot", help="A scripted operator confirms, dismisses, dispatches and closes incidents."),
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=1, max=7 * 86_400, help="Stop after this many seconds on duty (else Ctrl-C)."),
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="No live display: a plain progress line every few seconds.")
    ] = False,
    photos: Annotated[
        Path | None,
        typer.Option(
            "--photos", help="A folder of per-person photo folders (default: the fetched face_recognition ones)."
        ),
    ] = None,
    subject: Annotated[
        list[str] | None,
        typer.Option("--subject", help="A person to put on the watchlist (repeat for several; default obama)."),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The demo's folder: the fetched photos and each run's state.")
    ] = DEFAULT_DATA_DIR,
    db: Annotated[
        str | None,
        typer.Option("--db", help="postgresql://USER@HOST/DB (an empty one) instead of the embedded SQLite file."),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus", help="mqtt://127.0.0.1:PORT: a real broker on loopback (plaintext) instead of the in-process bus."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address the command centre listens on (plain HTTP).")
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=0, max=65535, help="Port the command centre listens on (default 8000, else a free one)."
        ),
    ] = None,
    officers_on_foot: Annotated[int, typer.Option("--officers-on-foot", min=0, max=1000)] = 4,
    officers_in_cars: Annotated[int, typer.Option("--officers-in-cars", min=0, max=1000)] = 2,
    cameras: Annotated[
        int, typer.Option("--cameras", min=0, max=100, help="Body cameras (worn by the first officers on foot).")
    ] = 2,
    speed: Annotated[
        float, typer.Option("--speed", min=0.1, max=1000, help="Simulated seconds per real second (the officers).")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Every random choice of the shift.")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Run a simulated patrol shift against a real command centre: cameras, watchlist, review, dispatch.

    Starts the command centre (open the printed address), the demo's users (printed with their passwords), a
    watchlist proposed by one and approved by another, officers on foot and in cars on central London's streets,
    body cameras whose street scenes show the watchlist subject and members of the public. Ends on Ctrl-C or
    after --duration, with a summary.
    """
    if not is_loopback(host):
        raise typer.BadParameter(
            f"the demo serves plain HTTP, so it listens on loopback only, not {host}: its passwords, tokens and face "
            "crops would cross the network readable. Deploy with `vigil serve --certificate … --key …`"
        )
    log_to_stderr(logging.WARNING, "%(levelname)s %(name)s %(message)s")
    console = Console(stderr=True)
    settings = DemoSettings(
        data_dir=data_dir,
        photos=photos,
        subjects=tuple(subject or DEFAULT_SUBJECTS),
        database_url=db,
        bus=_demo_broker(bus) if bus is not None else None,
        host=host,
        port=port,
        shift=ShiftSettings(
            officers_on_foot=officers_on_foot, officers_in_cars=officers_in_cars, cameras=cameras, seed=seed
        ),
        speed=speed,
        autopilot=autopilot,
    )
    if settings.bus is not None:
        console.print(
            f"demo: the bus is plaintext MQTT to {settings.bus.address}, on loopback: a demo, not a deployment "
            "(devices and servers connect with mqtts://, docs/deploy.md)",
            highlight=False,
            soft_wrap=True,
        )
    runner = Demo(settings, say=lambda line: console.print(f"demo: {line}…", highlight=False, soft_wrap=True))
    summary = None
    try:
        started = runner.start()
        _print_welcome(console, started, autopilot=autopilot, duration=duration)
        # A live display needs a terminal; redirected to a file it would leave only its last frame, squeezed.
        _run(runner, console, duration=duration, headless=headless or not console.is_terminal)
    except KeyboardInterrupt:
        console.print("stopping (Ctrl-C)…")
    finally:
        console.print("demo: stopping: cameras off, outboxes draining, summary…")
        summary = runner.stop()
    if summary is None:
        raise typer.Exit(code=1)
    if json_output:
        typer.echo(summary.model_dump_json(indent=2))
        return
    Console().print(summary_table(summary))


def _run(runner: Demo, console: Console, *, duration: float | None, headless: bool) -> None:
    stop_at = time.monotonic() + duration if duration is not None else None

    def running() -> bool:
        return stop_at is None or time.monotonic() < stop_at

    if headless:
        next_line = time.monotonic() + PROGRESS_EVERY_S
        while running():
            time.sleep(0.25)
            if time.monotonic() >= next_line:
                console.print(_progress_line(runner.progress()), highlight=False, soft_wrap=True)
                next_line += PROGRESS_EVERY_S
        return
    with Live(_progress_table(runner.progress()), console=console, refresh_per_second=2) as live:
        while running():
            time.sleep(0.5)
            live.update(_progress_table(runner.progress()))
    console.line()


def _print_welcome(console: Console, started: DemoStarted, *, autopilot: bool, duration: float | None) -> None:
    people = started.people
    say = functools.partial(console.print, highlight=False, soft_wrap=True)
    say(f"\nThe control room: {started.page_url}")
    say("(plain HTTP, on this machine's loopback only: a demo, not a deployment; `vigil serve` speaks HTTPS)")
    say("The demo's users (new passwords each run):")
    for user in people.everyone:
        factor = (
            # The set-up signed in with now's code, and each code is accepted once: show the next step's.
            f"second factor: secret {user.totp_secret}, code {user.code(steps_ahead=1)} (good for about a minute)"
            if user.totp_secret is not None
            else "no second factor"
        )
        say(f"  {user.username:<16} {user.role.value:<11} password {user.password}   {factor}")
    if people.supervisor.totp_secret is not None:
        say(
            "  a supervisor's code later: add the secret to an authenticator app, or run "
            f".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{people.supervisor.totp_secret}').now())\""
        )
    watchlist = ", ".join(p.person_id for p in started.photos.subjects)
    public = ", ".join(p.person_id for p in started.photos.public) or "nobody"
    say(f"On the watchlist: {watchlist}. Walking past as members of the public: {public}.")
    operator = (
        f"the scripted operator ({people.autopilot.username}) reviews and dispatches"
        if autopilot
        else f"sign in as {people.operator.username} to review alerts and dispatch"
    )
    until = f"for {duration:g} s (Ctrl-C stops it sooner)" if duration is not None else "until Ctrl-C"
    say(f"{len(started.members)} officers on duty; {operator}; running {until}.\n")


def _progress_line(progress: DemoProgress) -> str:
    line = (
        f"{progress.elapsed_s:6.1f} s  frames {progress.frames_processed}  faces {progress.faces_seen}  "
        f"alerts {progress.alerts_raised} (on the feed {progress.alerts_on_feed})  outbox {progress.outbox_backlog}"
    )
    if progress.confirmed is not None:
        line += (
            f"  confirmed {progress.confirmed}  dismissed {progress.dismissed}  units sent "
            f"{progress.units_dispatched}  incidents closed {progress.incidents_closed}"
        )
    return line


def _progress_table(progress: DemoProgress) -> Table:
    table = Table(title="Vigil demo: on duty")
    columns = ["seconds", "frames", "faces", "alerts", "on the feed", "outbox"]
    values = [
        f"{progress.elapsed_s:.0f}",
        str(progress.frames_processed),
        str(progress.faces_seen),
        str(progress.alerts_raised),
        str(progress.alerts_on_feed),
        str(progress.outbox_backlog),
    ]
    if progress.confirmed is not None:
        columns += ["confirmed", "dismissed", "units sent", "incidents closed"]
        values += [
            str(progress.confirmed),
            str(progress.dismissed),
            str(progress.units_dispatched),
            str(progress.incidents_closed),
        ]
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*values)
    return table


def summary_table(summary: DemoSummary) -> Table:
    """The summary as a table, for a person."""
    table = Table(title=f"Vigil demo: {summary.on_duty_s:g} s on duty at ×{summary.speed:g} ({summary.page_url})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = {
        "officers (on foot / in cars / body cameras)": (
            f"{summary.officers_on_foot} / {summary.officers_in_cars} / {summary.cameras}"
        ),
        "watchlist / members of the public": f"{', '.join(summary.watchlist)} / {', '.join(summary.public)}",
        "walks past the cameras": ", ".join(f"{k} {v}" for k, v in sorted(summary.walks_past.items())),
        "frames processed": str(summary.frames_processed),
        "faces seen": str(summary.faces_seen),
        "alerts raised on devices / stored": f"{summary.alerts_raised_on_devices} / {summary.alerts}",
        "alerts by subject": ", ".join(f"{k} {v}" for k, v in sorted(summary.alerts_by_subject.items())) or "none",
        "true / false alerts (ground truth)": f"{summary.true_alerts} / {summary.false_alerts}",
        "alerts lost between device and server": str(len(summary.alerts_lost)),
        "deployment (authorisation)": summary.deployment,
        "confirmed / dismissed / unreviewed": f"{summary.confirmed} / {summary.dismissed} / {summary.unreviewed}",
        "second verification: officer / control room / not the person": (
            f"{summary.verified_by_officer} / {summary.verified_in_control_room} / {summary.refuted}"
        ),
        "incidents (closed)": f"{summary.incidents} ({summary.incidents_closed})",
        "dispatch orders / acknowledged / declined / on scene": (
            f"{summary.dispatches} / {summary.acknowledged} / {summary.declined} / {summary.on_scene}"
        ),
        "alerts backed by (distance / threshold: faces matched of searched, their quality)": "; ".join(
            f"{b.subject_id} {b.distance:.3f}/{b.threshold:.3f}: {len(b.matched_qualities)} of "
            f"{b.faces_searched if b.faces_searched is not None else '?'} "
            f"({', '.join(f'{q:.2f}' for q in b.matched_qualities)})"
            for b in summary.backing
        )
        or "none",
        "face in view → alert on the operator's feed": _latency(summary.face_to_feed, "s"),
        "face in view → alert on the officer's handset": _latency(summary.face_to_handset, "s"),
        "confirmation → first officer on scene": _latency(summary.confirmation_to_on_scene_sim, "simulated s"),
    }
    for name, value in rows.items():
        table.add_row(name, value)
    return table


def _latency(latency: Latency, unit: str) -> str:
    if latency.median_s is None:
        return "not measured"
    return f"median {latency.median_s:.2f} {unit} (n={latency.count}, {latency.min_s:.2f}–{latency.max_s:.2f})"


def _demo_broker(url: str) -> MqttSettings:
    """The demo's broker: plaintext ``mqtt://`` on this machine's loopback, like its plain HTTP.

    Raises:
        typer.BadParameter: another scheme, or a broker on another machine.
    """
    settings = broker_settings(url, client_id="vigil-demo-command", allow_plaintext=True)
    if settings.tls is not None or not is_loopback(settings.host):
        raise typer.BadParameter(
            f"the demo's broker is plaintext mqtt:// on loopback, not {url!r}: a deployment's devices and servers "
            "connect with mqtts:// (`vigil serve --bus mqtts://… --bus-ca …`)"
        )
    return settings
