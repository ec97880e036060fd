"""What each officer's handset showed during the demo: a :class:`~vigil.edge.notifier.Notifier` that keeps a log.

The demo holds every device's log against the command centre's database: each alert a body camera raised (and
showed its officer) must be stored by the server, and each order the server sent must have reached the unit's
device. Only ids and times are kept, never the face crops the cards carry.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from vigil.edge.emergency import EmergencyStatus
from vigil.edge.notifier import AlertCard
from vigil.events import AlertReviewed, DispatchCancelled, DispatchOrder, DispatchState, utc_now


@dataclass(frozen=True)
class ShownAlert:
    """An alert card the handset showed.

    Attributes:
        alert_id: the alert.
        subject_id: whom it names.
        shown_at: when the card was shown (real time, UTC).
    """

    alert_id: uuid.UUID
    subject_id: str
    shown_at: datetime


class HandsetLog:
    """A device's notifier that records what its officer was shown. Safe to read from other threads."""

    def __init__(self, device_id: str) -> None:
        """Start an empty log for ``device_id``."""
        self.device_id = device_id
        self._lock = threading.Lock()
        self._alerts: list[ShownAlert] = []
        self._reviews: set[uuid.UUID] = set()
        self._orders: set[uuid.UUID] = set()
        self._stood_down: set[uuid.UUID] = set()
        self._answers: list[tuple[uuid.UUID, DispatchState]] = []

    def alert(self, card: AlertCard) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.alert`."""
        with self._lock:
            self._alerts.append(ShownAlert(card.alert_id, card.subject_id, utc_now()))

    def reviewed(self, review: AlertReviewed) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.reviewed`."""
        with self._lock:
            self._reviews.add(review.alert_id)

    def order(self, order: DispatchOrder) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order`."""
        with self._lock:
            self._orders.add(order.dispatch_id)

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order_cancelled`."""
        with self._lock:
            self._stood_down.add(cancellation.dispatch_id)

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order_status`."""
        if not delivered:
            with self._lock:
                self._answers.append((dispatch_id, status))

    def emergency(self, status: EmergencyStatus | None) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.emergency`: the demo's officers raise none, so nothing is kept."""

    def alerts(self) -> list[ShownAlert]:
        """The alert cards shown, in order."""
        with self._lock:
            return list(self._alerts)

    def reviews(self) -> set[uuid.UUID]:
        """The alerts whose review decision reached the handset."""
        with self._lock:
            return set(self._reviews)

    def orders(self) -> set[uuid.UUID]:
        """The dispatch orders that reached the handset."""
        with self._lock:
            return set(self._orders)

    def answers(self) -> list[tuple[uuid.UUID, DispatchState]]:
        """The officer's answers, as sent, in order."""
        with self._lock:
            return list(self._answers)
