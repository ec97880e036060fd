"""A unit (an officer, or a crew with one call sign) as dispatch sees it: how it moves and what it is doing.

These enums are the one definition of a unit's kind and status; the command centre stores them in its tables.
"""

import enum

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
