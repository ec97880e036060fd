"""Units API: where every unit is, and where one has been."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from vigil.command.api.dependencies import OperatorDep, RuntimeDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.units.areas import read_area, units_in_area
from vigil.command.units.schemas import AreaQuery, AreaUnits, Track, UnitChanged, UnitList, UnitStatusChange
from vigil.command.units.service import change_status, get_track, list_units
from vigil.dispatch.geodesy import GeoPoint
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/units", tags=["units"], responses=ERROR_RESPONSES)


@router.get("")
def get_units(session: SessionDep, operator: OperatorDep) -> UnitList:
    """Every unit with its status and latest position (with its age in seconds)."""
    return list_units(session=session, now=utc_now())


@router.post("/in-area")
def post_units_in_area(query: AreaQuery, runtime: RuntimeDep, operator: OperatorDep) -> AreaUnits:
    """The units inside an area now, ranked by estimated arrival at the target, then distance.

    With no area, the default circle around the target. Off-duty units and positions too old to trust are left
    out, stale ones flagged; the nearest available units are marked as suggested.
    """
    target = GeoPoint(lat=query.target.lat, lon=query.target.lon)
    settings = runtime.settings.dispatch
    return units_in_area(
        index=runtime.unit_index(),
        area=read_area(query.area, target=target, settings=settings),
        target=target,
        now=utc_now(),
        settings=settings,
        eta_model=runtime.eta_model(),
    )


@router.patch("/{unit_id}")
def patch_unit(unit_id: str, change: UnitStatusChange, session: SessionDep, operator: OperatorDep) -> UnitChanged:
    """Set what a unit is doing (e.g. off duty at the end of a shift, busy on another job)."""
    changed = change_status(session=session, unit_id=unit_id, status=change.status, reason=change.reason, now=utc_now())
    session.commit()
    return changed


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
