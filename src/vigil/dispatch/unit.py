"""A unit (an officer, or a crew with one call sign) as dispatch sees it: how it moves, what it is doing, where.

:class:`UnitKind` and :class:`UnitStatus` are the one definition of a unit's kind and status; the command
centre stores them in its tables.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from vigil.dispatch.geodesy import GeoPoint
from vigil.events import DispatchState


class UnitKind(enum.StrEnum):
    """How a unit moves; it sets the speed profile of its estimated time of arrival."""

    FOOT = "foot"
    CAR = "car"
    MOTORCYCLE = "motorcycle"


class UnitStatus(enum.StrEnum):
    """What a unit is doing, as dispatch sees it."""

    AVAILABLE = "available"
    BUSY = "busy"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    OFF_DUTY = "off_duty"


def status_after_answer(answer: DispatchState, *, before_order: UnitStatus) -> UnitStatus:
    """A unit's status once its officer has answered a dispatch order.

    Args:
        answer: the officer's answer (a ``dispatch.status`` event).
        before_order: the unit's status before the order reached it, which a decline returns it to.

    Returns:
        ``dispatched`` once accepted, ``en_route``, ``on_scene``, ``available`` once cleared, and the status
        before the order after a decline.
    """
    match answer:
        case DispatchState.ACCEPTED:
            return UnitStatus.DISPATCHED
        case DispatchState.EN_ROUTE:
            return UnitStatus.EN_ROUTE
        case DispatchState.ON_SCENE:
            return UnitStatus.ON_SCENE
        case DispatchState.CLEARED:
            return UnitStatus.AVAILABLE
        case DispatchState.DECLINED:
            return before_order


@dataclass(frozen=True)
class LiveUnit:
    """A unit as the live index holds it: who it is, what it is doing, and its latest position.

    Raises:
        ValueError: an empty or over-long unit id, a negative or non-finite accuracy, or a naive time.
    """

    unit_id: str
    call_sign: str
    radio_id: str | None
    kind: UnitKind
    status: UnitStatus
    position: GeoPoint
    accuracy_m: float | None
    position_at: datetime

    def __post_init__(self) -> None:
        if not 1 <= len(self.unit_id) <= 64:
            raise ValueError(f"a unit id has 1 to 64 characters, got {len(self.unit_id)}: {self.unit_id!r}")
        if self.accuracy_m is not None and not 0 <= self.accuracy_m < float("inf"):
            raise ValueError(f"accuracy_m must be a finite number ≥ 0 or None, got {self.accuracy_m}")
        if self.position_at.utcoffset() is None:
            raise ValueError(f"position_at must carry a timezone, got {self.position_at.isoformat()}")
