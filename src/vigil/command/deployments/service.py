"""Deployments: recording one (authorised, or started in urgency), the authority's decision, ending one early.

Rules a force relies on (EU AI Act Art 5(2)–(7)):

* **No search without authorisation.** A deployment is recorded with the authority's decision (authority, its
  reference, who decided, when: never in the future, never after the window starts), or started as *urgent*:
  at once, with its authorisation due within 24 hours (:data:`URGENT_AUTHORISATION_WITHIN`). Neither is refused.
* **Bounded.** One of the three purposes with its specifics, an area (GeoJSON, within
  :data:`~vigil.command.watchlists.service.DEPLOYMENT_AREA_LIMITS`), and a window of at most
  :data:`MAX_WINDOW`.
* **One scope per device.** A watchlist is in at most one running deployment for any moment, so a device (which
  carries one watchlist) searches under exactly one deployment's area, window and mode.
* **Refused or lapsed: stopped and deleted.** :func:`decide` records the decision; a refusal stops the
  deployment on every device and deletes what it found (:mod:`vigil.command.deployments.deletion`), as the urgent
  clock does when no decision came in time (:mod:`vigil.command.deployments.clock`). Ending one early
  (:func:`end_deployment`) stops it and keeps what it found.

Every action is audited. The caller syncs packages (:func:`~vigil.command.watchlists.versions.sync_packages`)
and commits.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.service import record_by
from vigil.command.deployments.deletion import delete_deployment_data
from vigil.command.deployments.errors import (
    AuthorisationRequired,
    DeploymentStateConflict,
    InvalidDeployment,
    UnknownDeployment,
    WatchlistAlreadyDeployed,
)
from vigil.command.deployments.models import (
    RUNNING_STATES,
    Deployment,
    DeploymentState,
    DeploymentWatchlist,
)
from vigil.command.deployments.schemas import (
    DecisionRequest,
    DeploymentCreate,
    DeploymentList,
    DeploymentOut,
)
from vigil.command.deployments.stopping import awaiting_decision, stop_deployment
from vigil.command.feed.service import open_feed_for_writing
from vigil.command.watchlists.models import WatchlistDevice
from vigil.command.watchlists.service import DEPLOYMENT_AREA_LIMITS, watchlist_row
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import InvalidArea
from vigil.events import DeploymentStopReason

_log = logging.getLogger(__name__)

URGENT_AUTHORISATION_WITHIN = timedelta(hours=24)
"""Art 5(3): an urgent use's authorisation is requested at the latest within 24 hours."""

MAX_WINDOW = timedelta(days=7)
"""The longest window one record may authorise. Art 5(2)–(3) ask for limits in time "strictly necessary" for the
specific search; a week covers an event and its approaches or a manhunt's first days, and a longer need goes back
to the authority for a new decision rather than running on an old one."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the server's clock a decision's time may be (a person types it from the authority's paper)."""

NO_AUTHORISATION = (
    "a deployment cannot start without authorisation: record the authority's decision, or start it as urgent (its "
    "authorisation must then be requested within 24 hours)"
)


def create_deployment(*, session: Session, request: DeploymentCreate, actor: Actor, now: datetime) -> DeploymentOut:
    """Record an authorised deployment, or start an urgent one now with its 24-hour clock.

    Args:
        session: the transaction; the caller syncs packages for its watchlists and commits.
        request: what, where, when, which watchlists, and the authority's decision or ``urgent``.
        actor: the supervisor recording it.
        now: the current time (UTC).

    Returns:
        The deployment (state ``authorised`` or ``urgent``).

    Raises:
        AuthorisationRequired: neither an authorisation nor ``urgent``, or both.
        InvalidDeployment: the area is unusable, the window is empty, too long or over, the decision is in the
            future or later than the start, or an urgent request names a start.
        UnknownWatchlist: a watchlist named does not exist.
        WatchlistAlreadyDeployed: a watchlist is in another running deployment whose window overlaps.
    """
    authorisation = request.authorisation
    if authorisation is None and not request.urgent:
        raise AuthorisationRequired(NO_AUTHORISATION)
    if authorisation is not None and request.urgent:
        raise AuthorisationRequired(
            "give either the authority's decision or urgent: true, not both (an authorised deployment is not urgent)"
        )
    if request.urgent and request.starts_at is not None:
        raise InvalidDeployment("an urgent deployment starts at once: leave starts_at out")
    _check_area(request.area)
    starts_at = request.starts_at or now
    _check_window(starts_at, request.ends_at, now)
    if authorisation is not None:
        _check_decided_at(authorisation.decided_at, now)
        if authorisation.decided_at > starts_at:
            raise InvalidDeployment(
                f"the authorisation was decided at {authorisation.decided_at.isoformat()}, after the window starts "
                f"({starts_at.isoformat()}): authorisation comes first; start the window at or after the decision"
            )
    watchlist_ids = sorted(set(request.watchlist_ids))
    for watchlist_id in watchlist_ids:  # locked in one order: two requests for one watchlist take turns
        watchlist_row(session, watchlist_id, lock=True)
    _check_no_overlap(session, watchlist_ids, starts_at, request.ends_at)
    deployment = Deployment(
        deployment_id=uuid.uuid4(),
        name=request.name,
        purpose=request.purpose,
        purpose_detail=request.purpose_detail,
        mode=request.mode,
        area=request.area,
        starts_at=starts_at,
        ends_at=request.ends_at,
        state=DeploymentState.URGENT if request.urgent else DeploymentState.AUTHORISED,
        urgent=request.urgent,
        requested_by=actor.user_id,
        requested_by_name=actor.display_name,
        requested_at=now,
        authorisation_due_at=now + URGENT_AUTHORISATION_WITHIN if request.urgent else None,
        authority=authorisation.authority if authorisation is not None else None,
        authority_reference=authorisation.reference if authorisation is not None else None,
        authorised_by_name=authorisation.authorised_by_name if authorisation is not None else None,
        decided_at=authorisation.decided_at if authorisation is not None else None,
        decision_recorded_by=actor.user_id if authorisation is not None else None,
        decision_recorded_at=now if authorisation is not None else None,
    )
    session.add(deployment)
    session.flush()
    session.add_all(DeploymentWatchlist(deployment_id=deployment.deployment_id, watchlist_id=w) for w in watchlist_ids)
    session.flush()
    details: dict[str, Any] = {
        "state": deployment.state.value,
        "purpose": deployment.purpose.value,
        "mode": deployment.mode.value,
        "watchlist_ids": [str(w) for w in watchlist_ids],
        "starts_at": starts_at.isoformat(),
        "ends_at": request.ends_at.isoformat(),
        "authority_reference": deployment.authority_reference,
        "authorisation_due_at": deployment.authorisation_due_at.isoformat()
        if deployment.authorisation_due_at
        else None,
    }
    audit_deployment(session, actor, "deployment.created", deployment, details, now)
    _log.info(
        "deployment.created",
        extra={
            "deployment_id": str(deployment.deployment_id),
            "state": deployment.state.value,
            "urgent": request.urgent,
        },
    )
    return deployment_out(session=session, deployment=deployment, now=now)


def decide(
    *, session: Session, deployment_id: uuid.UUID, request: DecisionRequest, actor: Actor, now: datetime
) -> DeploymentOut:
    """Record the authority's decision on an urgent deployment.

    Granted, it is authorised; refused, it stops at once on every device and everything it found is deleted.

    A deployment started in urgency and ended early still awaits its decision (a refusal deletes what it found).

    Args:
        session: the transaction (the feed is opened for writing first: a refusal deletes feed entries); the caller
            syncs packages and commits.
        deployment_id: the deployment.
        request: the decision.
        actor: the supervisor recording it.
        now: the current time (UTC).

    Returns:
        The deployment after the decision.

    Raises:
        UnknownDeployment: no such deployment.
        DeploymentStateConflict: it was not started in urgency, or its decision is recorded already, or it lapsed.
        InvalidDeployment: the decision is in the future, before the deployment was started, after its 24 hours,
            or a refusal without its reason.
    """
    open_feed_for_writing(session=session)
    deployment = deployment_row(session, deployment_id, lock=True)
    if not awaiting_decision(deployment):
        raise DeploymentStateConflict(
            f"deployment {deployment_id} is {deployment.state.value} and awaits no decision: only an urgent "
            "deployment's authorisation is recorded afterwards",
            deployment_id=str(deployment_id),
            state=deployment.state.value,
        )
    _check_decided_at(request.decided_at, now)
    due = deployment.authorisation_due_at
    if request.decided_at < deployment.requested_at or (due is not None and request.decided_at > due):
        raise InvalidDeployment(
            f"the decision's time {request.decided_at.isoformat()} lies outside the deployment's 24 hours "
            f"({deployment.requested_at.isoformat()} to {due.isoformat() if due else 'now'})",
            deployment_id=str(deployment_id),
        )
    if not request.granted and request.reason is None:
        raise InvalidDeployment("a refusal needs its reason, for the record", deployment_id=str(deployment_id))
    deployment.authority = request.authority
    deployment.authority_reference = request.reference
    deployment.authorised_by_name = request.authorised_by_name
    deployment.decided_at = request.decided_at
    deployment.decision_recorded_by = actor.user_id
    deployment.decision_recorded_at = now
    details = {"granted": request.granted, "authority_reference": request.reference}
    if request.granted:
        if deployment.state is DeploymentState.URGENT:
            deployment.state = DeploymentState.AUTHORISED
        audit_deployment(session, actor, "deployment.authorised", deployment, details, now)
    else:
        deployment.refusal_reason = request.reason
        audit_deployment(session, actor, "deployment.refused", deployment, details, now)
        stop_deployment(
            session=session,
            deployment=deployment,
            reason=DeploymentStopReason.REFUSED,
            why=f"authorisation refused by {request.authority} ({request.reference})",
            actor=actor,
            now=now,
        )
        delete_deployment_data(session=session, deployment=deployment, actor=actor, now=now)
    _log.info(
        "deployment.decided",
        extra={"deployment_id": str(deployment_id), "granted": request.granted, "state": deployment.state.value},
    )
    return deployment_out(session=session, deployment=deployment, now=now)


def end_deployment(
    *, session: Session, deployment_id: uuid.UUID, reason: str, actor: Actor, now: datetime
) -> DeploymentOut:
    """End a running deployment before its window ends: every device stops searching under it; what it found stays.

    Args:
        session: the transaction; the caller commits.
        deployment_id: the deployment.
        reason: why, for the record.
        actor: the supervisor ending it.
        now: the current time (UTC).

    Returns:
        The deployment, ended.

    Raises:
        UnknownDeployment: no such deployment.
        DeploymentStateConflict: it is not running, or its window is over already.
    """
    deployment = deployment_row(session, deployment_id, lock=True)
    if deployment.state not in RUNNING_STATES or now >= deployment.ends_at:
        over = "its window is over" if deployment.state in RUNNING_STATES else f"it is {deployment.state.value}"
        raise DeploymentStateConflict(
            f"deployment {deployment_id} cannot be ended: {over}",
            deployment_id=str(deployment_id),
            state=deployment.state.value,
        )
    stop_deployment(
        session=session, deployment=deployment, reason=DeploymentStopReason.ENDED, why=reason, actor=actor, now=now
    )
    return deployment_out(session=session, deployment=deployment, now=now)


def list_deployments(*, session: Session, now: datetime) -> DeploymentList:
    """Every deployment, newest first."""
    rows = session.scalars(select(Deployment).order_by(Deployment.requested_at.desc(), Deployment.deployment_id)).all()
    return DeploymentList(deployments=[deployment_out(session=session, deployment=d, now=now) for d in rows])


def get_deployment(*, session: Session, deployment_id: uuid.UUID, now: datetime) -> DeploymentOut:
    """A deployment's record.

    Raises:
        UnknownDeployment: no such deployment.
    """
    return deployment_out(session=session, deployment=deployment_row(session, deployment_id), now=now)


def deployment_out(*, session: Session, deployment: Deployment, now: datetime) -> DeploymentOut:
    """The API shape of a deployment, with its watchlists and the devices carrying them."""
    watchlist_ids = deployment_watchlists(session=session, deployment_id=deployment.deployment_id)
    devices = session.scalars(
        select(WatchlistDevice.device_id)
        .where(WatchlistDevice.watchlist_id.in_(watchlist_ids))
        .order_by(WatchlistDevice.device_id)
    ).all()
    return DeploymentOut(
        deployment_id=deployment.deployment_id,
        name=deployment.name,
        purpose=deployment.purpose,
        purpose_detail=deployment.purpose_detail,
        mode=deployment.mode,
        area=deployment.area,
        starts_at=deployment.starts_at,
        ends_at=deployment.ends_at,
        state=deployment.state,
        searching=searching(deployment, now),
        urgent=deployment.urgent,
        requested_by=deployment.requested_by,
        requested_by_name=deployment.requested_by_name,
        requested_at=deployment.requested_at,
        authorisation_due_at=deployment.authorisation_due_at,
        authority=deployment.authority,
        authority_reference=deployment.authority_reference,
        authorised_by_name=deployment.authorised_by_name,
        decided_at=deployment.decided_at,
        decision_recorded_by=deployment.decision_recorded_by,
        decision_recorded_at=deployment.decision_recorded_at,
        refusal_reason=deployment.refusal_reason,
        ended_at=deployment.ended_at,
        ended_by=deployment.ended_by,
        end_reason=deployment.end_reason,
        data_deleted_at=deployment.data_deleted_at,
        alerts_deleted=deployment.alerts_deleted,
        watchlist_ids=list(watchlist_ids),
        devices=list(devices),
    )


def searching(deployment: Deployment, now: datetime) -> bool:
    """Whether the deployment searches at ``now``: a running state, and its window holds ``now``."""
    return deployment.state in RUNNING_STATES and deployment.starts_at <= now < deployment.ends_at


def deployment_watchlists(*, session: Session, deployment_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """The ids of the watchlists a deployment may use, in order."""
    return session.scalars(
        select(DeploymentWatchlist.watchlist_id)
        .where(DeploymentWatchlist.deployment_id == deployment_id)
        .order_by(DeploymentWatchlist.watchlist_id)
    ).all()


def deployment_row(session: Session, deployment_id: uuid.UUID, *, lock: bool = False) -> Deployment:
    """A deployment row (locked FOR UPDATE when ``lock``).

    Raises:
        UnknownDeployment: no such deployment.
    """
    deployment = session.get(Deployment, deployment_id, with_for_update=lock)
    if deployment is None:
        raise UnknownDeployment(str(deployment_id))
    return deployment


def audit_deployment(
    session: Session, actor: Actor, action: str, deployment: Deployment, details: dict[str, Any], now: datetime
) -> None:
    """Audit an action on a deployment, in the caller's transaction."""
    record_by(
        actor,
        session=session,
        action=action,
        record_type="deployment",
        record_id=str(deployment.deployment_id),
        details=details,
        now=now,
    )


def _check_area(area: dict[str, Any]) -> None:
    try:
        parse_area(area, limits=DEPLOYMENT_AREA_LIMITS)
    except InvalidArea as exc:
        raise InvalidDeployment(f"the deployment's area is not usable: {exc}") from exc


def _check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidDeployment(
            f"the deployment's window ends ({ends_at.isoformat()}) before it starts ({starts_at.isoformat()})"
        )
    if ends_at <= now:
        raise InvalidDeployment(f"the deployment's window ended already ({ends_at.isoformat()})")
    if ends_at - starts_at > MAX_WINDOW:
        raise InvalidDeployment(
            f"the deployment's window is {ends_at - starts_at}; the longest is {MAX_WINDOW.days} days: ask the "
            "authority again for a longer use"
        )


def _check_decided_at(decided_at: datetime, now: datetime) -> None:
    if decided_at > now + CLOCK_SKEW:
        raise InvalidDeployment(
            f"the authority's decision is dated {decided_at.isoformat()}, in the future: record a decision once it "
            "is made"
        )


def _check_no_overlap(
    session: Session, watchlist_ids: Sequence[uuid.UUID], starts_at: datetime, ends_at: datetime
) -> None:
    clash = session.execute(
        select(DeploymentWatchlist.watchlist_id, Deployment.deployment_id, Deployment.name)
        .join(Deployment, Deployment.deployment_id == DeploymentWatchlist.deployment_id)
        .where(
            DeploymentWatchlist.watchlist_id.in_(watchlist_ids),
            Deployment.state.in_(RUNNING_STATES),
            Deployment.starts_at < ends_at,
            Deployment.ends_at > starts_at,
        )
        .order_by(DeploymentWatchlist.watchlist_id)
        .limit(1)
    ).first()
    if clash is not None:
        watchlist_id, other_id, other_name = clash
        raise WatchlistAlreadyDeployed(
            f"watchlist {watchlist_id} is in deployment {other_name!r} ({other_id}) for part of this window: a "
            "device searches under one deployment at a time; end that one, or choose a window after it",
            watchlist_id=str(watchlist_id),
            other_deployment_id=str(other_id),
        )
