"""What the command centre sends a device: acks, reviews, orders, emergency acks, watchlists, deployment stops.

One handler takes every message on the device's ``…/down/#`` topics. Acks delete events from the outbox;
reviews, orders and stand-downs go to the officer's notifiers (a redelivered order is shown once, a newer
revision of it again); control's acknowledgement of the officer's emergency goes to the agent, which holds the
emergency and shows it; a new watchlist is handed to the updater; a stopped deployment goes to the agent, which
stops searching under it. A review of an alert the officer was never shown (a silent trial's) is not shown. A
malformed message, or one for another device, is logged and dropped: it will never become valid, and holding it
would block the messages behind it.
"""

import logging
import uuid
from collections.abc import Callable, Sequence

from vigil.bus.protocol import Message
from vigil.edge.notifier import Notifier
from vigil.edge.orders import OrderBook, Receipt
from vigil.edge.outbox import Outbox
from vigil.events import (
    Ack,
    AlertReviewed,
    DeploymentStopped,
    DispatchCancelled,
    DispatchOrder,
    EmergencyAcknowledged,
    MalformedEvent,
    WatchlistAvailable,
    parse_event,
)

_log = logging.getLogger(__name__)


class Downlink:
    """Handles messages from the command centre to one device."""

    def __init__(
        self,
        *,
        device_id: str,
        outbox: Outbox,
        orders: OrderBook,
        notifiers: Sequence[Notifier],
        on_watchlist: Callable[[WatchlistAvailable], None],
        on_acknowledged: Callable[[Ack], None] | None = None,
        on_emergency_acknowledged: Callable[[EmergencyAcknowledged], None] | None = None,
        on_deployment_stopped: Callable[[DeploymentStopped], None] | None = None,
        hidden_alert: Callable[[uuid.UUID], bool] | None = None,
    ) -> None:
        """Wire the handler.

        Args:
            device_id: this device; messages for others are dropped.
            outbox: acknowledged events are deleted from it.
            orders: dispatch orders are recorded in it.
            notifiers: shown reviews, orders and stand-downs.
            on_watchlist: called with each new-watchlist announcement.
            on_acknowledged: called after an ack was applied (e.g. to show answers as delivered).
            on_emergency_acknowledged: called with control's acknowledgement of the officer's emergency.
            on_deployment_stopped: called when control stops a deployment on this device.
            hidden_alert: whether an alert was kept from the officer (a silent trial's): its review is not shown.
        """
        self._device_id = device_id
        self._outbox = outbox
        self._orders = orders
        self._notifiers = list(notifiers)
        self._on_watchlist = on_watchlist
        self._on_acknowledged = on_acknowledged
        self._on_emergency_acknowledged = on_emergency_acknowledged
        self._on_deployment_stopped = on_deployment_stopped
        self._hidden_alert = hidden_alert
        self.reviews: dict[str, AlertReviewed] = {}

    def __call__(self, message: Message) -> None:
        """Handle one message (a :data:`vigil.bus.protocol.Handler`)."""
        try:
            event = parse_event(message.payload)
        except MalformedEvent as exc:
            _log.warning("downlink.malformed", extra={"topic": message.topic, "reason": exc.reason})
            return
        if event.device_id != self._device_id:
            _log.warning("downlink.other_device", extra={"topic": message.topic, "device_id": event.device_id})
            return
        match event:
            case Ack():
                self._outbox.acknowledge(event.ids)
                if self._on_acknowledged is not None:
                    self._on_acknowledged(event)
            case AlertReviewed():
                if self._hidden_alert is not None and self._hidden_alert(event.alert_id):
                    return
                if str(event.alert_id) not in self.reviews:
                    self.reviews[str(event.alert_id)] = event
                    for notifier in self._notifiers:
                        notifier.reviewed(event)
            case DispatchOrder():
                if self._orders.receive(event) is not Receipt.ALREADY_KNOWN:
                    for notifier in self._notifiers:
                        notifier.order(event)
            case DispatchCancelled():
                if self._orders.cancel(event):
                    for notifier in self._notifiers:
                        notifier.order_cancelled(event)
            case WatchlistAvailable():
                self._on_watchlist(event)
            case EmergencyAcknowledged() if self._on_emergency_acknowledged is not None:
                self._on_emergency_acknowledged(event)
            case DeploymentStopped() if self._on_deployment_stopped is not None:
                self._on_deployment_stopped(event)
            case _:
                _log.warning("downlink.unexpected", extra={"topic": message.topic, "type": event.type})
