"""The governance jobs the scheduler runs: escalation, watchlist upkeep, retention."""

from datetime import datetime

from vigil.command.actor import Actor
from vigil.command.database import Database
from vigil.command.retention.holds import RetentionHold
from vigil.command.retention.service import run_retention
from vigil.command.reviews.service import escalate_unreviewed
from vigil.command.scheduler import JOB_LOCK_BASE, Job
from vigil.command.settings import CommandSettings
from vigil.command.watchlists.keys import PackageKeys
from vigil.command.watchlists.subjects import expire_subjects, renew_versions
from vigil.command.watchlists.versions import sync_packages


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


def governance_jobs(
    *, database: Database, settings: CommandSettings, keys: PackageKeys | None, hold: RetentionHold
) -> list[Job]:
    """The jobs, with the intervals the settings give."""
    schedule = settings.scheduler
    return [
        Job(
            name="escalation",
            every_s=schedule.escalation_every_s,
            lock_key=JOB_LOCK_BASE + 1,
            run=lambda now: _ignore(escalate(database=database, settings=settings, now=now)),
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
