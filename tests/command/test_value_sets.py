"""Queries about a batch of values: the same answers on both databases, one statement whatever the count."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from tests.command.conftest import Register
from vigil.command.bulk_insert import bulk_insert
from vigil.command.database import Base, Database
from vigil.command.devices.models import Device
from vigil.command.ingestion.models import IngestedEvent, Transport
from vigil.command.value_sets import one_of, stored


def _store_events(database: Database, ids: list[uuid.UUID]) -> None:
    now = datetime.now(UTC)
    with database.session() as session:
        bulk_insert(
            session=session,
            table=Base.metadata.tables[IngestedEvent.__tablename__],
            columns=("event_id", "type", "device_id", "at"),
            rows=[(event_id, "position", "cam-1", now) for event_id in ids],
            same_for_all={"transport": Transport.MQTT, "received_at": now},
        )
        session.commit()


@pytest.mark.parametrize("count", [0, 1, 3])
def test_one_of_selects_the_rows_holding_any_of_the_values(database: Database, register: Register, count: int) -> None:
    for n in range(4):
        register(f"cam-{n}", f"A-{n}")
    wanted = [f"cam-{n}" for n in range(count)] + ["cam-unknown"]
    with database.session() as session:
        found = session.scalars(select(Device.device_id).where(one_of(session, Device.device_id, wanted))).all()
    assert sorted(found) == [f"cam-{n}" for n in range(count)]


def test_stored_names_the_keys_already_in_the_table(database: Database, register: Register) -> None:
    register("cam-1", "A-12")
    kept = [uuid.uuid4() for _ in range(3)]
    _store_events(database, kept)
    asked = [kept[0], uuid.uuid4(), kept[2], uuid.uuid4()]
    with database.session() as session:
        assert stored(session, IngestedEvent.event_id, asked) == {kept[0], kept[2]}
        assert stored(session, IngestedEvent.event_id, []) == set()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_key_lookup_is_never_prepared_so_it_is_planned_for_the_table_as_it_is(
    database: Database, register: Register
) -> None:
    register("cam-1", "A-12")
    with database.session() as session:
        for _ in range(10):  # the driver prepares a statement on its fifth run
            stored(session, IngestedEvent.event_id, [uuid.uuid4() for _ in range(5)])
        prepared = session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
        one_of_runs = [
            session.scalars(select(Device.device_id).where(one_of(session, Device.device_id, ["cam-1"] * n))).all()
            for n in range(1, 8)
        ]
        prepared_after = session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert not [statement for statement in prepared if "ingested_events" in statement]
    assert one_of_runs == [["cam-1"]] * 7
    # Seven different counts, one statement: the driver prepared it once.
    assert len([statement for statement in prepared_after if "FROM devices" in statement]) == 1
