"""``vigil audit``: check the audit trail's chain (``verify``) and write it out as JSON lines (``export``).

Both read the database directly (``--db`` or ``--data-dir``, as ``vigil serve``) and record what they did in the
trail itself, with the actor ``system``.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import JsonOption
from vigil.cli.serve import DataDirOption, DbOption, command_settings
from vigil.command.app import init_database
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.audit.service import export_entries, record_action
from vigil.command.audit.verification import verify_chain
from vigil.command.database import Database
from vigil.events import utc_now

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
_TIME_HELP = "UTC unless an offset is given: 2025-01-31, 2025-01-31T12:00:00 or 2025-01-31T12:00:00+01:00."
FromOption = Annotated[
    datetime | None, typer.Option("--from", formats=_TIME_FORMATS, help=f"Entries from this time. {_TIME_HELP}")
]
ToOption = Annotated[
    datetime | None, typer.Option("--to", formats=_TIME_FORMATS, help=f"Entries up to this time. {_TIME_HELP}")
]


def create_audit_app() -> typer.Typer:
    """The ``vigil audit`` group."""
    audit = typer.Typer(help="The audit trail: verify its chain, export it.", no_args_is_help=True)
    audit.command("verify")(exits_on_vigil_error(verify))
    audit.command("export")(exits_on_vigil_error(export))
    return audit


def verify(db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """Check every entry's hash and link; exit 1 naming each entry edited, missing or out of order."""
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        report = verify_chain(database=database)
        details = {"intact": report.intact, "entries": report.entries, "problems": len(report.problems)}
        _record(database, "audit.verified", details)
    finally:
        database.dispose()
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    elif report.intact:
        head = f"; head: entry {report.head_seq}, hash {report.head_hash}" if report.head_seq else ""
        typer.echo(f"the audit trail is intact: {report.entries:,} entries{head}")
    else:
        typer.echo(f"the audit trail has been tampered with ({report.entries:,} entries checked):")
        for problem in report.problems:
            typer.echo(f"  {problem.kind.value}: {problem.message}")
        if report.more_problems:
            typer.echo("  … and more problems than listed")
    if not report.intact:
        raise typer.Exit(code=1)


def export(
    out: Annotated[Path, typer.Option("--out", help="The JSON-lines file to write (replaced whole).")],
    since: FromOption = None,
    until: ToOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write the entries as JSON lines, one entry with its hashes per line, in chain order."""
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        written = export_entries(database=database, out=out, since=_utc(since), until=_utc(until))
        _record(database, "audit.exported", {"entries": written.entries, "last_seq": written.last_seq})
    finally:
        database.dispose()
    if json_output:
        typer.echo(written.model_dump_json(indent=2))
        return
    last = f" (last: entry {written.last_seq}, hash {written.last_hash})" if written.last_seq else ""
    typer.echo(f"wrote {written.entries:,} entries to {written.path}{last}")


def _record(database: Database, action: str, details: Mapping[str, object]) -> None:
    with database.session() as session:
        record_action(
            session=session,
            actor=SYSTEM_ACTOR,
            action=action,
            record_type="audit",
            record_id=None,
            address=None,
            details=details,
            now=utc_now(),
        )
        session.commit()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
