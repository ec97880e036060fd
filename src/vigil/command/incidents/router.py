"""Incidents API: open one on a confirmed alert, redraw its area, send units, close it with an outcome.

Operators and supervisors act (the roles that review alerts); every change is audited and on the live feed.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import OperatorDep, RuntimeDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.incidents.models import IncidentStatus
from vigil.command.incidents.schemas import (
    AreaChange,
    DispatchRequest,
    IncidentClose,
    IncidentList,
    IncidentOpen,
    IncidentOut,
)
from vigil.command.incidents.service import (
    change_area,
    close_incident,
    dispatch_units,
    get_incident,
    list_incidents,
    open_incident,
)
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERROR_RESPONSES)


@router.post("", status_code=201)
def post_incident(
    request: IncidentOpen, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> IncidentOut:
    """Open an incident on an alert a person confirmed (409 for one unreviewed or dismissed)."""
    out = open_incident(
        session=session, request=request, actor=actor_of(operator), now=utc_now(), settings=runtime.settings.dispatch
    )
    session.commit()
    return out


@router.get("")
def get_incidents(
    session: SessionDep,
    runtime: RuntimeDep,
    operator: OperatorDep,
    status: Annotated[IncidentStatus | None, Query(description="Only open, or only closed, incidents.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Most incidents returned.")] = 50,
) -> IncidentList:
    """Incidents, newest first, each with its orders."""
    return list_incidents(
        session=session, status=status, limit=limit, now=utc_now(), settings=runtime.settings.dispatch
    )


@router.get("/{incident_id}")
def get_one_incident(
    incident_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> IncidentOut:
    """One incident with its target, area and orders."""
    return get_incident(session=session, incident_id=incident_id, now=utc_now(), settings=runtime.settings.dispatch)


@router.put("/{incident_id}/area")
def put_area(
    incident_id: uuid.UUID, request: AreaChange, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> IncidentOut:
    """Redraw the search area; the units already sent receive the new one."""
    out = change_area(
        session=session,
        incident_id=incident_id,
        request=request,
        actor=actor_of(operator),
        now=utc_now(),
        settings=runtime.settings.dispatch,
    )
    session.commit()
    return out


@router.post("/{incident_id}/dispatches")
def post_dispatches(
    incident_id: uuid.UUID, request: DispatchRequest, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> IncidentOut:
    """Send units: each gets the order, the subject's summary and the match evidence on its devices."""
    out = dispatch_units(
        session=session,
        incident_id=incident_id,
        request=request,
        actor=actor_of(operator),
        now=utc_now(),
        settings=runtime.settings.dispatch,
    )
    session.commit()
    return out


@router.post("/{incident_id}/close")
def post_close(
    incident_id: uuid.UUID, request: IncidentClose, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> IncidentOut:
    """Close with an outcome; orders still open are stood down and their units freed."""
    out = close_incident(
        session=session,
        incident_id=incident_id,
        request=request,
        actor=actor_of(operator),
        now=utc_now(),
        settings=runtime.settings.dispatch,
    )
    session.commit()
    return out
