"""How long a unit takes to reach the target: the :class:`EtaModel` seam and its straight-line default.

The straight-line model needs nothing but the units' distances: ``start_s + distance × detour_factor / speed``
with the unit kind's :class:`~vigil.dispatch.settings.SpeedProfile`. The road-network model
(:mod:`vigil.dispatch.road_network`) follows the streets when a street file is configured.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import RankingSettings


class EtaBasis(enum.StrEnum):
    """What an estimate rests on."""

    STRAIGHT_LINE = "straight_line"
    ROAD = "road"


@dataclass(frozen=True)
class Eta:
    """An estimated time of arrival.

    Attributes:
        seconds: from now until the unit reaches the target, seconds.
        route_m: the distance the estimate assumes the unit covers, metres.
        basis: straight line (with the detour factor) or along the streets.
    """

    seconds: float
    route_m: float
    basis: EtaBasis


class EtaModel(Protocol):
    """Estimates how long units take to reach a target."""

    def estimate(self, units: Sequence[UnitInArea], *, target: GeoPoint) -> list[Eta]:
        """One estimate per unit, in the order given.

        Args:
            units: the units (their kind, position and distance to the target).
            target: where they are going.
        """
        ...


class StraightLineEta:
    """Distance in a straight line, stretched by the kind's detour factor, at the kind's speed."""

    def __init__(self, settings: RankingSettings) -> None:
        """Estimate with the speed profiles in ``settings``."""
        self._settings = settings

    def estimate(self, units: Sequence[UnitInArea], *, target: GeoPoint) -> list[Eta]:
        """One estimate per unit, in the order given (``target`` is where ``distance_m`` was measured to)."""
        estimates = []
        for unit in units:
            profile = self._settings.profile(unit.kind)
            route_m = unit.distance_m * profile.detour_factor
            estimates.append(
                Eta(
                    seconds=profile.start_s + route_m / profile.speed_mps, route_m=route_m, basis=EtaBasis.STRAIGHT_LINE
                )
            )
        return estimates
