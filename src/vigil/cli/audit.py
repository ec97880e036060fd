"""``vigil audit``: check the trail (``verify``), export it, and anchor it outside the database (``checkpoint``).

``verify`` and ``export`` read the database directly (``--db`` or ``--data-dir``, as ``vigil serve``) and record
what they did in the trail itself, with the actor ``system``. ``keys`` makes the checkpoint key pair;
``checkpoint`` signs the trail's head into the checkpoint store, as the server's scheduler does every few
minutes; ``verify --checkpoints DIR --public-key FILE`` checks the trail against a store with the public key
alone, as an auditor would.
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
from vigil.command.audit.anchoring import configured_checkpoints, write_checkpoint
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.audit.checkpoint import key_id
from vigil.command.audit.checkpoint_store import StoreReading, read_store
from vigil.command.audit.errors import CheckpointsNotConfigured
from vigil.command.audit.keys import create_checkpoint_keys, load_checkpoint_public_key, load_checkpoint_signing_key
from vigil.command.audit.schemas import ChainReport
from vigil.command.audit.service import export_entries, record_action
from vigil.command.audit.verification import verify_chain
from vigil.command.database import Database
from vigil.command.settings import AuditSettings
from vigil.events import utc_now

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
_TIME_HELP = "UTC unless an offset is given: 2025-01-31, 2025-01-31T12:00:00 or 2025-01-31T12:00:00+01:00."
FromOption = Annotated[
    datetime | None, typer.Option("--from", formats=_TIME_FORMATS, help=f"Entries from this time. {_TIME_HELP}")
]
ToOption = Annotated[
    datetime | None, typer.Option("--to", formats=_TIME_FORMATS, help=f"Entries up to this time. {_TIME_HELP}")
]
CheckpointsOption = Annotated[
    Path | None,
    typer.Option(
        "--checkpoints", help="The checkpoint store's folder (default: VIGIL_AUDIT__CHECKPOINT_DIR, the server's)."
    ),
]


def create_audit_app() -> typer.Typer:
    """The ``vigil audit`` group."""
    audit = typer.Typer(
        help="The audit trail: verify its chain and checkpoints, export it, sign checkpoints.", no_args_is_help=True
    )
    audit.command("verify")(exits_on_vigil_error(verify))
    audit.command("export")(exits_on_vigil_error(export))
    audit.command("keys")(exits_on_vigil_error(keys))
    audit.command("checkpoint")(exits_on_vigil_error(checkpoint))
    return audit


def verify(
    checkpoints: CheckpointsOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The checkpoint key's public half (PEM), to check --checkpoints with."),
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check every entry's hash and link, and the trail against signed checkpoints; exit 1 naming what changed.

    Without --checkpoints the server's own store and key are used when configured (VIGIL_AUDIT__…); an auditor
    gives --checkpoints and --public-key.
    """
    settings = command_settings(db=db, data_dir=data_dir)
    store = _store(checkpoints, public_key, settings.audit)
    database = init_database(settings)
    try:
        report = verify_chain(database=database, checkpoints=store)
        details = {"intact": report.intact, "entries": report.entries, "problems": len(report.problems)}
        if report.anchor is not None:
            details["checkpoints"] = report.anchor.checkpoints
        _record(database, "audit.verified", details)
    finally:
        database.dispose()
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_report(report)
    if not report.intact:
        raise typer.Exit(code=1)


def keys(
    signing_key: Annotated[
        Path, typer.Option("--signing-key", help="Where to write the private key (0600), for the server.")
    ],
    public_key: Annotated[Path, typer.Option("--public-key", help="Where to write the public key, for auditors.")],
) -> None:
    """Make the checkpoint key pair; neither file may exist yet."""
    made = create_checkpoint_keys(signing_key, public_key)
    typer.echo(
        f"checkpoint signing key {key_id(made)} in {signing_key}: keep it secret, out of the database's backups; "
        f"give auditors {public_key}",
        err=True,
    )


def checkpoint(
    checkpoints: CheckpointsOption = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="The private checkpoint key (default: VIGIL_AUDIT__CHECKPOINT_KEY_FILE)."),
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Sign the trail's head into the checkpoint store now, once sure the trail extends the last checkpoint."""
    settings = command_settings(db=db, data_dir=data_dir)
    directory = checkpoints or settings.audit.checkpoint_dir
    key_file = signing_key or settings.audit.checkpoint_key_file
    if directory is None or key_file is None:
        raise CheckpointsNotConfigured(
            "no checkpoint store or key: give --checkpoints and --signing-key, or set VIGIL_AUDIT__CHECKPOINT_DIR "
            "and VIGIL_AUDIT__CHECKPOINT_KEY_FILE"
        )
    key = load_checkpoint_signing_key(key_file)
    database = init_database(settings)
    try:
        written = write_checkpoint(database=database, directory=directory, key=key, now=utc_now(), always=True)
    finally:
        database.dispose()
    if written is None:
        raise RuntimeError("a checkpoint asked for with always=True was not written")
    if json_output:
        typer.echo(written.model_dump_json(indent=2))
        return
    typer.echo(
        f"checkpoint {written.n} in {directory}: entry {written.seq} ({written.entries:,} entries), hash "
        f"{written.hash}, signed by key {written.key_id}"
    )


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


def _store(directory: Path | None, public_key: Path | None, settings: AuditSettings) -> StoreReading | None:
    if (directory is None) != (public_key is None):
        raise typer.BadParameter("--checkpoints and --public-key go together")
    if directory is None or public_key is None:
        return configured_checkpoints(settings)
    return read_store(directory=directory, public_key=load_checkpoint_public_key(public_key))


def _print_report(report: ChainReport) -> None:
    if report.intact:
        head = f"; head: entry {report.head_seq}, hash {report.head_hash}" if report.head_seq else ""
        typer.echo(f"the audit trail is intact: {report.entries:,} entries{head}")
    else:
        typer.echo(f"the audit trail has been tampered with ({report.entries:,} entries checked):")
        for problem in report.problems:
            typer.echo(f"  {problem.kind.value}: {problem.message}")
        if report.more_problems:
            typer.echo("  … and more problems than listed")
        for refused in report.anchor.refused if report.anchor is not None else []:
            typer.echo(f"  checkpoint store: {refused.message}")
    anchor = report.anchor
    if anchor is None:
        typer.echo(
            "not anchored: no checkpoint store given, so entries cut off the end, or an entry edited with every hash "
            "after it recomputed, cannot be found"
        )
    elif anchor.last_seq is None:
        typer.echo(f"no checkpoint signed by key {anchor.key_id} in {anchor.store} yet")
    else:
        typer.echo(
            f"checked against {anchor.checkpoints:,} checkpoint(s) in {anchor.store} (key {anchor.key_id}); the "
            f"newest (signed {anchor.last_at:%Y-%m-%d %H:%M:%S} UTC) is of entry {anchor.last_seq}; "
            f"{anchor.unanchored:,} entries after it are not anchored yet"
        )


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
