"""Ranking the units in an area for a target, and suggesting which to dispatch.

**Ranking** orders every unit by estimated time of arrival, then straight-line distance, then unit id, so the
order is total and the same on every server.

**Suggestions** are the first N of that ranking among units that are *available*, with fresh positions before
stale ones (a stale position's estimate may be minutes out); units the caller names (already dispatched,
declined) are skipped. Escalation proposes the next unit by the same rule.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.eta import Eta, EtaModel, StraightLineEta
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.road_network import RoadNetworkEta, load_road_network
from vigil.dispatch.settings import RankingSettings
from vigil.dispatch.unit import UnitStatus


@dataclass(frozen=True)
class RankedUnit:
    """A unit in an area with its estimated time of arrival at the target."""

    unit: UnitInArea
    eta: Eta


def build_eta_model(settings: RankingSettings) -> EtaModel:
    """The road-network model when a street file is configured, else the straight-line model.

    Raises:
        RoadNetworkError: the configured street file cannot be used.
    """
    if settings.road_network_path is None:
        return StraightLineEta(settings)
    return RoadNetworkEta(load_road_network(settings.road_network_path), settings)


def rank_units(units: Iterable[UnitInArea], *, target: GeoPoint, eta_model: EtaModel) -> list[RankedUnit]:
    """Every unit with its estimate, by estimated arrival, then distance, then unit id.

    Args:
        units: the units to rank (typically an area's answer).
        target: where they would go (the target their distances were measured to).
        eta_model: how arrival times are estimated.
    """
    units = list(units)
    ranked = [
        RankedUnit(unit=unit, eta=eta)
        for unit, eta in zip(units, eta_model.estimate(units, target=target), strict=True)
    ]
    ranked.sort(key=lambda r: (r.eta.seconds, r.unit.distance_m, r.unit.unit_id))
    return ranked


def suggest_units(ranked: Sequence[RankedUnit], *, count: int, exclude: Collection[str] = ()) -> list[RankedUnit]:
    """The units to suggest for a dispatch, best first.

    Args:
        ranked: units as :func:`rank_units` orders them.
        count: how many to suggest at most.
        exclude: unit ids not to suggest (already dispatched to this incident, or declined it).

    Returns:
        Up to ``count`` available units not excluded, fresh positions first, each group in ranking order.
    """
    candidates = [r for r in ranked if r.unit.status is UnitStatus.AVAILABLE and r.unit.unit_id not in exclude]
    return sorted(candidates, key=lambda r: r.unit.stale)[:count]  # stable: ranking order within each group
