"""Which units are inside an area now, ranked for a target: the operator's question before a dispatch."""

from collections.abc import Collection
from datetime import datetime

from vigil.command.units.schemas import AreaUnit, AreaUnits, Target
from vigil.dispatch.area import Area, default_circle
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.eta import EtaModel
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.ranking import rank_units, suggest_units
from vigil.dispatch.settings import DispatchSettings
from vigil.dispatch.unit_index import UnitIndex


def read_area(geojson: dict[str, object], *, target: GeoPoint, settings: DispatchSettings) -> Area:
    """The area an operator drew, or the default circle around the target when none was given.

    Raises:
        InvalidArea: the area is not one Vigil accepts (the subclass and message say why and where).
    """
    if not geojson:
        return default_circle(target, limits=settings.areas)
    return parse_area(geojson, limits=settings.areas)


def units_in_area(
    *,
    index: UnitIndex,
    area: Area,
    target: GeoPoint,
    now: datetime,
    settings: DispatchSettings,
    eta_model: EtaModel,
    exclude: Collection[str] = (),
) -> AreaUnits:
    """The units inside the area now, ranked by estimated arrival at the target, the nearest available suggested.

    Args:
        index: the live unit index.
        area: where to look.
        target: where units would go.
        now: the time position ages are measured from.
        settings: dispatch settings (how many to suggest).
        eta_model: how arrival times are estimated.
        exclude: units not to suggest (already sent to this incident, or declined it).
    """
    ranked = rank_units(index.units_in_area(area, target=target, now=now).rows(), target=target, eta_model=eta_model)
    suggested = {r.unit.unit_id for r in suggest_units(ranked, count=settings.ranking.suggest_count, exclude=exclude)}
    return AreaUnits(
        area=area.to_geojson(),
        target=Target(lat=target.lat, lon=target.lon),
        units=[
            AreaUnit(
                unit_id=r.unit.unit_id,
                call_sign=r.unit.call_sign,
                radio_id=r.unit.radio_id,
                kind=r.unit.kind,
                status=r.unit.status,
                lat=r.unit.lat,
                lon=r.unit.lon,
                distance_m=r.unit.distance_m,
                eta_s=r.eta.seconds,
                eta_basis=r.eta.basis.value,
                accuracy_m=r.unit.accuracy_m,
                position_age_s=r.unit.position_age_s,
                stale=r.unit.stale,
                suggested=r.unit.unit_id in suggested,
            )
            for r in ranked
        ],
    )
