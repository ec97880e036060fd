"""An audit trail with a few entries, and tampering as someone with direct access to the database would do it."""

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.command.conftest import _libpq
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.events import utc_now

Tamper = Callable[[str], None]


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
