"""Units API: where every unit is, and where one has been."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from vigil.command.api.dependencies import OperatorDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.units.schemas import Track, UnitList
from vigil.command.units.service import get_track, list_units
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/units", tags=["units"], responses=ERROR_RESPONSES)


@router.get("")
def get_units(session: SessionDep, operator: OperatorDep) -> UnitList:
    """Every unit with its status and latest position (with its age in seconds)."""
    return list_units(session=session, now=utc_now())


@router.get("/{unit_id}/track")
def get_unit_track(
    unit_id: str,
    session: SessionDep,
    operator: OperatorDep,
    since: Annotated[datetime | None, Query(description="From this time (inclusive, RFC 3339).")] = None,
    until: Annotated[datetime | None, Query(description="Up to this time (inclusive, RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Most points returned.")] = 10_000,
) -> Track:
    """A unit's positions in time order, oldest first."""
    return get_track(session=session, unit_id=unit_id, since=since, until=until, limit=limit)
