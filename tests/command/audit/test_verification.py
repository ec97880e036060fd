"""The audit chain finds every kind of tampering and says which entry; PostgreSQL refuses to change it at all."""

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.command.audit.conftest import Tamper
from vigil.command.audit.chain import EntryContent, entry_hash
from vigil.command.audit.models import AuditEntry
from vigil.command.audit.schemas import ProblemKind
from vigil.command.audit.service import record_action
from vigil.command.audit.verification import verify_chain
from vigil.command.database import Database
from vigil.command.errors import InvalidAuditEntry
from vigil.events import utc_now


def _problems(database: Database) -> list[tuple[ProblemKind, int]]:
    return [(p.kind, p.seq) for p in verify_chain(database=database, page_size=2).problems]


def test_an_untouched_trail_is_intact_and_names_its_head(trail: Database) -> None:
    report = verify_chain(database=trail, page_size=4)
    with trail.session() as session:
        head = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert head is not None
    assert (report.intact, report.entries, report.problems) == (True, 6, [])
    assert (report.head_seq, report.head_hash) == (6, head.hash)
    assert head.prev_hash != "0" * 64
    assert len(head.hash) == 64


def test_an_empty_trail_is_intact(database: Database) -> None:
    report = verify_chain(database=database)
    assert (report.intact, report.entries, report.head_seq, report.head_hash) == (True, 0, None, None)


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        pytest.param("UPDATE audit_log SET actor = 'op-9' WHERE seq = 3", [(ProblemKind.EDITED, 3)], id="edit-actor"),
        pytest.param(
            "UPDATE audit_log SET details = '{\"n\":30}' WHERE seq = 3", [(ProblemKind.EDITED, 3)], id="edit-details"
        ),
        pytest.param("UPDATE audit_log SET details = 'garbage' WHERE seq = 2", [(ProblemKind.EDITED, 2)], id="garble"),
        pytest.param("DELETE FROM audit_log WHERE seq = 4", [(ProblemKind.MISSING, 4)], id="delete-one"),
        pytest.param("DELETE FROM audit_log WHERE seq IN (2, 3)", [(ProblemKind.MISSING, 2)], id="delete-two"),
        pytest.param("DELETE FROM audit_log WHERE seq = 1", [(ProblemKind.MISSING, 1)], id="delete-first"),
        pytest.param(
            "UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; "
            "UPDATE audit_log SET seq = 4 WHERE seq = -3",
            [(ProblemKind.OUT_OF_ORDER, 3), (ProblemKind.OUT_OF_ORDER, 4), (ProblemKind.OUT_OF_ORDER, 5)],
            id="swap",
        ),
        pytest.param(
            "DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = seq - 1 WHERE seq > 4",
            [(ProblemKind.EDITED, 3)],  # "entry 3 was altered …, or entries after it were removed and renumbered"
            id="delete-and-renumber",
        ),
    ],
)
def test_each_kind_of_tampering_is_found_and_located(
    trail: Database, tamper: Tamper, sql: str, found: list[tuple[ProblemKind, int]]
) -> None:
    tamper(sql)
    report = verify_chain(database=trail, page_size=2)
    assert not report.intact
    assert [(p.kind, p.seq) for p in report.problems] == found


def test_the_messages_say_what_happened_where(trail: Database, tamper: Tamper) -> None:
    tamper("UPDATE audit_log SET record_id = 'alert-x' WHERE seq = 2")
    tamper("DELETE FROM audit_log WHERE seq = 4")
    problems = verify_chain(database=trail).problems
    assert [p.message for p in problems] == [
        "entry 2 was edited: its content no longer matches its hash",
        "entry 4 is missing: entry 5 was written after an entry that is no longer there",
    ]
    assert problems[1].missing_seqs == [4]


def test_an_edited_entry_whose_hash_was_recomputed_shows_at_the_next_link(trail: Database, tamper: Tamper) -> None:
    with trail.session() as session:
        entry = session.get(AuditEntry, 3)
        assert entry is not None
        session.expunge(entry)
    forged = EntryContent(
        at=entry.at,
        actor="op-9",
        action=entry.action,
        record_type=entry.record_type,
        record_id=entry.record_id,
        address=entry.address,
        details=entry.details,
    )
    tamper(f"UPDATE audit_log SET actor = 'op-9', hash = '{entry_hash(entry.prev_hash, forged)}' WHERE seq = 3")
    assert _problems(trail) == [(ProblemKind.EDITED, 3)]


def test_the_database_refuses_to_update_or_delete_entries_through_the_servers_connection(trail: Database) -> None:
    for statement in ("UPDATE audit_log SET actor = 'op-9' WHERE seq = 3", "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises(DBAPIError, match="append-only"), trail.engine.begin() as connection:
            connection.execute(text(statement))
    if trail.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), trail.engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_log"))
    assert verify_chain(database=trail).intact


def test_appends_from_many_threads_form_one_unbroken_chain(database: Database) -> None:
    def append(worker: int) -> None:
        for n in range(10):
            with database.session() as session:
                record_action(
                    session=session,
                    actor=f"op-{worker}",
                    action="alert.probe_viewed",
                    record_type="alert",
                    record_id=str(n),
                    address=None,
                    now=utc_now(),
                )
                session.commit()

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    report = verify_chain(database=database)
    assert (report.intact, report.entries, report.head_seq) == (True, 40, 40)


def test_an_entry_and_its_action_commit_together_or_not_at_all(database: Database) -> None:
    with database.session() as session:
        record_action(
            session=session,
            actor="op-1",
            action="alert.confirmed",
            record_type="alert",
            record_id="a",
            address=None,
            now=utc_now(),
        )
        session.rollback()
    assert verify_chain(database=database).entries == 0


@pytest.mark.parametrize(
    ("details", "match"),
    [
        ({"probe": "x" * 201}, "201 characters"),
        ({"embedding": [0.1] * 128}, "lists a float"),
        ({"image": b"\xff\xd8"}, "is a bytes"),
        ({"Bad Key": 1}, "snake_case"),
        ({"ids": list(range(1001))}, "1,001 items"),
    ],
)
def test_details_hold_ids_and_counts_only(database: Database, details: dict[str, object], match: str) -> None:
    with database.session() as session, pytest.raises(InvalidAuditEntry, match=match):
        record_action(
            session=session,
            actor="op-1",
            action="alert.probe_viewed",
            record_type="alert",
            record_id="a",
            address=None,
            details=details,
            now=utc_now(),
        )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("actor", "op 1", "actor"), ("action", "viewed", "dotted"), ("record_type", "Alert", "record type")],
)
def test_actor_action_and_record_type_have_their_form(database: Database, field: str, value: str, match: str) -> None:
    arguments: dict[str, str] = {"actor": "op-1", "action": "alert.viewed", "record_type": "alert", field: value}
    with database.session() as session, pytest.raises(InvalidAuditEntry, match=match):
        record_action(session=session, record_id=None, address=None, now=utc_now(), **arguments)
