"""Escalation with an injected clock: overdue and declined orders, and the unit proposed next."""

from datetime import UTC, datetime, timedelta

import pytest

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.escalation import SentOrder, escalate
from vigil.dispatch.eta import StraightLineEta
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.ranking import RankedUnit, rank_units
from vigil.dispatch.settings import EscalationSettings, RankingSettings
from vigil.dispatch.unit import UnitKind, UnitStatus
from vigil.events import DispatchState

SENT = datetime(2026, 5, 1, 21, 0, tzinfo=UTC)
TIMEOUT = EscalationSettings(ack_timeout_s=60)
TARGET = GeoPoint(lat=51.50809, lon=-0.12804)


def candidates(*units: tuple[str, float, UnitStatus]) -> list[RankedUnit]:
    rows = [
        UnitInArea(unit_id, unit_id, None, UnitKind.FOOT, status, TARGET.lat, TARGET.lon, metres, None, 1.0, False)
        for unit_id, metres, status in units
    ]
    return rank_units(rows, target=TARGET, eta_model=StraightLineEta(RankingSettings()))


AREA = candidates(
    ("A", 100.0, UnitStatus.DISPATCHED),
    ("B", 200.0, UnitStatus.AVAILABLE),
    ("C", 300.0, UnitStatus.BUSY),
    ("D", 400.0, UnitStatus.AVAILABLE),
    ("E", 500.0, UnitStatus.AVAILABLE),
)


@pytest.mark.parametrize(
    ("after_s", "answer", "overdue", "proposed", "next_check_after_s"),
    [
        (0.0, None, False, [], 60.0),
        (59.9, None, False, [], 60.0),
        (60.0, None, False, [], 60.0),  # an answer at exactly the timeout is in time
        (60.001, None, True, ["B"], None),
        (3_600.0, None, True, ["B"], None),
        (90.0, DispatchState.ACCEPTED, False, [], None),
        (90.0, DispatchState.EN_ROUTE, False, [], None),
        (90.0, DispatchState.ON_SCENE, False, [], None),
        (90.0, DispatchState.CLEARED, False, [], None),
        (10.0, DispatchState.DECLINED, False, ["B"], None),
    ],
)
def test_an_unanswered_order_is_overdue_after_the_timeout_and_a_decline_at_once(
    after_s: float, answer: DispatchState | None, overdue: bool, proposed: list[str], next_check_after_s: float | None
) -> None:
    order = SentOrder(unit_id="A", sent_at=SENT, answer=answer)
    result = escalate(orders=[order], candidates=AREA, now=SENT + timedelta(seconds=after_s), settings=TIMEOUT)
    assert result.overdue == ([order] if overdue else [])
    assert result.declined == ([order] if answer is DispatchState.DECLINED else [])
    assert [r.unit.unit_id for r in result.proposals] == proposed
    expected_check = None if next_check_after_s is None else SENT + timedelta(seconds=next_check_after_s)
    assert result.next_check_at == expected_check


def test_each_overdue_or_declined_order_gets_its_own_unit_never_one_already_ordered() -> None:
    orders = [
        SentOrder(unit_id="B", sent_at=SENT, answer=DispatchState.DECLINED),
        SentOrder(unit_id="A", sent_at=SENT + timedelta(seconds=10)),
        SentOrder(unit_id="X", sent_at=SENT + timedelta(seconds=5)),  # a unit picked from outside the area
        SentOrder(unit_id="D", sent_at=SENT + timedelta(seconds=50), answer=DispatchState.ACCEPTED),
    ]
    result = escalate(orders=orders, candidates=AREA, now=SENT + timedelta(seconds=75), settings=TIMEOUT)
    assert [o.unit_id for o in result.overdue] == ["X", "A"]  # oldest first
    assert [o.unit_id for o in result.declined] == ["B"]
    assert [r.unit.unit_id for r in result.proposals] == ["E"]  # B declined, D has an order, C is busy
    assert result.next_check_at is None


def test_an_order_already_escalated_is_not_escalated_again() -> None:
    orders = [
        SentOrder(unit_id="A", sent_at=SENT, escalated=True),
        SentOrder(unit_id="B", sent_at=SENT, answer=DispatchState.DECLINED, escalated=True),
        SentOrder(unit_id="D", sent_at=SENT + timedelta(seconds=30)),
    ]
    result = escalate(orders=orders, candidates=AREA, now=SENT + timedelta(seconds=80), settings=TIMEOUT)
    assert (result.overdue, result.declined, result.proposals) == ([], [], [])
    assert result.next_check_at == SENT + timedelta(seconds=90)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="sent_at must carry a timezone"):
        SentOrder(unit_id="A", sent_at=datetime(2026, 5, 1, 21, 0))
