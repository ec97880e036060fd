"""The answer to "which units are inside this area now": columns, and one row per unit on demand."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from vigil.dispatch.geodesy import FloatArray
from vigil.dispatch.unit import UnitKind, UnitStatus


class UnitCard(NamedTuple):
    """Who a unit is and what it is doing: what the live index holds for it besides its position."""

    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    status: UnitStatus


class UnitInArea(NamedTuple):
    """One unit in an area's answer (see :class:`AreaAnswer` for each field's meaning)."""

    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    status: UnitStatus
    lat: float
    lon: float
    distance_m: float
    """Great-circle distance from the unit's position to the target, metres."""
    accuracy_m: float | None
    """The position's horizontal accuracy, metres; None when the device did not say."""
    position_age_s: float
    """Seconds from the position's time to the query's ``now`` (0 for a position stamped ahead of it)."""
    stale: bool
    """The position is older than ``stale_after_s``: the unit may have moved since."""


@dataclass(frozen=True)
class AreaAnswer:
    """The units inside an area, as columns of one length, nearest the target first (then by unit id).

    Columns, because an answer at 100,000 units can hold thousands of units and NumPy hands them over in
    microseconds; :meth:`rows` makes one tuple per unit.
    """

    card_table: npt.NDArray[np.object_]
    """The index's :class:`UnitCard` of every unit, by slot, as they were when the question was answered: the
    index changes a copy, never this."""
    card_slots: npt.NDArray[np.int64]
    """Where each unit's card is in ``card_table``."""
    lat: FloatArray
    lon: FloatArray
    distance_m: FloatArray
    """Great-circle distance from each unit's position to the target, metres."""
    accuracy_m: FloatArray
    """The positions' horizontal accuracy, metres; NaN when the device did not say."""
    position_age_s: FloatArray
    """Seconds from each position's time to the query's ``now`` (0 for one stamped ahead of it)."""
    stale: npt.NDArray[np.bool_]
    """The position is older than ``stale_after_s``: the unit may have moved since."""

    def __len__(self) -> int:
        """How many units are in the area."""
        return int(self.card_slots.size)

    @property
    def cards(self) -> npt.NDArray[np.object_]:
        """:class:`UnitCard` of each unit."""
        cards: npt.NDArray[np.object_] = self.card_table[self.card_slots]
        return cards

    @property
    def unit_ids(self) -> list[str]:
        """The units' ids, in the answer's order."""
        return [card.unit_id for card in self.cards.tolist()]

    def rows(self) -> list[UnitInArea]:
        """One tuple per unit, in the answer's order."""
        accuracy: npt.NDArray[np.object_] = self.accuracy_m.astype(object)
        accuracy[np.isnan(self.accuracy_m)] = None
        return [
            UnitInArea(*card, *measured)
            for card, *measured in zip(
                self.cards.tolist(),
                self.lat.tolist(),
                self.lon.tolist(),
                self.distance_m.tolist(),
                accuracy.tolist(),
                self.position_age_s.tolist(),
                self.stale.tolist(),
                strict=True,
            )
        ]
