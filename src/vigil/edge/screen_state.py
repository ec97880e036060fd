"""The handset screen's model: a :class:`~vigil.edge.notifier.Notifier` that keeps what the officer is shown.

Alert cards stay *unconfirmed* until the command centre's review arrives, then show it. Orders keep their
newest revision (control moved the target, or named the second verifier of the identity), the officer's answers
and verdict on the match, each *sent* when it is in the outbox and *delivered* when the server acknowledged it,
and control's stand-down; an officer-in-danger order names the officer instead of a subject. The officer's own
emergency shows as it reaches control, until they dismiss it after control acknowledged it. When control stops a
deployment and deletes its results, its alert cards go. Every change raises :attr:`revision` and wakes whoever
waits in :meth:`ScreenState.wait_for_change` (the page's event stream).

Only watchlist alerts' crops and chips, and the evidence control sent, are held, in memory, for the most
recent cards; nothing here is written anywhere.
"""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from vigil.edge.device_health import DeviceHealth
from vigil.edge.emergency import EmergencyStatus
from vigil.edge.notifier import AlertCard
from vigil.edge.orders import allowed_answers, allowed_verdicts
from vigil.edge.route import bearing_deg, haversine_m
from vigil.edge.screen_view import (
    IMAGE_PATH,
    AlertCardView,
    AlertState,
    AnswerView,
    EmergencyOrderView,
    EmergencyView,
    EvidenceView,
    MapView,
    OrderView,
    ReviewView,
    RouteView,
    ScreenView,
    StatusBarView,
    SubjectView,
    VerdictView,
    image_key,
)
from vigil.events import (
    AlertReviewed,
    DeploymentStopped,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    IdentityVerdict,
    ReviewDecision,
    utc_now,
)

_FINISHED = {DispatchState.DECLINED, DispatchState.CLEARED}


def _keyed(*images: bytes | None) -> dict[bytes, str]:
    """Each image with the key it is served under (hashed once, when it arrives)."""
    return {image: image_key(image) for image in images if image is not None}


@dataclass
class _Card:
    card: AlertCard
    keys: dict[bytes, str]
    review: AlertReviewed | None = None


@dataclass
class _Answer:
    status: DispatchState
    at: datetime
    delivered: bool = False


@dataclass
class _Verdict:
    verdict: IdentityVerdict
    at: datetime
    delivered: bool = False


@dataclass
class _Order:
    order: DispatchOrder
    keys: dict[bytes, str]
    received_at: datetime
    answers: list[_Answer] = field(default_factory=list)
    verdicts: list[_Verdict] = field(default_factory=list)
    cancellation: DispatchCancelled | None = None
    target_moved: bool = False

    @property
    def state(self) -> DispatchState | None:
        return self.answers[-1].status if self.answers else None

    @property
    def finished(self) -> bool:
        return self.cancellation is not None or self.state in _FINISHED


def _order_keys(order: DispatchOrder) -> dict[bytes, str]:
    evidence, subject = order.evidence, order.subject
    return _keyed(
        None if evidence is None else evidence.probe_jpeg,
        None if evidence is None else evidence.enrolled_jpeg,
        None if subject is None else subject.photo_jpeg,
    )


class ScreenState:
    """What the handset shows; safe to use from the agent's threads and the screen server's at once."""

    def __init__(
        self,
        *,
        device_id: str,
        unit_id: str,
        map_view: MapView,
        max_alerts: int = 20,
        max_finished_orders: int = 5,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Start with an empty screen.

        Args:
            device_id: this device.
            unit_id: the officer's unit.
            map_view: how the page draws maps.
            max_alerts: alert cards kept, newest first; older ones (and their images) are dropped.
            max_finished_orders: cleared, declined or stood-down orders kept besides the open ones.
            clock: the current time (UTC).
        """
        self._device_id = device_id
        self._unit_id = unit_id
        self._map_view = map_view
        self._max_alerts = max_alerts
        self._max_finished_orders = max_finished_orders
        self._clock = clock
        self._changed = threading.Condition()
        self._revision = 0
        self._cards: list[_Card] = []  # newest first
        self._orders: dict[uuid.UUID, _Order] = {}  # oldest first
        self._emergency: EmergencyStatus | None = None

    @property
    def revision(self) -> int:
        """Raised by every change to the alerts, orders and emergency."""
        with self._changed:
            return self._revision

    def wait_for_change(self, after: int, timeout_s: float) -> int:
        """Wait until :attr:`revision` is above ``after``, at most ``timeout_s`` seconds; returns the revision."""
        with self._changed:
            self._changed.wait_for(lambda: self._revision > after, timeout_s)
            return self._revision

    def alert(self, card: AlertCard) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.alert`."""
        with self._changed:
            self._cards.insert(0, _Card(card, _keyed(card.probe_jpeg, card.watchlist_jpeg)))
            del self._cards[self._max_alerts :]
            self._bump()

    def reviewed(self, review: AlertReviewed) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.reviewed`; a review of a card no longer held changes nothing."""
        with self._changed:
            for held in self._cards:
                if held.card.alert_id == review.alert_id and held.review is None:
                    held.review = review
                    self._bump()

    def deployment_stopped(self, stopped: DeploymentStopped) -> None:
        """See :meth:`vigil.edge.notifier.DeploymentNotifier.deployment_stopped`: the cards (and images) go."""
        if not stopped.delete_results:
            return
        with self._changed:
            kept = [held for held in self._cards if held.card.deployment_id != stopped.deployment_id]
            if len(kept) != len(self._cards):
                self._cards = kept
                self._bump()

    def order(self, order: DispatchOrder) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order`: a newer revision replaces the order, answers stand."""
        with self._changed:
            held = self._orders.get(order.dispatch_id)
            if held is None:
                self._orders[order.dispatch_id] = _Order(order, _order_keys(order), received_at=self._clock())
                self._forget_finished_orders()
            elif order.revision > held.order.revision:
                # A revision may only name the second verifier: the officer is told of a move only when there was one.
                held.target_moved |= order.target != held.order.target or order.area != held.order.area
                held.order, held.keys = order, _order_keys(order)
            else:
                return
            self._bump()

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order_cancelled`."""
        with self._changed:
            held = self._orders.get(cancellation.dispatch_id)
            if held is not None and held.cancellation is None:
                held.cancellation = cancellation
                self._forget_finished_orders()
                self._bump()

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.order_status`."""
        with self._changed:
            held = self._orders.get(dispatch_id)
            if held is None:
                return
            if not delivered:
                held.answers.append(_Answer(status=status, at=self._clock()))
            else:
                waiting = [a for a in held.answers if a.status is status and not a.delivered]
                if not waiting:
                    return
                waiting[0].delivered = True
            self._forget_finished_orders()
            self._bump()

    def order_verified(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict, delivered: bool) -> None:
        """See :meth:`vigil.edge.orders.VerdictNotifier.order_verified`."""
        with self._changed:
            held = self._orders.get(dispatch_id)
            if held is None:
                return
            if not delivered:
                held.verdicts.append(_Verdict(verdict=verdict, at=self._clock()))
            else:
                waiting = [v for v in held.verdicts if v.verdict is verdict and not v.delivered]
                if not waiting:
                    return
                waiting[0].delivered = True
            self._bump()

    def emergency(self, status: EmergencyStatus | None) -> None:
        """See :meth:`vigil.edge.notifier.Notifier.emergency`."""
        with self._changed:
            if status != self._emergency:
                self._emergency = status
                self._bump()

    def image(self, key: str) -> bytes | None:
        """An image of a card or order still held, by :func:`~vigil.edge.screen_view.image_key`; else None."""
        with self._changed:
            keyed = [held.keys for held in self._cards] + [held.keys for held in self._orders.values()]
        return next((image for keys in keyed for image, k in keys.items() if k == key), None)

    def view(self, *, health: DeviceHealth, now: datetime) -> ScreenView:
        """The whole screen, with the status bar from ``health`` taken at ``now``."""
        with self._changed:
            revision = self._revision
            alerts = [_card_view(held) for held in self._cards]
            held_orders = sorted(self._orders.values(), key=lambda o: (o.finished, -o.received_at.timestamp()))
            orders = [_order_view(held, health) for held in held_orders]
            emergency = None if self._emergency is None else _emergency_view(self._emergency)
        return ScreenView(
            revision=revision,
            device_id=self._device_id,
            unit_id=self._unit_id,
            map=self._map_view,
            status=StatusBarView.of(health, now=now),
            alerts=alerts,
            orders=orders,
            emergency=emergency,
        )

    def _bump(self) -> None:
        self._revision += 1
        self._changed.notify_all()

    def _forget_finished_orders(self) -> None:
        finished = [key for key, held in self._orders.items() if held.finished]
        for key in finished[: max(0, len(finished) - self._max_finished_orders)]:
            del self._orders[key]


def _card_view(held: _Card) -> AlertCardView:
    card, review = held.card, held.review
    state = AlertState.UNCONFIRMED
    if review is not None:
        state = AlertState.CONFIRMED if review.decision is ReviewDecision.CONFIRMED else AlertState.DISMISSED
    return AlertCardView(
        alert_id=card.alert_id,
        subject_id=card.subject_id,
        name=card.name,
        category=card.category,
        notes=card.notes,
        distance=card.distance,
        threshold=card.threshold,
        probe_image=IMAGE_PATH + held.keys[card.probe_jpeg],
        enrolled_image=IMAGE_PATH + held.keys[card.watchlist_jpeg],
        at=card.at,
        state=state,
        review=None
        if review is None
        else ReviewView(decision=review.decision, reviewer=review.reviewer, reason=review.reason, at=review.at),
    )


def _order_view(held: _Order, health: DeviceHealth) -> OrderView:
    order, evidence, subject, emergency = held.order, held.order.evidence, held.order.subject, held.order.emergency
    fix, target = health.fix, (order.target.lat, order.target.lon)
    verdict = held.verdicts[-1] if held.verdicts else None
    route = None
    if fix is not None:
        here = (fix.lat, fix.lon)
        route = RouteView(distance_m=haversine_m(here, target), bearing_deg=bearing_deg(here, target))
    return OrderView(
        dispatch_id=order.dispatch_id,
        incident_id=order.incident_id,
        revision=order.revision,
        target_moved=held.target_moved,
        received_at=held.received_at,
        target=order.target,
        area=order.area,
        subject=None
        if subject is None
        else SubjectView(
            subject_id=subject.subject_id,
            name=subject.name,
            category=subject.category,
            risk_notes=subject.risk_notes,
            photo_image=_path(held.keys, subject.photo_jpeg),
        ),
        evidence=None
        if evidence is None
        else EvidenceView(
            alert_id=evidence.alert_id,
            seen_at=evidence.seen_at,
            distance=evidence.distance,
            threshold=evidence.threshold,
            probe_image=IMAGE_PATH + held.keys[evidence.probe_jpeg],
            enrolled_image=_path(held.keys, evidence.enrolled_jpeg),
            confirmed_by=evidence.confirmed_by,
            verified_by=evidence.verified_by,
        ),
        emergency=None
        if emergency is None
        else EmergencyOrderView(
            emergency_id=emergency.emergency_id,
            unit_id=emergency.unit_id,
            call_sign=emergency.call_sign,
            raised_at=emergency.raised_at,
        ),
        instructions=order.instructions,
        route=route,
        state=held.state,
        answers=[AnswerView(status=a.status, delivered=a.delivered, at=a.at) for a in held.answers],
        allowed=[] if held.cancellation is not None else allowed_answers(held.state),
        verdict=None
        if verdict is None
        else VerdictView(verdict=verdict.verdict, delivered=verdict.delivered, at=verdict.at),
        verdicts_allowed=allowed_verdicts(
            order,
            state=held.state,
            stood_down=held.cancellation is not None,
            held=None if verdict is None else verdict.verdict,
        ),
        stood_down=held.cancellation is not None,
        stand_down_reason="" if held.cancellation is None else held.cancellation.reason,
    )


def _path(keys: dict[bytes, str], image: bytes | None) -> str | None:
    return None if image is None else IMAGE_PATH + keys[image]


def _emergency_view(status: EmergencyStatus) -> EmergencyView:
    return EmergencyView(
        emergency_id=status.emergency_id,
        raised_at=status.raised_at,
        delivered=status.delivered,
        acknowledged_by=status.acknowledged_by,
        acknowledged_at=status.acknowledged_at,
        message=status.message,
    )
