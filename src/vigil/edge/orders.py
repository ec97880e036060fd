"""Dispatch orders on the device, and the officer's answers to them.

An order is answered by accepting or declining it, then moving forward through en route, on scene and clear;
each answer is a ``dispatch.status`` event, stored in the outbox before it is sent, so a tap made in a dead zone
reaches the command centre when the link returns. Control may move an order's target (a newer revision of the
same order replaces it; the answers given so far stand) or stand the unit down, after which it takes no answer.
"""

import enum
import threading
import uuid
from collections.abc import Callable

from vigil.edge.errors import EdgeError
from vigil.events import DispatchCancelled, DispatchOrder, DispatchState, DispatchStatus

# Forward order of the states an accepted order moves through; a decline ends an order that was not accepted.
_PROGRESS = [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]


class UnknownDispatch(EdgeError):
    """No order with that id reached this device."""


class InvalidDispatchAnswer(EdgeError):
    """The answer does not follow from the order's current state."""


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
