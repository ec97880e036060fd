"""Alembic's entry point: migrate the connection that :meth:`Database.migrate` opened."""

from alembic import context
from sqlalchemy.engine import Connection

from vigil.command.errors import MigrationFailed
from vigil.command.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it; batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise MigrationFailed("migrations run through vigil.command.database.Database.migrate, which passes a connection")
_run(_connection)
