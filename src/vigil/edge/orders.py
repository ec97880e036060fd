"""Dispatch orders on the device, and the officer's answers to them.

An order is answered by accepting or declining it, then moving forward through en route, on scene and clear;
each answer is a ``dispatch.status`` event, stored in the outbox before it is sent, so a tap made in a dead zone
reaches the command centre when the link returns.
"""

import threading
import uuid
from collections.abc import Callable

from vigil.edge.errors import EdgeError
from vigil.events import DispatchOrder, DispatchState, DispatchStatus

# Forward order of the states an accepted order moves through; a decline ends an order that was not accepted.
_PROGRESS = [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]


class UnknownDispatch(EdgeError):
    """No order with that id reached this device."""


class InvalidDispatchAnswer(EdgeError):
    """The answer does not follow from the order's current state."""


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

    def receive(self, order: DispatchOrder) -> bool:
        """Record an order; False when it was already here (a redelivery), which callers need not show again."""
        with self._lock:
            if order.dispatch_id in self._orders:
                return False
            self._orders[order.dispatch_id] = order
            self._states[order.dispatch_id] = None
            return True

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
            InvalidDispatchAnswer: e.g. on scene before accepting, declining after accepting, or moving back.
        """
        with self._lock:
            if dispatch_id not in self._orders:
                raise UnknownDispatch(f"no dispatch order {dispatch_id} on this device")
            current = self._states[dispatch_id]
            _check(current, status)
            event = DispatchStatus(device_id=self._device_id, dispatch_id=dispatch_id, status=status, reason=reason)
            self._emit(event)
            self._states[dispatch_id] = status
            return event


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
