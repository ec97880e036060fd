"""The database: SQLAlchemy 2 over SQLite (the embedded default) or PostgreSQL with PostGIS.

Both run the same models and the same Alembic migrations (shipped in :mod:`vigil.command.migrations`, applied
by :meth:`Database.migrate`). SQLite runs in WAL mode with ``synchronous=FULL`` (committed means on disk),
foreign keys on, and takes the write lock when a transaction begins (``BEGIN IMMEDIATE``): the server writes
from several threads, and a reader that upgrades to a writer later could otherwise fail at once instead of
waiting its turn. Driver errors that mean "not now" become :class:`DatabaseUnavailable` here, so callers never
handle SQLAlchemy's exceptions. The SQLite file is readable by its owner alone (0600, and so are its ``-wal`` and
``-shm`` files, which SQLite creates with the database file's permissions), in a folder made 0700.
"""

import enum
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import alembic.command
import alembic.util
from alembic.config import Config
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Enum, Integer, MetaData, Uuid, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from vigil.command.errors import DatabaseUnavailable, MigrationFailed

MIGRATIONS = "vigil.command:migrations"
_MIGRATION_LOCK = 0x76696769  # "vigi": one server migrates at a time
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_READS_ONLY = "vigil_reads_only"
"""The execution option that marks a read session's connections."""
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite has no time zones: it stores UTC, naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, whose zone nobody knows."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, write SQLAlchemy's own text form (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) in one step.

        Ingestion binds four datetimes per position; going through :meth:`process_bind_param` and then
        SQLAlchemy's SQLite DATETIME formatting costs five times as much as ``isoformat`` for the same text.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigIntegerId = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit surrogate key. On SQLite only a column declared INTEGER becomes the (64-bit) row id."""

BIGINT_MAX = 2**63 - 1
"""The largest value of a 64-bit column (BigInteger; every SQLite INTEGER): bounds an API integer compared with one."""

INTEGER_MAX = 2**31 - 1
"""The largest value of a 32-bit column (Integer on PostgreSQL): bounds an API integer compared with one."""

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def string_enum(enum_type: type[enum.StrEnum], *, name: str) -> Enum:
    """A column type for a string enum: its values as VARCHAR with a CHECK constraint, alike on every database."""
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Sealer(Protocol):
    """Seals a secret for storage and opens it again (migrations that seal what older versions kept in clear)."""

    def seal(self, secret: str, *, user_id: str) -> str:
        """The stored form of a user's secret."""
        ...

    def open(self, sealed: str, *, user_id: str) -> str:
        """The secret a stored form holds."""
        ...


class Base(DeclarativeBase):
    """The declarative base of every command-centre table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  # SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JsonDocument,
    }


class Database:
    """One database: an engine, sessions and the schema's migrations."""

    def __init__(self, url: str, *, connect_timeout_s: int = 5) -> None:
        """Prepare the engine (a SQLite file is made at once, owner-only); nothing connects until first use.

        Args:
            url: a SQLAlchemy URL, ``sqlite:///PATH`` or ``postgresql+psycopg://…``.
            connect_timeout_s: how long to wait for a PostgreSQL server, seconds.

        Raises:
            DatabaseUnavailable: the SQLite file cannot be made or opened.
        """
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database:
                try:
                    _owner_only_file(Path(parsed.database))
                except OSError as exc:
                    raise DatabaseUnavailable(f"cannot open the database file {parsed.database}: {exc}") from exc
            self.engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})
            event.listen(self.engine, "connect", _configure_sqlite)
            event.listen(self.engine, "begin", _begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": connect_timeout_s})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{_READS_ONLY: True}), expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session, closed at the end; the caller commits.

        Raises:
            DatabaseUnavailable: the database could not be reached, or stayed locked, meanwhile.
        """
        try:
            with self._sessions() as session:
                yield session
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc) from exc

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session that only reads, closed at the end.

        On SQLite its transaction begins deferred, so it neither waits for the writer nor holds it up (in WAL
        mode a reader sees the last commit); a :meth:`session` begins ``IMMEDIATE``, taking the write lock at
        once. Writing through a read session may fail with "database is locked": use :meth:`session` to write.

        Raises:
            DatabaseUnavailable: the database could not be reached.
        """
        try:
            with self._readers() as session:
                yield session
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc) from exc

    def on_commit(self, listener: Callable[[Session], None]) -> None:
        """Call ``listener`` after each commit of a session from :meth:`session`, on the committing thread."""
        event.listen(self._sessions, "after_commit", listener)

    def migrate(self, revision: str = "head", *, sealer: Sealer | None = None) -> None:
        """Bring the schema up to the newest migration, or ``revision`` (a no-op when it is there already).

        On PostgreSQL, servers starting together take turns under an advisory lock. On SQLite, changing a column
        rebuilds its table while others still refer to it, so foreign keys are off while migrating and checked,
        all of them, before the migration commits.

        Args:
            revision: the revision to reach.
            sealer: seals secrets an older version kept in clear (second-factor secrets); needed only when the
                database holds some.

        Raises:
            DatabaseUnavailable: the database cannot be reached.
            MigrationFailed: a migration failed (on PostgreSQL, most often PostGIS is not installed), or left a
                reference broken (SQLite), or needs a sealer and was given none.
        """
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        config.attributes["sealer"] = sealer
        try:
            with (
                self.engine.connect() as connection,
                _foreign_keys_checked_at_the_end(connection, self.dialect),
                connection.begin(),
            ):
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = connection
                alembic.command.upgrade(config, revision)
                if self.dialect == "sqlite":
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationFailed(
                            f"the migration would leave {len(broken)} broken references (first: {broken[0]}); "
                            "nothing was changed"
                        )
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc) from exc
        except DBAPIError as exc:
            hint = ""
            if "postgis" in str(exc.orig).lower():
                hint = (
                    "; install PostGIS on the server (Debian: postgresql-15-postgis-3) and have a superuser run "
                    "CREATE EXTENSION postgis in this database"
                )
            raise MigrationFailed(f"the database schema could not be updated: {exc.orig}{hint}") from exc
        except alembic.util.CommandError as exc:
            raise MigrationFailed(f"the database schema could not be updated: {exc}") from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def unavailable(exc: DBAPIError | PoolTimeout) -> DatabaseUnavailable:
    """The domain error for a driver's "not now", without the SQL or its parameters (they may hold images)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return DatabaseUnavailable(f"the database is unavailable ({detail[:300]}); try again shortly")


def _owner_only_file(path: Path) -> None:
    """Make the SQLite file (empty) readable by its owner alone, or tighten one an older version left readable."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # One there already (perhaps made by another process just now) is left as it is, but for its mode.
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = file.stat()
        except FileNotFoundError:
            continue
        if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & 0o077:
            file.chmod(0o600)


@contextmanager
def _foreign_keys_checked_at_the_end(connection: Connection, dialect: str) -> Iterator[None]:
    """On SQLite, foreign keys off for the block (set outside any transaction, where SQLite honours it)."""
    if dialect != "sqlite":
        yield
        return
    driver = connection.connection.dbapi_connection
    if driver is None:
        raise RuntimeError("the SQLite connection is closed")
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys = ON")


def _configure_sqlite(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling would issue a deferred BEGIN itself; _begin does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin(connection: Connection) -> None:
    # A writer takes the write lock at BEGIN, so two writers queue on busy_timeout instead of one failing when
    # it upgrades a read; a read session's transaction begins deferred and never takes it.
    reads_only = connection.get_execution_options().get(_READS_ONLY, False)
    connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")
