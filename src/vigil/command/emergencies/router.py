"""Emergencies API: the officers in danger, acknowledged, answered with units and resolved by operators.

Operators and supervisors act (the roles that dispatch); every change is audited and on the live feed.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import OperatorDep, RuntimeDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.emergencies.models import EmergencyStatus
from vigil.command.emergencies.schemas import (
    EmergencyAcknowledge,
    EmergencyDispatch,
    EmergencyList,
    EmergencyOut,
    EmergencyResolve,
)
from vigil.command.emergencies.service import (
    acknowledge_emergency,
    dispatch_to_emergency,
    get_emergency,
    list_emergencies,
    resolve_emergency,
)
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/emergencies", tags=["emergencies"], responses=ERROR_RESPONSES)


@router.get("")
def get_emergencies(
    session: SessionDep,
    runtime: RuntimeDep,
    operator: OperatorDep,
    status: Annotated[EmergencyStatus | None, Query(description="Only these; omitted: every one not resolved.")] = None,
) -> EmergencyList:
    """Emergencies, newest first, each with the officer's latest position and the units proposed now."""
    return list_emergencies(session=session, status=status, now=utc_now(), planning=runtime.dispatch_planning())


@router.get("/{emergency_id}")
def get_one_emergency(
    emergency_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> EmergencyOut:
    """One emergency."""
    return get_emergency(
        session=session,
        emergency_id=emergency_id,
        now=utc_now(),
        planning=runtime.dispatch_planning(),
    )


@router.post("/{emergency_id}/acknowledge")
def post_acknowledge(
    emergency_id: uuid.UUID,
    request: EmergencyAcknowledge,
    session: SessionDep,
    runtime: RuntimeDep,
    operator: OperatorDep,
) -> EmergencyOut:
    """Take the emergency: the officer's devices show who has it (a second acknowledgement changes nothing)."""
    out = acknowledge_emergency(
        session=session,
        emergency_id=emergency_id,
        actor=actor_of(operator),
        now=utc_now(),
        planning=runtime.dispatch_planning(),
    )
    session.commit()
    return out


@router.post("/{emergency_id}/dispatch")
def post_dispatch(
    emergency_id: uuid.UUID, request: EmergencyDispatch, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> EmergencyOut:
    """Send units to the officer (acknowledging the emergency if nobody had); 409 when one cannot go."""
    out = dispatch_to_emergency(
        session=session,
        emergency_id=emergency_id,
        request=request,
        actor=actor_of(operator),
        now=utc_now(),
        planning=runtime.dispatch_planning(),
    )
    session.commit()
    return out


@router.post("/{emergency_id}/resolve")
def post_resolve(
    emergency_id: uuid.UUID, request: EmergencyResolve, session: SessionDep, runtime: RuntimeDep, operator: OperatorDep
) -> EmergencyOut:
    """End the emergency: its incident is closed and the units still on it stood down."""
    out = resolve_emergency(
        session=session,
        emergency_id=emergency_id,
        request=request,
        actor=actor_of(operator),
        now=utc_now(),
        planning=runtime.dispatch_planning(),
    )
    session.commit()
    return out
