"""A unit's status as its officer answers an order."""

import pytest

from vigil.command.units import models
from vigil.dispatch.unit import UnitKind, UnitStatus, status_after_answer
from vigil.events import DispatchState


@pytest.mark.parametrize(
    ("answer", "before", "after"),
    [
        (DispatchState.ACCEPTED, UnitStatus.AVAILABLE, UnitStatus.DISPATCHED),
        (DispatchState.EN_ROUTE, UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE),
        (DispatchState.ON_SCENE, UnitStatus.AVAILABLE, UnitStatus.ON_SCENE),
        (DispatchState.CLEARED, UnitStatus.BUSY, UnitStatus.AVAILABLE),
        (DispatchState.DECLINED, UnitStatus.AVAILABLE, UnitStatus.AVAILABLE),
        (DispatchState.DECLINED, UnitStatus.BUSY, UnitStatus.BUSY),
    ],
)
def test_a_units_status_follows_its_officers_answers(
    answer: DispatchState, before: UnitStatus, after: UnitStatus
) -> None:
    assert status_after_answer(answer, before_order=before) is after


def test_every_answer_moves_the_status() -> None:
    assert {answer: status_after_answer(answer, before_order=UnitStatus.BUSY) for answer in DispatchState} == {
        DispatchState.ACCEPTED: UnitStatus.DISPATCHED,
        DispatchState.DECLINED: UnitStatus.BUSY,
        DispatchState.EN_ROUTE: UnitStatus.EN_ROUTE,
        DispatchState.ON_SCENE: UnitStatus.ON_SCENE,
        DispatchState.CLEARED: UnitStatus.AVAILABLE,
    }


def test_the_command_centre_stores_the_same_kinds_and_statuses() -> None:
    assert models.UnitKind is UnitKind
    assert models.UnitStatus is UnitStatus
    assert [status.value for status in UnitStatus] == [
        "available",
        "busy",
        "dispatched",
        "en_route",
        "on_scene",
        "off_duty",
    ]
    assert [kind.value for kind in UnitKind] == ["foot", "car", "motorcycle"]
