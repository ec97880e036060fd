"""The urgent clock: an urgent deployment whose authorisation was not recorded within its 24 hours lapses.

Run by the scheduler (:func:`vigil.command.jobs.keep_deployments`). A lapsed deployment is stopped on every device
and everything it found is deleted, as if the authority had refused it (EU AI Act Art 5(3)); one ended early but
still undecided lapses the same way. The actor is the clock itself (``system:urgent_clock``).
"""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.deployments.deletion import delete_deployment_data
from vigil.command.deployments.models import Deployment, DeploymentState
from vigil.command.deployments.stopping import stop_deployment
from vigil.command.feed.service import open_feed_for_writing
from vigil.events import DeploymentStopReason

URGENT_CLOCK = Actor.system("urgent_clock")
"""Who lapses a deployment, as the audit and the deployment's ``ended_by`` record it."""


def lapse_overdue(*, session: Session, now: datetime) -> list[uuid.UUID]:
    """Lapse every urgent deployment still undecided at its ``authorisation_due_at``; delete what each found.

    Args:
        session: the transaction; the caller commits.
        now: the current time (UTC).

    Returns:
        The deployments lapsed, by id.
    """
    open_feed_for_writing(session=session)  # deletion removes feed entries: the lock comes before the rows'
    overdue = session.scalars(
        select(Deployment)
        .where(
            Deployment.urgent.is_(True),
            Deployment.decided_at.is_(None),
            Deployment.state.in_((DeploymentState.URGENT, DeploymentState.ENDED)),
            Deployment.authorisation_due_at <= now,
        )
        .order_by(Deployment.authorisation_due_at, Deployment.deployment_id)
        .with_for_update()
    ).all()
    for deployment in overdue:
        due = deployment.authorisation_due_at
        stop_deployment(
            session=session,
            deployment=deployment,
            reason=DeploymentStopReason.LAPSED,
            why=f"no authorisation was recorded within 24 hours (due {due.isoformat() if due else 'unknown'})",
            actor=URGENT_CLOCK,
            now=now,
        )
        delete_deployment_data(session=session, deployment=deployment, actor=URGENT_CLOCK, now=now)
    return [deployment.deployment_id for deployment in overdue]
