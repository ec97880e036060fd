"""A silent trial's alerts, for trained reviewers to decide later.

A silent deployment searches as a live one does, but its matches reach no officer and no live queue
(:mod:`vigil.command.reviews.service`). Reviewers list a deployment's silent alerts here, open each as any other
(the detail, the probe crop and the enrolled chip, each view audited) and decide it: confirmed and dismissed are
the trial's true and false matches. The list names subjects and where they were matched, so every look at it is
audited too.
"""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.service import record_by
from vigil.command.deployments.errors import UnknownDeployment
from vigil.command.deployments.models import Deployment
from vigil.command.reviews.schemas import TrialAlert, TrialReview
from vigil.events import ReviewDecision

_DETAIL_URL = "/api/v1/reviews/{alert_id}"


def trial_alerts(
    *,
    session: Session,
    deployment_id: uuid.UUID,
    pending: bool | None,
    limit: int,
    actor: Actor,
    now: datetime,
) -> TrialReview:
    """A deployment's silent alerts, oldest first, with the trial's figures; the view is audited. The caller commits.

    Args:
        session: where to read them (and record the view).
        deployment_id: the deployment.
        pending: True: only those awaiting review; False: only those decided; None: all.
        limit: the most alerts listed (the figures count them all).
        actor: who looks.
        now: the time of the view (UTC).

    Returns:
        Its silent alerts (none for a live deployment) and how many await review, were confirmed and dismissed.

    Raises:
        UnknownDeployment: no deployment has this id.
    """
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise UnknownDeployment(str(deployment_id))
    silent = (Alert.deployment_id == deployment_id) & Alert.silent.is_(True)
    query = select(Alert).options(defer(Alert.probe_jpeg)).where(silent)
    if pending is not None:
        query = query.where(Alert.review_decision.is_(None) if pending else Alert.review_decision.is_not(None))
    alerts = session.scalars(query.order_by(Alert.raised_at, Alert.alert_id).limit(limit)).all()
    counts: dict[ReviewDecision | None, int] = {
        decision: count
        for decision, count in session.execute(
            select(Alert.review_decision, func.count()).where(silent).group_by(Alert.review_decision)
        )
    }
    record_by(
        actor,
        session=session,
        action="deployment.trial_alerts_viewed",
        record_type="deployment",
        record_id=str(deployment_id),
        details={"alerts": len(alerts), "pending": pending},
        now=now,
    )
    return TrialReview(
        deployment_id=deployment_id,
        deployment_name=deployment.name,
        alerts=[
            TrialAlert(
                alert_id=alert.alert_id,
                subject_id=alert.subject_id,
                device_id=alert.device_id,
                unit_id=alert.unit_id,
                raised_at=alert.raised_at,
                distance=alert.distance,
                threshold=alert.threshold,
                decision=alert.review_decision,
                reviewed_at=alert.reviewed_at,
                detail_url=_DETAIL_URL.format(alert_id=alert.alert_id),
            )
            for alert in alerts
        ],
        pending=counts.get(None, 0),
        confirmed=counts.get(ReviewDecision.CONFIRMED, 0),
        dismissed=counts.get(ReviewDecision.DISMISSED, 0),
    )
