"""Dispatch orders on the device, and the officer's answers to them.

An order is answered by accepting or declining it, then moving forward through en route, on scene and clear;
each answer is a ``dispatch.status`` event, stored in the outbox before it is sent, so a tap made in a dead zone
reaches the command centre when the link returns. Control may move an order's target (a newer revision of the
same order replaces it; the answers given so far stand) or stand the unit down, after which it takes no answer.

A subject order carries the match's evidence (the camera's crop, the watchlist photo). Until two people have
verified the identity, the officer compares them before any stop and gives a verdict (:class:`Verifications`):
same person, not the person, or cannot tell. The verdict is an ``alert.verified`` event, stored and sent like an
answer. It is given once: only "cannot tell" may be followed by another verdict.
"""

import enum
import threading
import uuid
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from vigil.edge.errors import EdgeError
from vigil.events import (
    AlertVerified,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    IdentityVerdict,
    MatchEvidence,
)

# Forward order of the states an accepted order moves through; a decline ends an order that was not accepted.
_PROGRESS = [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]


class UnknownDispatch(EdgeError):
    """No order with that id reached this device."""


class InvalidDispatchAnswer(EdgeError):
    """The answer does not follow from the order's current state."""


class InvalidVerification(EdgeError):
    """The officer's verdict cannot be taken: no match on the order, the order is over, or a verdict was given."""


class Receipt(enum.Enum):
    """What :meth:`OrderBook.receive` made of an order."""

    NEW = "new"
    UPDATED = "updated"
    ALREADY_KNOWN = "already_known"


class OrderBook:
    """The orders this device holds, and their state."""

    def __init__(self, *, device_id: str, emit: Callable[[DispatchStatus], None]) -> None:
        """Create an empty book.

        Args:
            device_id: this device.
            emit: stores an answer for sending (the agent's outbox).
        """
        self._device_id = device_id
        self._emit = emit
        self._lock = threading.Lock()
        self._orders: dict[uuid.UUID, DispatchOrder] = {}
        self._states: dict[uuid.UUID, DispatchState | None] = {}
        self._cancelled: dict[uuid.UUID, DispatchCancelled] = {}

    def receive(self, order: DispatchOrder) -> Receipt:
        """Record an order, or a newer revision of one held.

        Returns:
            NEW or UPDATED (show it), or ALREADY_KNOWN for a redelivery or an older revision (show nothing).
        """
        with self._lock:
            held = self._orders.get(order.dispatch_id)
            if held is None:
                self._orders[order.dispatch_id] = order
                self._states[order.dispatch_id] = None
                return Receipt.NEW
            if order.revision <= held.revision or order.dispatch_id in self._cancelled:
                return Receipt.ALREADY_KNOWN
            self._orders[order.dispatch_id] = order
            return Receipt.UPDATED

    def cancel(self, cancellation: DispatchCancelled) -> bool:
        """Record that control stood the unit down from an order.

        Returns:
            True the first time for an order held here; False for a redelivery or an order never received.
        """
        with self._lock:
            if cancellation.dispatch_id not in self._orders or cancellation.dispatch_id in self._cancelled:
                return False
            self._cancelled[cancellation.dispatch_id] = cancellation
            return True

    def cancelled(self, dispatch_id: uuid.UUID) -> DispatchCancelled | None:
        """Control's stand-down of the order, or None while it stands."""
        with self._lock:
            return self._cancelled.get(dispatch_id)

    def state(self, dispatch_id: uuid.UUID) -> DispatchState | None:
        """The latest answer given, or None before any.

        Raises:
            UnknownDispatch: no such order.
        """
        with self._lock:
            if dispatch_id not in self._orders:
                raise UnknownDispatch(f"no dispatch order {dispatch_id} on this device")
            return self._states[dispatch_id]

    def order(self, dispatch_id: uuid.UUID) -> DispatchOrder:
        """The newest revision of an order held.

        Raises:
            UnknownDispatch: no such order.
        """
        with self._lock:
            held = self._orders.get(dispatch_id)
            if held is None:
                raise UnknownDispatch(f"no dispatch order {dispatch_id} on this device")
            return held

    def orders(self) -> list[tuple[DispatchOrder, DispatchState | None]]:
        """Every order with its state, oldest first."""
        with self._lock:
            return [(order, self._states[order.dispatch_id]) for order in self._orders.values()]

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        """Answer an order and store the answer for sending.

        Raises:
            UnknownDispatch: no such order.
            InvalidDispatchAnswer: e.g. on scene before accepting, declining after accepting, moving back, or
                any answer once control has stood the unit down.
        """
        with self._lock:
            if dispatch_id not in self._orders:
                raise UnknownDispatch(f"no dispatch order {dispatch_id} on this device")
            if dispatch_id in self._cancelled:
                raise InvalidDispatchAnswer("control stood this unit down from the order; it takes no more answers")
            current = self._states[dispatch_id]
            _check(current, status)
            event = DispatchStatus(device_id=self._device_id, dispatch_id=dispatch_id, status=status, reason=reason)
            self._emit(event)
            self._states[dispatch_id] = status
            return event


@runtime_checkable
class VerdictNotifier(Protocol):
    """A notifier (:class:`vigil.edge.notifier.Notifier`) that also shows the officer's own verdicts on matches."""

    def order_verified(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict, delivered: bool) -> None:
        """Show the officer's verdict on an order's match: sent, then delivered once the server has it."""
        ...


class Verifications:
    """The officer's verdicts on the matches of the orders in an :class:`OrderBook`, one per order."""

    def __init__(
        self, *, orders: OrderBook, device_id: str, unit_id: str, emit: Callable[[AlertVerified], None]
    ) -> None:
        """Start with no verdicts.

        Args:
            orders: the orders whose evidence the officer verifies.
            device_id: this device.
            unit_id: the officer's unit, who verifies.
            emit: stores a verdict for sending (the agent's outbox).
        """
        self._orders = orders
        self._device_id = device_id
        self._unit_id = unit_id
        self._emit = emit
        self._lock = threading.Lock()
        self._verdicts: dict[uuid.UUID, AlertVerified] = {}

    def verify(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict) -> AlertVerified:
        """The officer compared the order's crop and watchlist photo: store the verdict for sending.

        The same verdict again (a double tap) sends nothing and returns the one stored.

        Returns:
            The ``alert.verified`` event, in the outbox.

        Raises:
            UnknownDispatch: no such order.
            InvalidVerification: an officer-in-danger order (no match), an order stood down, declined or cleared,
                an identity a second person already verified, or a verdict other than "cannot tell" already given.
        """
        order = self._orders.order(dispatch_id)
        state = self._orders.state(dispatch_id)
        stood_down = self._orders.cancelled(dispatch_id) is not None
        with self._lock:
            held = self._verdicts.get(dispatch_id)
            if held is not None and held.verdict is verdict:
                return held
            evidence = _check_verdict(
                order, state=state, stood_down=stood_down, held=None if held is None else held.verdict, wanted=verdict
            )
            event = AlertVerified(
                device_id=self._device_id,
                alert_id=evidence.alert_id,
                dispatch_id=dispatch_id,
                unit_id=self._unit_id,
                verdict=verdict,
            )
            self._emit(event)
            self._verdicts[dispatch_id] = event
            return event


def allowed_verdicts(
    order: DispatchOrder, *, state: DispatchState | None, stood_down: bool, held: IdentityVerdict | None
) -> list[IdentityVerdict]:
    """The verdicts the officer may give on the order's match now, besides the one held.

    None on an officer-in-danger order, an order that is over, an identity a second person has verified, or after
    "same person" or "not the person"; after "cannot tell", the other two.

    Args:
        order: the order's newest revision.
        state: the officer's latest answer to it; None before any.
        stood_down: control stood the unit down from it.
        held: the officer's verdict so far; None before any.
    """
    allowed = []
    for wanted in IdentityVerdict:
        if wanted is held:
            continue
        try:
            _check_verdict(order, state=state, stood_down=stood_down, held=held, wanted=wanted)
        except InvalidVerification:
            continue
        allowed.append(wanted)
    return allowed


def _check_verdict(
    order: DispatchOrder,
    *,
    state: DispatchState | None,
    stood_down: bool,
    held: IdentityVerdict | None,
    wanted: IdentityVerdict,
) -> MatchEvidence:
    """The evidence the verdict is on; raises InvalidVerification when ``wanted`` cannot be taken now."""
    if order.evidence is None:
        raise InvalidVerification("this order sends you to an officer in danger: it carries no match to verify")
    if stood_down:
        raise InvalidVerification("control stood this unit down from the order; its match takes no verdict")
    if order.evidence.verified_by is not None:
        # The command centre takes no verification of an identity two people have settled.
        raise InvalidVerification(
            f"the identity is already verified by {order.evidence.verified_by}; it takes no further verdict"
        )
    if state in (DispatchState.DECLINED, DispatchState.CLEARED):
        raise InvalidVerification(f"the order is {state.value}; its match can no longer be verified here")
    if held is not None and held is not IdentityVerdict.CANNOT_TELL and held is not wanted:
        raise InvalidVerification(
            f"you already verified this match: {_words(held)}; a verdict cannot be changed "
            "(only 'cannot tell' may be followed by another)"
        )
    return order.evidence


def _words(verdict: IdentityVerdict) -> str:
    return verdict.value.replace("_", " ")


def allowed_answers(current: DispatchState | None) -> list[DispatchState]:
    """The answers that may follow ``current`` (None: no answer yet), in their usual order."""
    allowed = []
    for wanted in DispatchState:
        try:
            _check(current, wanted)
        except InvalidDispatchAnswer:
            continue
        allowed.append(wanted)
    return allowed


def _check(current: DispatchState | None, wanted: DispatchState) -> None:
    if wanted is DispatchState.DECLINED:
        if current is not None:
            raise InvalidDispatchAnswer(f"the order is already {current.value}; it can no longer be declined")
        return
    if current is DispatchState.DECLINED:
        raise InvalidDispatchAnswer("the order was declined; it cannot be taken up again")
    if current is None and wanted is not DispatchState.ACCEPTED:
        raise InvalidDispatchAnswer(f"accept the order before reporting {wanted.value.replace('_', ' ')}")
    if current is not None and _PROGRESS.index(wanted) <= _PROGRESS.index(current):
        raise InvalidDispatchAnswer(
            f"the order is already {current.value.replace('_', ' ')}; answers only move forward"
        )
