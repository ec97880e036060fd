"""The jobs the scheduler runs: escalation, the urgent deployments' clock, watchlist upkeep, retention, checkpoints."""

from collections.abc import Callable
from datetime import datetime

from vigil.command.actor import Actor
from vigil.command.audit.anchoring import write_checkpoint
from vigil.command.audit.checkpoint_store import checked_store
from vigil.command.audit.keys import load_checkpoint_signing_key
from vigil.command.database import Database
from vigil.command.deployments.clock import lapse_overdue
from vigil.command.incidents.service import escalate_overdue
from vigil.command.retention.holds import RetentionHold
from vigil.command.retention.service import run_retention
from vigil.command.reviews.service import escalate_unreviewed
from vigil.command.scheduler import JOB_LOCK_BASE, Job
from vigil.command.settings import CommandSettings
from vigil.command.watchlists.keys import PackageKeys
from vigil.command.watchlists.subjects import expire_subjects, renew_versions
from vigil.command.watchlists.versions import sync_packages
from vigil.dispatch.eta import EtaModel
from vigil.dispatch.unit_index import UnitIndex

UnitIndexSource = Callable[[], tuple[UnitIndex | None, EtaModel | None]]
"""The live unit index and the arrival-time model, once the server has them (None, None while it starts)."""


def escalate(*, database: Database, settings: CommandSettings, now: datetime) -> int:
    """Escalate alerts unreviewed past ``review.escalation_s``; returns how many."""
    with database.session() as session:
        escalated = escalate_unreviewed(session=session, escalation_s=settings.review.escalation_s, now=now)
        session.commit()
    return len(escalated)


def keep_watchlists(*, database: Database, settings: CommandSettings, keys: PackageKeys | None, now: datetime) -> int:
    """Expire subjects, renew versions near the end of their validity, and package them for devices.

    Returns:
        How many versions were made.
    """
    with database.session() as session:
        versions = expire_subjects(session=session, settings=settings.watchlists, now=now)
        versions += renew_versions(session=session, settings=settings.watchlists, now=now)
        sync_packages(session=session, keys=keys, public_url=settings.public_url(), now=now)
        session.commit()
    return len(versions)


def keep_deployments(*, database: Database, now: datetime) -> int:
    """Lapse urgent deployments whose 24 hours passed without an authorisation, deleting what they found.

    Returns:
        How many lapsed.
    """
    with database.session() as session:
        lapsed = lapse_overdue(session=session, now=now)
        session.commit()
    return len(lapsed)


def escalate_dispatches(*, database: Database, settings: CommandSettings, units: UnitIndexSource, now: datetime) -> int:
    """Escalate unanswered and declined orders, proposing the next unit; returns how many (0 before the index)."""
    index, eta_model = units()
    if index is None or eta_model is None:
        return 0  # the server is still starting
    with database.session() as session:
        escalated = escalate_overdue(
            session=session, index=index, eta_model=eta_model, settings=settings.dispatch, now=now
        )
        session.commit()
    return len(escalated)


def dispatch_jobs(*, database: Database, settings: CommandSettings, units: UnitIndexSource) -> list[Job]:
    """The dispatch job: escalation of orders nobody answered in time, or declined."""
    return [
        Job(
            name="dispatch escalation",
            every_s=settings.scheduler.dispatch_every_s,
            lock_key=JOB_LOCK_BASE + 4,
            run=lambda now: _ignore(escalate_dispatches(database=database, settings=settings, units=units, now=now)),
        )
    ]


def audit_jobs(*, database: Database, settings: CommandSettings) -> list[Job]:
    """The audit checkpoint: every ``audit.checkpoint_every_s`` when the trail has grown, and at shutdown.

    No job when ``audit.checkpoint_dir`` is not set. The key is read and the store's folder looked for here, at
    startup, so that a missing or unprotected key, or a share not mounted, stops the server rather than leaving
    the trail unanchored.

    Raises:
        CheckpointKeyError: the key file is missing, malformed or readable by others.
        CheckpointStoreError: the store's folder does not exist.
    """
    audit = settings.audit
    if audit.checkpoint_dir is None or audit.checkpoint_key_file is None:
        return []
    checked_store(audit.checkpoint_dir)
    directory, key = audit.checkpoint_dir, load_checkpoint_signing_key(audit.checkpoint_key_file)
    return [
        Job(
            name="audit checkpoint",
            every_s=audit.checkpoint_every_s,
            lock_key=JOB_LOCK_BASE + 5,
            run=lambda now: _ignore(
                write_checkpoint(database=database, directory=directory, key=key, now=now, always=False)
            ),
            at_stop=True,
        )
    ]


def governance_jobs(
    *, database: Database, settings: CommandSettings, keys: PackageKeys | None, hold: RetentionHold
) -> list[Job]:
    """The jobs, with the intervals the settings give (the audit checkpoint among them, when configured).

    Raises:
        CheckpointKeyError: the audit checkpoint key file is missing, malformed or readable by others.
        CheckpointStoreError: the audit checkpoint store's folder does not exist.
    """
    schedule = settings.scheduler
    return [
        *audit_jobs(database=database, settings=settings),
        Job(
            name="escalation",
            every_s=schedule.escalation_every_s,
            lock_key=JOB_LOCK_BASE + 1,
            run=lambda now: _ignore(escalate(database=database, settings=settings, now=now)),
        ),
        Job(
            name="urgent deployments",
            every_s=schedule.watchlists_every_s,
            lock_key=JOB_LOCK_BASE + 6,
            run=lambda now: _ignore(keep_deployments(database=database, now=now)),
        ),
        Job(
            name="watchlists",
            every_s=schedule.watchlists_every_s,
            lock_key=JOB_LOCK_BASE + 2,
            run=lambda now: _ignore(keep_watchlists(database=database, settings=settings, keys=keys, now=now)),
        ),
        Job(
            name="retention",
            every_s=schedule.retention_every_s,
            lock_key=JOB_LOCK_BASE + 3,
            run=lambda now: _ignore(
                run_retention(
                    database=database,
                    settings=settings.retention,
                    hold=hold,
                    actor=Actor.system("retention"),
                    now=now,
                )
            ),
        ),
    ]


def _ignore(_: object) -> None:
    """Jobs report through their logs and the audit; the scheduler needs no result."""
