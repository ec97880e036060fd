"""An audit trail with a few entries, tampering as someone with direct access to the database would do it, and
the checkpoint key pair and store that anchor the trail outside the database."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.command.conftest import _libpq
from vigil.command.audit.chain import GENESIS_HASH, EntryContent, entry_hash
from vigil.command.audit.keys import create_checkpoint_keys, load_checkpoint_signing_key
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.events import utc_now

Tamper = Callable[[str], None]
Rehash = Callable[[int], None]
Append = Callable[[int], None]


@pytest.fixture
def trail(database: Database) -> Database:
    """The database with six audit entries, 1 to 6."""
    with database.session() as session:
        for n in range(1, 7):
            record_action(
                session=session,
                actor=f"op-{n}",
                action="alert.probe_viewed",
                record_type="alert",
                record_id=f"alert-{n}",
                address="10.0.0.7",
                details={"n": n},
                now=utc_now(),
            )
        session.commit()
    return database


@pytest.fixture
def tamper(database: Database, database_url: str) -> Tamper:
    """Run SQL against the audit table past its triggers: SQLite's dropped, PostgreSQL's off for a superuser."""

    def run(sql: str) -> None:
        if database.dialect == "sqlite":
            with database.engine.begin() as connection:
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
                for statement in sql.split(";"):
                    if statement.strip():
                        connection.exec_driver_sql(statement)
            return
        url = make_url(database_url)
        options = url.query["options"]
        libpq = _libpq(database_url, database=url.database or "vigil_test")
        with psycopg.connect(libpq, options=options) as connection:
            # Only a superuser may do this: the server's own role cannot switch the triggers off.
            connection.execute("SET session_replication_role = replica")
            connection.execute(sql)

    return run


@pytest.fixture
def rehash(database: Database, tamper: Tamper) -> Rehash:
    """Recompute every entry's links and hashes from entry ``start`` on, as someone hiding a rewrite would."""

    def run(start: int) -> None:
        with database.read_session() as session:
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        previous, statements = GENESIS_HASH, []
        for entry in entries:
            if entry.seq < start:
                previous = entry.hash
                continue
            content = EntryContent(
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                record_type=entry.record_type,
                record_id=entry.record_id,
                address=entry.address,
                details=entry.details,
            )
            new_hash = entry_hash(previous, content)
            statements.append(
                f"UPDATE audit_log SET prev_hash = '{previous}', hash = '{new_hash}' WHERE seq = {entry.seq}"
            )
            previous = new_hash
        tamper("; ".join(statements))

    return run


@pytest.fixture
def append(database: Database) -> Append:
    """Record ``count`` more entries, as the server goes on doing."""

    def run(count: int) -> None:
        with database.session() as session:
            for n in range(count):
                record_action(
                    session=session,
                    actor="op-7",
                    action="alert.confirmed",
                    record_type="alert",
                    record_id=f"later-{n}",
                    address=None,
                    now=utc_now(),
                )
            session.commit()

    return run


@dataclass(frozen=True)
class CheckpointKeys:
    """A checkpoint key pair written as ``vigil audit keys`` writes it."""

    private_file: Path
    public_file: Path
    key: Ed25519PrivateKey


@pytest.fixture
def checkpoint_keys(tmp_path: Path) -> CheckpointKeys:
    """The server's checkpoint key pair (the private file 0600)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    create_checkpoint_keys(keys / "checkpoint.key", keys / "checkpoint.pub")
    return CheckpointKeys(
        private_file=keys / "checkpoint.key",
        public_file=keys / "checkpoint.pub",
        key=load_checkpoint_signing_key(keys / "checkpoint.key"),
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The auditor's checkpoint store: an empty folder outside the database."""
    folder = tmp_path / "auditor"
    folder.mkdir()
    return folder
