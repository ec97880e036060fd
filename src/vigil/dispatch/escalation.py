"""Escalation: which dispatch orders went unanswered too long, and which unit to propose instead.

Pure logic with the clock passed in: the command centre keeps the orders and calls :func:`escalate` when an
answer arrives or when ``next_check_at`` comes.

* An order is **answered** once its officer has sent any ``dispatch.status`` (accepted, en route, on scene,
  cleared: each says the order arrived and was read); a **decline** is an answer that asks for another unit.
* An unanswered order is **overdue** once *more than* ``ack_timeout_s`` has passed since it was sent (an answer
  at exactly the timeout is in time).
* For each overdue or declined order not yet escalated, the next unit is proposed: the next in
  :func:`~vigil.dispatch.ranking.suggest_units` order among available units that have no order for this
  incident (whatever became of it), so a unit is never proposed twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.dispatch.ranking import RankedUnit, suggest_units
from vigil.dispatch.settings import EscalationSettings
from vigil.events import DispatchState


@dataclass(frozen=True)
class SentOrder:
    """An order sent to a unit for an incident, and what has come of it.

    Attributes:
        unit_id: the unit it went to.
        sent_at: when it was sent (timezone-aware).
        answer: the officer's latest answer; None while there is none.
        escalated: the operator has already been told of it (and offered a replacement), so it is not again.
    """

    unit_id: str
    sent_at: datetime
    answer: DispatchState | None = None
    escalated: bool = False

    def __post_init__(self) -> None:
        if self.sent_at.utcoffset() is None:
            raise ValueError(f"sent_at must carry a timezone, got {self.sent_at.isoformat()}")


@dataclass(frozen=True)
class Escalation:
    """What to tell the operator now.

    Attributes:
        overdue: unanswered orders past the timeout, not escalated before, oldest first.
        declined: declined orders not escalated before, in the order given.
        proposals: the units proposed instead, best first: one per overdue or declined order while candidates
            last (fewer when the area has run out of available units).
        next_check_at: when the next unanswered order becomes overdue (call again just after it); None when no
            order is waiting.
    """

    overdue: list[SentOrder]
    declined: list[SentOrder]
    proposals: list[RankedUnit]
    next_check_at: datetime | None


def escalate(
    *, orders: Sequence[SentOrder], candidates: Sequence[RankedUnit], now: datetime, settings: EscalationSettings
) -> Escalation:
    """Find the overdue and declined orders of one incident, and propose a unit for each.

    Args:
        orders: every order sent for the incident.
        candidates: the units in the incident's area, ranked (:func:`~vigil.dispatch.ranking.rank_units`).
        now: the current time (timezone-aware).
        settings: the acknowledgement timeout.

    Returns:
        The overdue and declined orders, the proposals, and when to check again.
    """
    timeout = timedelta(seconds=settings.ack_timeout_s)
    waiting = [order for order in orders if order.answer is None and not order.escalated]
    overdue = sorted((order for order in waiting if now - order.sent_at > timeout), key=lambda order: order.sent_at)
    declined = [order for order in orders if order.answer is DispatchState.DECLINED and not order.escalated]
    pending = [order.sent_at + timeout for order in waiting if now - order.sent_at <= timeout]
    proposals = suggest_units(
        candidates, count=len(overdue) + len(declined), exclude={order.unit_id for order in orders}
    )
    return Escalation(
        overdue=overdue,
        declined=declined,
        proposals=proposals,
        next_check_at=min(pending, default=None),
    )
