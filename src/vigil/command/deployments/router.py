"""Deployments API: each use of live face recognition recorded with its authorisation, or started in urgency.

====================================================== =====================================
route                                                   roles
====================================================== =====================================
GET  /api/v1/deployments, /api/v1/deployments/{id}      operator, supervisor, auditor
POST /api/v1/deployments                                supervisor
POST /api/v1/deployments/{id}/decision                  supervisor
POST /api/v1/deployments/{id}/end                       supervisor
====================================================== =====================================

Recording or authorising a deployment packages its watchlists for their devices at once, when its window is open.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from vigil.command.accounts.models import Role
from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import Principal, RuntimeDep, SessionDep, require
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.deployments.schemas import (
    DecisionRequest,
    DeploymentCreate,
    DeploymentList,
    DeploymentOut,
    EndRequest,
)
from vigil.command.deployments.service import (
    create_deployment,
    decide,
    end_deployment,
    get_deployment,
    list_deployments,
)
from vigil.command.runtime import ServerRuntime
from vigil.command.watchlists.versions import sync_packages
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"], responses=ERROR_RESPONSES)

ReaderDep = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR))]
SupervisorOnlyDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]


@router.get("")
def get_deployments(session: SessionDep, reader: ReaderDep) -> DeploymentList:
    """Every deployment, newest first, with its state, authorisation, window, watchlists and devices."""
    return list_deployments(session=session, now=utc_now())


@router.post("", status_code=201)
def post_deployment(
    request: DeploymentCreate, session: SessionDep, supervisor: SupervisorOnlyDep, runtime: RuntimeDep
) -> DeploymentOut:
    """Record a deployment with the authority's decision, or start one as urgent (authorisation due in 24 hours).

    Neither is refused (422): no search runs without authorisation. A watchlist already in a running deployment
    for part of the window is refused (409).
    """
    now = utc_now()
    created = create_deployment(session=session, request=request, actor=actor_of(supervisor), now=now)
    _sync(session, runtime, created.watchlist_ids, now)
    session.commit()
    return created


@router.get("/{deployment_id}")
def get_deployment_detail(deployment_id: uuid.UUID, session: SessionDep, reader: ReaderDep) -> DeploymentOut:
    """A deployment's record, and whether it is searching now."""
    return get_deployment(session=session, deployment_id=deployment_id, now=utc_now())


@router.post("/{deployment_id}/decision")
def post_decision(
    deployment_id: uuid.UUID,
    request: DecisionRequest,
    session: SessionDep,
    supervisor: SupervisorOnlyDep,
    runtime: RuntimeDep,
) -> DeploymentOut:
    """Record the authority's decision on an urgent deployment (409 on any other).

    Granted: it is authorised. Refused (a reason is required): it stops on every device at once, and its alerts,
    face crops, incidents and orders are deleted.
    """
    now = utc_now()
    decided = decide(session=session, deployment_id=deployment_id, request=request, actor=actor_of(supervisor), now=now)
    _sync(session, runtime, decided.watchlist_ids, now)
    session.commit()
    return decided


@router.post("/{deployment_id}/end")
def post_end(
    deployment_id: uuid.UUID, request: EndRequest, session: SessionDep, supervisor: SupervisorOnlyDep
) -> DeploymentOut:
    """End a running deployment before its window ends: its devices stop searching; what it found is kept."""
    ended = end_deployment(
        session=session, deployment_id=deployment_id, reason=request.reason, actor=actor_of(supervisor), now=utc_now()
    )
    session.commit()
    return ended


def _sync(session: Session, runtime: ServerRuntime, watchlist_ids: Iterable[uuid.UUID], now: datetime) -> None:
    for watchlist_id in watchlist_ids:
        sync_packages(
            session=session,
            keys=runtime.package_keys,
            public_url=runtime.settings.public_url(),
            now=now,
            watchlist_id=watchlist_id,
        )
