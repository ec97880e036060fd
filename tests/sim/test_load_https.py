"""``vigil sim load`` against a command centre over HTTPS: with the force's CA it sends; without, it stops at once."""

import json
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.command.https_server import force_certificates, serving
from vigil.cli.app import create_app as create_cli
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.ingestion.models import IngestedEvent
from vigil.command.settings import CommandSettings, HttpsSettings


def _stored_events(db_url: str) -> int:
    database = Database(db_url)
    try:
        with database.session() as session:
            return session.scalar(select(func.count()).select_from(IngestedEvent)) or 0
    finally:
        database.dispose()


def test_a_load_over_https_needs_the_force_ca(tmp_path: Path) -> None:
    force = force_certificates(tmp_path / "pki")
    db_url = f"sqlite:///{tmp_path / 'command.sqlite'}"
    https = HttpsSettings(certificate_file=force.certificate_file, key_file=force.key_file)
    settings = CommandSettings(data_dir=tmp_path, database_url=db_url, https=https)
    tokens = tmp_path / "tokens.json"
    with serving(create_app(settings), settings) as url:
        common = ["sim", "load", "--devices", "2", "--rate", "20", "--duration", "1", "--server", url]
        common += ["--tokens", str(tokens), "--db", db_url, "--alert-share", "0", "--json"]
        trusted = CliRunner().invoke(create_cli(), [*common, "--server-ca", str(force.ca_file)])
        untrusted = CliRunner().invoke(create_cli(), common)  # the system's CAs only
    assert trusted.exit_code == 0, trusted.output
    report = json.loads(trusted.stdout)
    assert (report["sent"], report["acknowledged"], report["accepted"]) == (20, 20, 20)
    assert untrusted.exit_code == 1
    assert "certificate failed the check (unable to get local issuer certificate)" in untrusted.stderr
    assert "--server-ca" in untrusted.stderr
    assert _stored_events(db_url) == 20
