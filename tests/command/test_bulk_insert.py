"""The bulk writer stores rows exactly as the ORM would, on SQLite and PostgreSQL."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import DateTime

from tests.command.conftest import Register
from vigil.command.bulk_insert import bulk_insert
from vigil.command.database import Base, Database, UtcDateTime
from vigil.command.ingestion.models import IngestedEvent, Transport

COLUMNS = ("event_id", "type", "device_id", "transport", "at", "received_at")


def test_rows_read_back_as_the_models_define_them(database: Database, register: Register) -> None:
    register("cam-1", "A-12")
    ids = [uuid.uuid4(), uuid.uuid4()]
    paris = timezone(timedelta(hours=1))
    at = [datetime(2026, 12, 2, 13, 0, 0, 0, tzinfo=paris), datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]
    received = datetime(2026, 12, 2, 12, 0, 1, 250_000, tzinfo=UTC)
    with database.session() as session:
        bulk_insert(
            session=session,
            table=Base.metadata.tables[IngestedEvent.__tablename__],
            columns=("event_id", "type", "device_id", "at"),
            rows=[(ids[n], "position", "cam-1", at[n]) for n in range(2)],
            same_for_all={"transport": Transport.MQTT, "received_at": received},
        )
        session.commit()
    with database.session() as session:
        stored = {e.event_id: e for e in session.scalars(select(IngestedEvent))}
    assert set(stored) == set(ids)
    assert [stored[i].at for i in ids] == [datetime(2026, 12, 2, 12, 0, tzinfo=UTC), at[1]]
    assert {stored[i].received_at for i in ids} == {received}
    assert {stored[i].transport for i in ids} == {Transport.MQTT}


def test_a_row_already_stored_is_sqlalchemys_integrity_error(database: Database, register: Register) -> None:
    register("cam-1", "A-12")
    row = (uuid.uuid4(), "position", "cam-1", Transport.HTTP, datetime.now(UTC), datetime.now(UTC))
    table = Base.metadata.tables[IngestedEvent.__tablename__]
    with database.session() as session:
        bulk_insert(session=session, table=table, columns=COLUMNS, rows=[row])
        session.commit()
    with database.session() as session, pytest.raises(IntegrityError):
        bulk_insert(session=session, table=table, columns=COLUMNS, rows=[row])


@pytest.mark.parametrize(
    ("columns", "message"),
    [(("event_id", "colour"), r"no column\(s\) \['colour'\]")],
)
def test_unknown_columns_are_refused(database: Database, columns: tuple[str, ...], message: str) -> None:
    with database.session() as session, pytest.raises(ValueError, match=message):
        bulk_insert(
            session=session, table=Base.metadata.tables[IngestedEvent.__tablename__], columns=columns, rows=[(1, 2)]
        )


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 2, 12, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 2, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_sqlite_text_is_sqlalchemys_own(value: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UtcDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


def test_sqlite_refuses_a_naive_datetime() -> None:
    process = UtcDateTime().bind_processor(sqlite.dialect())
    assert process is not None
    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2026, 12, 2, 12, 0))
