"""``vigil retention run``, ``vigil report``, ``vigil devices package-key`` and ``vigil watchlist reembed``.

Governance from the command line, against the server's database.
"""

import getpass
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import JsonOption
from vigil.cli.serve import DataDirOption, DbOption, ModelOption, command_session, command_settings, with_face_model
from vigil.command.actor import Actor
from vigil.command.app import init_database
from vigil.command.incidents.service import OpenIncidentHold
from vigil.command.report.html import render_html
from vigil.command.report.schemas import Figures, VersionRow
from vigil.command.report.service import build_report
from vigil.command.retention.service import run_retention
from vigil.command.watchlists.keys import issue_package_key, load_package_keys, require_wrap_key
from vigil.command.watchlists.reembedding import reembed_watchlist
from vigil.command.watchlists.schemas import PackageKeyIssued
from vigil.command.watchlists.versions import sync_packages
from vigil.events import utc_now
from vigil.vision.settings import build_embedder
from vigil.watchlist.keys import KeyFileError


def register_governance_commands(app: typer.Typer, *, devices: typer.Typer) -> None:
    """Add ``vigil retention``, ``vigil report`` and ``vigil devices package-key``."""
    retention = typer.Typer(help="The retention of biometric images.", no_args_is_help=True)
    retention.command("run")(exits_on_vigil_error(retention_run))
    app.add_typer(retention, name="retention")
    app.command("report")(exits_on_vigil_error(report))
    devices.command("package-key")(exits_on_vigil_error(package_key))


def cli_actor() -> Actor:
    """The person at the command line, as the audit records them (``cli:<login>``)."""
    login = getpass.getuser()
    return Actor(user_id=f"cli:{login}", display_name=login)


def retention_run(db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """Apply the retention policy now (the server also runs it on schedule); every deletion is audited."""
    settings = command_settings(db=db, data_dir=data_dir)
    database = init_database(settings)
    try:
        done = run_retention(
            database=database, settings=settings.retention, hold=OpenIncidentHold(), actor=cli_actor(), now=utc_now()
        )
    finally:
        database.dispose()
    if json_output:
        typer.echo(done.model_dump_json(indent=2))
        return
    typer.echo(
        f"deleted the face crops of {len(done.dismissed_probes_deleted)} dismissed and "
        f"{len(done.confirmed_probes_deleted)} confirmed alert(s); kept {len(done.held)} held; cleared the templates "
        f"of {len(done.subjects_cleared)} ended subject(s); deleted {done.packages_deleted} expired package(s)"
    )


def report(
    period_from: Annotated[datetime, typer.Option("--from", help="Start, inclusive (ISO 8601; UTC if no zone).")],
    period_to: Annotated[datetime, typer.Option("--to", help="End, exclusive (ISO 8601; UTC if no zone).")],
    html: Annotated[bool, typer.Option("--html", help="Write the report as an HTML page with charts.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """The public report: faces processed, alerts, confirmed, dismissed and the false-alert rate.

    Per device, per deployment (watchlist) and per watchlist version, as a table, --json or --html (with charts).
    """
    if html and json_output:
        raise typer.BadParameter("choose --json or --html")
    start, end = _utc(period_from), _utc(period_to)
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        counted = build_report(session=session, period_from=start, period_to=end, now=utc_now())
    if html or json_output:
        text = render_html(counted) if html else counted.model_dump_json(indent=2) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {out}", err=True)
        return
    table = Table(
        "",
        "faces",
        "alerts",
        "confirmed",
        "wrong person",
        "dismissed",
        "unreviewed",
        "false-alert rate",
        "1 false alert in",
    )
    rows: list[tuple[str, Figures]] = [("all", counted.totals)]
    rows += [(f"device {d.device_id}", d.figures) for d in counted.devices]
    rows += [(f"deployment {d.name}", d.figures) for d in counted.deployments]
    rows += [(f"version {v.version if v.version is not None else '–'}", v.figures) for v in counted.versions]
    for label, f in rows:
        table.add_row(
            label,
            f"{f.faces_processed:,}",
            f"{f.alerts:,}",
            f"{f.confirmed:,}",
            f"{f.wrong_person:,}",
            f"{f.dismissed:,}",
            f"{f.pending:,}",
            "–" if f.false_alert_rate is None else f"{f.false_alert_rate:.1%}",
            "–" if f.faces_per_false_alert is None else f"{f.faces_per_false_alert:,.0f} faces",
        )
    thresholds = version_thresholds_table(counted.versions)
    if out is None:
        Console().print(table, thresholds)
        return
    with out.open("w", encoding="utf-8") as stream:
        Console(file=stream, width=160).print(table, thresholds)
    typer.echo(f"wrote {out}", err=True)


def version_thresholds_table(versions: list[VersionRow]) -> Table:
    """Each watchlist version's network, threshold, why that threshold, and what it was expected to do."""
    table = Table("version", "network", "threshold", "by size", "why", "expected", title="Thresholds")
    for version in versions:
        if version.version is None:
            continue
        basis = "–" if version.threshold_basis is None else version.threshold_basis.value
        if version.looser_threshold_reason:
            basis = f"LOOSER than by size: {version.looser_threshold_reason}"
        table.add_row(
            str(version.version),
            version.model or "–",
            "–" if version.threshold is None else f"{version.threshold:.4f}",
            "–" if version.size_threshold is None else f"{version.size_threshold:.4f}",
            basis,
            version.expected or "–",
        )
    return table


def package_key(
    device_id: Annotated[str, typer.Argument(help="The registered device.")],
    out: Annotated[Path, typer.Option("--out", help="Write the key here (created readable by its owner only).")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the device's existing key.")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Issue a device its watchlist package key: stored wrapped on the server, written once to --out for the device."""
    if out.exists():
        raise KeyFileError(f"{out} already exists; keys are never overwritten")
    settings = command_settings(db=db, data_dir=data_dir)
    wrap_key = require_wrap_key(settings.watchlists)
    with command_session(settings) as session:
        key = issue_package_key(session=session, device_id=device_id, wrap_key=wrap_key, replace=replace, now=utc_now())
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(key.hex() + "\n")
        session.commit()
    if json_output:
        typer.echo(PackageKeyIssued(device_id=device_id, key_file=str(out)).model_dump_json(indent=2))
        return
    typer.echo(f"device {device_id}'s package key written to {out}; give it to the device (--device-key)", err=True)


def watchlist_reembed(
    watchlist: Annotated[uuid.UUID, typer.Option("--watchlist", help="The watchlist's id (on the server).")],
    model: ModelOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-embed a server watchlist with the server's face model (give the --model `vigil serve` runs with).

    Every template whose face chip is still stored is embedded again; a new version (reason model_change) is
    packaged for the watchlist's devices when the package keys are configured (else at the server's next sync).
    Subjects left with no template (their chips deleted by retention) are named: propose them again.
    """
    settings = with_face_model(command_settings(db=db, data_dir=data_dir), model)
    embedder = build_embedder(settings.watchlists.vision.embedder)
    keys = load_package_keys(settings.watchlists)
    with command_session(settings) as session:
        now = utc_now()
        done = reembed_watchlist(
            session=session,
            watchlist_id=watchlist,
            embedder=embedder,
            actor=cli_actor(),
            settings=settings.watchlists,
            now=now,
        )
        sync_packages(session=session, keys=keys, public_url=settings.public_url(), now=now, watchlist_id=watchlist)
        session.commit()
    if json_output:
        typer.echo(done.model_dump_json(indent=2))
        return
    made = f"; version {done.version} made" if done.version is not None else ""
    typer.echo(
        f"watchlist {done.watchlist_id} re-embedded from {done.from_model} to {done.to_model}: "
        f"{done.templates_reembedded} template(s) embedded again, {done.templates_without_chip} without a chip{made}"
    )
    if done.subjects_without_templates:
        typer.echo(
            f"left with no template (propose them again with new photos): {', '.join(done.subjects_without_templates)}",
            err=True,
        )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
