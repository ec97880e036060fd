"""The retention policy: face crops of reviewed alerts and templates of ended subjects, deleted on schedule.

What goes, and when (periods from :class:`~vigil.command.settings.RetentionSettings`):

* the face crop of a **dismissed** alert, ``dismissed_probe_s`` after the dismissal (24 h by default);
* the face crop of a **confirmed** alert, ``confirmed_probe_s`` after the confirmation (31 days), unless a
  :class:`~vigil.command.retention.holds.RetentionHold` still needs it (an open incident);
* the templates (embeddings and face chips) of a subject **removed or expired**, ``ended_subject_s`` after that;
* device packages past their validity (they hold encrypted templates, and no device may use them);
* rejected events (the dead letters: excerpts of what devices and trackers sent), ``rejected_event_s`` after
  they arrived (7 days); their number is also capped as they are stored (:mod:`vigil.command.ingestion.rejections`).

A crop of an alert nobody has reviewed is never deleted: it waits for its decision (and is escalated). The alert
rows, decisions and subject records stay: the public report counts them. Each deletion leaves an audit record
naming what was deleted, never the image. A deadline is inclusive: at exactly the period's end the image goes.
Work is committed in batches, so a long backlog never holds one huge transaction.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.service import record_action
from vigil.command.database import Database
from vigil.command.ingestion.rejections import delete_rejections_before
from vigil.command.retention.holds import RetentionHold
from vigil.command.retention.schemas import RetentionReport
from vigil.command.settings import RetentionSettings
from vigil.command.watchlists.models import DevicePackage, SubjectState, WatchlistSubject, WatchlistTemplate
from vigil.events import ReviewDecision


def run_retention(
    *, database: Database, settings: RetentionSettings, hold: RetentionHold, actor: Actor, now: datetime
) -> RetentionReport:
    """Apply the retention policy once; commits in batches.

    Args:
        database: the command centre's database.
        settings: the periods.
        hold: what keeps confirmed alerts' crops (open incidents).
        actor: who runs it (the scheduler, or a person from the command line), for the audit.
        now: the current time (UTC).

    Returns:
        What was deleted and what was kept because held.

    Raises:
        DatabaseUnavailable: the database cannot be reached (batches already committed stay committed).
    """
    report = RetentionReport(
        ran_at=now,
        actor=actor.user_id,
        dismissed_probes_deleted=[],
        confirmed_probes_deleted=[],
        held=[],
        subjects_cleared=[],
        packages_deleted=0,
    )
    dismissed_cutoff = now - timedelta(seconds=settings.dismissed_probe_s)
    confirmed_cutoff = now - timedelta(seconds=settings.confirmed_probe_s)
    held: set[uuid.UUID] = set()
    for decision, cutoff, deleted in (
        (ReviewDecision.DISMISSED, dismissed_cutoff, report.dismissed_probes_deleted),
        (ReviewDecision.CONFIRMED, confirmed_cutoff, report.confirmed_probes_deleted),
    ):
        examined = settings.batch
        while examined == settings.batch:
            with database.session() as session:
                examined = _clear_probes(
                    session,
                    decision,
                    cutoff,
                    settings.batch,
                    hold=hold if decision is ReviewDecision.CONFIRMED else None,
                    held=held,
                    deleted=deleted,
                    actor=actor,
                    now=now,
                )
                session.commit()
    report.held.extend(sorted(held))
    with database.session() as session:
        report.subjects_cleared.extend(
            _clear_subjects(session, now - timedelta(seconds=settings.ended_subject_s), actor=actor, now=now)
        )
        report.packages_deleted = _delete_expired_packages(session, now)
        report.rejected_events_deleted = _delete_rejections(
            session, now - timedelta(seconds=settings.rejected_event_s), actor=actor, now=now
        )
        session.commit()
    return report


def _clear_probes(
    session: Session,
    decision: ReviewDecision,
    cutoff: datetime,
    batch: int,
    *,
    hold: RetentionHold | None,
    held: set[uuid.UUID],
    deleted: list[uuid.UUID],
    actor: Actor,
    now: datetime,
) -> int:
    """Delete the crops of up to ``batch`` alerts decided ``decision`` at or before ``cutoff``.

    Alerts ``hold`` keeps are added to ``held`` (and passed over from then on); deleted ids to ``deleted``.

    Returns:
        How many alerts were examined (fewer than ``batch``: none are left).
    """
    query = (
        select(Alert.alert_id, Alert.subject_id, Alert.device_id, Alert.raised_at, Alert.reviewed_at)
        .where(
            Alert.review_decision == decision,
            Alert.reviewed_at <= cutoff,
            Alert.probe_jpeg.is_not(None),
        )
        .order_by(Alert.reviewed_at, Alert.alert_id)
    )
    if held:
        query = query.where(Alert.alert_id.not_in(held))
    examined = session.execute(query.limit(batch)).all()
    due = list(examined)
    if hold is not None and due:
        newly_held = hold.held_alert_ids(session=session, alert_ids=[row[0] for row in due])
        held |= newly_held
        due = [row for row in due if row[0] not in newly_held]
    ids = [row[0] for row in due]
    if not ids:
        return len(examined)
    session.execute(
        update(Alert)
        .where(Alert.alert_id.in_(ids))
        .values(probe_jpeg=None, probe_deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    for alert_id, subject_id, device_id, raised_at, reviewed_at in due:
        record_action(
            session=session,
            actor=actor.user_id,
            action="retention.probe_deleted",
            record_type="alert",
            record_id=str(alert_id),
            address=actor.address,
            details={
                "decision": decision.value,
                "subject_id": subject_id,
                "device_id": device_id,
                "raised_at": raised_at.isoformat(),
                "reviewed_at": reviewed_at.isoformat() if reviewed_at is not None else None,
            },
            now=now,
        )
    deleted.extend(ids)
    return len(examined)


def _clear_subjects(session: Session, cutoff: datetime, *, actor: Actor, now: datetime) -> list[str]:
    """Delete the templates of subjects removed or expired at or before ``cutoff``."""
    subjects = session.scalars(
        select(WatchlistSubject)
        .where(
            WatchlistSubject.state.in_([SubjectState.REMOVED, SubjectState.EXPIRED]),
            WatchlistSubject.ended_at <= cutoff,
            WatchlistSubject.templates_deleted_at.is_(None),
        )
        .order_by(WatchlistSubject.ended_at, WatchlistSubject.id)
    ).all()
    cleared = []
    for subject in subjects:
        session.execute(
            update(WatchlistTemplate)
            .where(WatchlistTemplate.subject_row_id == subject.id)
            .values(embedding=None, chip_jpeg=None)
            .execution_options(synchronize_session=False)
        )
        subject.templates_deleted_at = now
        name = f"{subject.watchlist_id}/{subject.subject_id}"
        record_action(
            session=session,
            actor=actor.user_id,
            action="retention.templates_deleted",
            record_type="watchlist_subject",
            record_id=name,
            address=actor.address,
            details={
                "state": subject.state.value,
                "ended_at": subject.ended_at.isoformat() if subject.ended_at is not None else None,
            },
            now=now,
        )
        cleared.append(name)
    return cleared


def _delete_expired_packages(session: Session, now: datetime) -> int:
    result = session.execute(delete(DevicePackage).where(DevicePackage.valid_until <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _delete_rejections(session: Session, cutoff: datetime, *, actor: Actor, now: datetime) -> int:
    """Delete the rejected events received at or before ``cutoff``; one audit record gives their number."""
    deleted = delete_rejections_before(session=session, cutoff=cutoff)
    if deleted:
        record_action(
            session=session,
            actor=actor.user_id,
            action="retention.rejected_events_deleted",
            record_type="rejected_events",
            record_id=None,
            address=actor.address,
            details={"deleted": deleted, "received_up_to": cutoff.isoformat()},
            now=now,
        )
    return deleted
