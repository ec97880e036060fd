"""Retention deletes exactly the images whose time has come, audits each deletion, and keeps every record."""

import base64
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.command.conftest import Register
from tests.command.events import alert
from tests.command.governance import SUPERVISOR, ingest_events, live_subject, make_keys, new_watchlist, review
from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.service import ingest
from vigil.command.retention.holds import AnyHold, NoHold
from vigil.command.retention.service import run_retention
from vigil.command.settings import IngestionLimits, RetentionSettings
from vigil.command.watchlists.models import WatchlistTemplate
from vigil.command.watchlists.subjects import remove_subject
from vigil.events import encode_event, utc_now

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


class HeldByIncident:
    """Stands in for "attached to an open incident" (incidents arrive with dispatch)."""

    def __init__(self, alert_ids: set[uuid.UUID]) -> None:
        self.alert_ids = alert_ids

    def held_alert_ids(self, *, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return self.alert_ids & set(alert_ids)


def _probes(database: Database) -> dict[uuid.UUID, bool]:
    with database.session() as session:
        rows = session.execute(select(Alert.alert_id, Alert.probe_jpeg.is_not(None), Alert.review_decision)).all()
    assert all(decision is not None or kept for _, kept, decision in rows)  # pending alerts always keep theirs
    return {alert_id: bool(kept) for alert_id, kept, _ in rows}


@pytest.mark.parametrize("batch", [1, 500])
def test_retention_deletes_exactly_what_is_due(
    database: Database, tmp_path: Path, register: Register, probe_jpeg: bytes, batch: int
) -> None:
    register()
    reviewed = utc_now() - timedelta(days=40)
    dismissed, confirmed, held, pending = (alert(probe_jpeg, at=reviewed - timedelta(minutes=5)) for _ in range(4))
    ingest_events(database, "cam-1", dismissed, confirmed, held, pending)
    review(database, dismissed.alert_id, "dismissed", at=reviewed, reason="not him")
    review(database, confirmed.alert_id, "confirmed", at=reviewed)
    review(database, held.alert_id, "confirmed", at=reviewed)
    settings = RetentionSettings(batch=batch)
    hold = AnyHold([NoHold(), HeldByIncident({held.alert_id})])

    def run(at: datetime) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
        report = run_retention(database=database, settings=settings, hold=hold, actor=Actor.system("retention"), now=at)
        return report.dismissed_probes_deleted, report.confirmed_probes_deleted, report.held

    assert run(reviewed + DAY - SECOND) == ([], [], [])
    assert run(reviewed + DAY) == ([dismissed.alert_id], [], [])
    assert run(reviewed + 31 * DAY - SECOND) == ([], [], [])
    assert run(reviewed + 31 * DAY) == ([], [confirmed.alert_id], [held.alert_id])
    assert run(reviewed + 400 * DAY) == ([], [], [held.alert_id])
    assert _probes(database) == {
        dismissed.alert_id: False,
        confirmed.alert_id: False,
        held.alert_id: True,
        pending.alert_id: True,
    }
    with database.session() as session:
        rows = {a.alert_id: a for a in session.scalars(select(Alert))}
    assert rows[dismissed.alert_id].review_reason == "not him"  # the record stays for the report
    assert rows[confirmed.alert_id].probe_deleted_at == reviewed + 31 * DAY
    assert rows[held.alert_id].probe_deleted_at is None


def test_templates_of_ended_subjects_go_after_their_period_and_live_ones_stay(
    database: Database, tmp_path: Path, probe_jpeg: bytes
) -> None:
    keys = make_keys(tmp_path)
    now = utc_now() - timedelta(days=40)
    watchlist_id = new_watchlist(database, now)
    live_subject(database, keys, watchlist_id, "removed", probe_jpeg, now=now, expires_in=timedelta(days=365))
    live_subject(database, keys, watchlist_id, "staying", probe_jpeg, now=now, expires_in=timedelta(days=365))
    with database.session() as session:
        remove_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="removed",
            reason="arrested",
            actor=SUPERVISOR,
            settings=keys.settings,
            now=now,
        )
        session.commit()
    settings = RetentionSettings(ended_subject_s=7 * 86_400)

    def run(at: datetime) -> list[str]:
        return run_retention(
            database=database, settings=settings, hold=NoHold(), actor=Actor.system("retention"), now=at
        ).subjects_cleared

    assert run(now + 7 * DAY - SECOND) == []
    assert run(now + 7 * DAY) == [f"{watchlist_id}/removed"]
    assert run(now + 8 * DAY) == []
    with database.session() as session:
        templates = session.execute(
            select(
                WatchlistTemplate.source,
                WatchlistTemplate.chip_jpeg.is_not(None),
                WatchlistTemplate.embedding.is_not(None),
            ).order_by(WatchlistTemplate.source)
        ).all()
    assert [tuple(t) for t in templates] == [("removed.jpg", False, False), ("staying.jpg", True, True)]


def test_each_deletion_leaves_an_audit_record_without_the_image(
    database: Database, register: Register, probe_jpeg: bytes
) -> None:
    import base64

    from vigil.command.audit.models import AuditEntry

    register()
    reviewed = utc_now() - 2 * DAY
    dismissed = alert(probe_jpeg, at=reviewed)
    ingest_events(database, "cam-1", dismissed)
    review(database, dismissed.alert_id, "dismissed", at=reviewed, reason="not him")
    run_retention(
        database=database, settings=RetentionSettings(), hold=NoHold(), actor=Actor.system("retention"), now=utc_now()
    )
    with database.session() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.probe_deleted")).all()
    assert (entry.actor, entry.record_type, entry.record_id) == ("system:retention", "alert", str(dismissed.alert_id))
    assert '"decision":"dismissed"' in entry.details
    assert base64.b64encode(probe_jpeg)[:40].decode() not in entry.details
    assert len(entry.details) < 400


def test_rejected_events_go_after_their_period_without_their_crops_ever_being_kept(
    database: Database, register: Register, probe_jpeg: bytes
) -> None:
    register()
    arrived = utc_now() - 10 * DAY
    for at in (arrived, arrived + 3 * DAY):
        with database.session() as session:
            ingest(
                session=session,
                raw=encode_event(alert(probe_jpeg, unit_id="B-7", at=at)),  # another unit's: rejected
                transport=Transport.HTTP,
                authenticated_device_id="cam-1",
                limits=IngestionLimits(),
                metrics=IngestionMetrics(),
                now=at,
            )
    with database.session() as session:
        kept = session.scalars(select(RejectedEvent).order_by(RejectedEvent.id)).all()
    assert [r.reason for r in kept] == [RejectReason.UNIT_MISMATCH] * 2
    assert all(base64.b64encode(probe_jpeg)[:100] not in r.raw and b"face crop removed" in r.raw for r in kept)
    settings = RetentionSettings(rejected_event_s=7 * 86_400)

    def run(at: datetime) -> int:
        return run_retention(
            database=database, settings=settings, hold=NoHold(), actor=Actor.system("retention"), now=at
        ).rejected_events_deleted

    assert run(arrived + 7 * DAY - SECOND) == 0
    assert run(arrived + 7 * DAY) == 1
    assert run(arrived + 10 * DAY) == 1
    with database.session() as session:
        assert session.scalars(select(RejectedEvent)).all() == []
        entries = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "retention.rejected_events_deleted")
        ).all()
    assert len(entries) == 2
    assert all('"deleted":1' in details for details in entries)
