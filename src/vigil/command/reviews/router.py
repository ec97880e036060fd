"""Review API: the queue, the reviewer's view and its images (each view audited), and the decision.

Operators and supervisors review. A decision is one POST and final (409 for a second one). A silent trial's
alerts are not in the queue: ``GET /api/v1/reviews/trial?deployment_id=…`` lists them for later review (audited);
they are decided with the same POST, and nothing is started from them.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from vigil.command.accounts.models import Role
from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import Principal, RuntimeDep, SessionDep, require
from vigil.command.api.images import jpeg_response
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.incidents.service import follow_sighting
from vigil.command.reviews.schemas import ReviewDetail, ReviewOutcome, ReviewQueue, ReviewRequest, TrialReview
from vigil.command.reviews.service import (
    confirmed_alert,
    decide,
    review_detail,
    review_enrolled_chip,
    review_probe,
    review_queue,
)
from vigil.command.reviews.trial import trial_alerts
from vigil.events import ReviewDecision, utc_now

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"], responses=ERROR_RESPONSES)

ReviewerDep = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]

_JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "JPEG; biometric data, never cached."}
}


@router.get("")
def get_queue(
    session: SessionDep,
    reviewer: ReviewerDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most alerts returned.")] = 100,
) -> ReviewQueue:
    """Alerts awaiting review, oldest first, with their age (a silent trial's are listed under ``/trial``)."""
    return review_queue(session=session, now=utc_now(), limit=limit)


@router.get("/trial")
def get_trial(
    session: SessionDep,
    reviewer: ReviewerDep,
    deployment_id: Annotated[uuid.UUID, Query(description="The silent trial deployment.")],
    pending: Annotated[
        bool | None, Query(description="true: only alerts awaiting review; false: only decided ones; absent: all.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most alerts returned.")] = 100,
) -> TrialReview:
    """A silent trial deployment's alerts for later review, oldest first, with its figures (the view is audited)."""
    trial = trial_alerts(
        session=session,
        deployment_id=deployment_id,
        pending=pending,
        limit=limit,
        actor=actor_of(reviewer),
        now=utc_now(),
    )
    session.commit()
    return trial


@router.get("/{alert_id}")
def get_review(alert_id: uuid.UUID, session: SessionDep, reviewer: ReviewerDep) -> ReviewDetail:
    """Everything the reviewer needs to decide (the view is audited)."""
    detail = review_detail(session=session, alert_id=alert_id, actor=actor_of(reviewer), now=utc_now())
    session.commit()
    return detail


@router.get("/{alert_id}/probe.jpg", response_class=Response, responses=_JPEG)
def get_review_probe(alert_id: uuid.UUID, session: SessionDep, reviewer: ReviewerDep) -> Response:
    """The camera's face crop (the view is audited)."""
    image = review_probe(session=session, alert_id=alert_id, actor=actor_of(reviewer), now=utc_now())
    session.commit()
    return jpeg_response(image)


@router.get("/{alert_id}/enrolled.jpg", response_class=Response, responses=_JPEG)
def get_review_enrolled(alert_id: uuid.UUID, session: SessionDep, reviewer: ReviewerDep) -> Response:
    """The watchlist's face chip of the matched subject (the view is audited)."""
    image = review_enrolled_chip(session=session, alert_id=alert_id, actor=actor_of(reviewer), now=utc_now())
    session.commit()
    return jpeg_response(image)


@router.post("/{alert_id}/decision")
def post_decision(
    alert_id: uuid.UUID, request: ReviewRequest, session: SessionDep, runtime: RuntimeDep, reviewer: ReviewerDep
) -> ReviewOutcome:
    """Confirm or dismiss (with a reason) an alert; the device is told (``alert.reviewed``).

    A confirmed sighting of a subject already pursued moves that incident's target, and its units are told. A
    silent trial's alert is only recorded: nobody is told, and nothing moves.
    """
    actor, now = actor_of(reviewer), utc_now()
    outcome = decide(session=session, alert_id=alert_id, request=request, actor=actor, now=now)
    if outcome.decision is ReviewDecision.CONFIRMED and not outcome.silent:
        follow_sighting(
            session=session,
            alert=confirmed_alert(session=session, alert_id=alert_id),
            actor=actor,
            now=now,
            settings=runtime.settings.dispatch,
        )
    session.commit()
    return outcome
