"""Ingestion from the bus: every device's events, acknowledged to the device once committed.

The server subscribes to ``$share/<group>/vigil/v1/devices/+/up/#``, so several servers can share the devices'
events. The sender is the ``{device_id}`` level of the topic: the broker's ACL lets a client publish only under
its own id. The handler returns only after :func:`~vigil.command.ingestion.service.ingest` committed, so the
broker's PUBACK (sent when the handler returns) follows the commit; then an :class:`~vigil.events.Ack` naming
the event goes to ``vigil/v1/devices/{device_id}/down/ack`` and the device deletes it from its outbox.

**Rejected events are acknowledged too.** A rejection is final: the same bytes would be rejected again, and
they are already stored (capped) in ``rejected_events``, the dead-letter record an operator can inspect and
replay. Withholding the ack would only have the device resend the event every few seconds forever, each copy
one more rejected row, and its outbox would never drain. Raising instead would be worse: the bus redelivers in
order, so one poisoned message would hold up every device's events behind it. The one retryable failure, an
unavailable database, raises (:class:`DatabaseUnavailable`): the message stays unacknowledged and is delivered
again, and nothing behind it could have been stored anyway.

If publishing the ack fails, the handler raises as well: the redelivered copy is a duplicate, and its ack is
sent then.
"""

import logging
import re
import threading

from vigil.bus.protocol import Bus, Message
from vigil.command.database import Database
from vigil.command.errors import IngestionStopped
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import Transport
from vigil.command.ingestion.service import ingest
from vigil.command.settings import IngestionLimits
from vigil.events import DEVICE_ID_PATTERN, TOPIC_ROOT, Ack, encode_event, topic_for

_log = logging.getLogger(__name__)

_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

UP_TOPICS = f"{TOPIC_ROOT}/+/up/#"
"""Every device's events to the command centre."""


class EventSubscriber:
    """The bus handler that ingests devices' events and acknowledges them."""

    def __init__(self, *, bus: Bus, database: Database, limits: IngestionLimits, metrics: IngestionMetrics) -> None:
        """Wire the handler; :func:`start_ingestion` subscribes it.

        Args:
            bus: where acks are published.
            database: where events are stored.
            limits: what is accepted.
            metrics: ingestion counters.
        """
        self._bus = bus
        self._database = database
        self._limits = limits
        self._metrics = metrics
        self._closed = threading.Event()

    def close(self) -> None:
        """Take no more messages: from now on they stay unacknowledged, for the broker to deliver again."""
        self._closed.set()

    def __call__(self, message: Message) -> None:
        """Ingest one message and acknowledge it to its device (a :data:`~vigil.bus.protocol.Handler`).

        Raises:
            IngestionStopped: :meth:`close` was called.
            DatabaseUnavailable: nothing could be stored; the message must be delivered again.
            BusError: the ack could not be published; the message must be delivered again.
        """
        if self._closed.is_set():
            raise IngestionStopped("the command centre is shutting down; the message will be delivered again")
        device_id = device_of(message.topic)
        with self._database.session() as session:
            result = ingest(
                session=session,
                raw=message.payload,
                transport=Transport.MQTT,
                authenticated_device_id=device_id,
                limits=self._limits,
                metrics=self._metrics,
            )
        if result.event_id is None or not _DEVICE_ID.fullmatch(device_id):
            _log.warning("ingestion.unacknowledgeable", extra={"topic": message.topic, "reason": result.reason})
            return
        ack = Ack(device_id=device_id, ids=[result.event_id])
        self._bus.publish(topic_for(ack), encode_event(ack))


def device_of(topic: str) -> str:
    """The ``{device_id}`` level of a device topic (``vigil/v1/devices/{device_id}/up/...``); "" if none."""
    levels = topic.split("/")
    root = TOPIC_ROOT.split("/")
    return levels[len(root)] if len(levels) > len(root) and levels[: len(root)] == root else ""


def start_ingestion(
    *, bus: Bus, database: Database, limits: IngestionLimits, metrics: IngestionMetrics, group: str
) -> EventSubscriber:
    """Subscribe to every device's events, shared among the servers of ``group``.

    Returns:
        The handler; :meth:`EventSubscriber.close` stops it taking messages.
    """
    subscriber = EventSubscriber(bus=bus, database=database, limits=limits, metrics=metrics)
    bus.subscribe(f"$share/{group}/{UP_TOPICS}", subscriber)
    _log.info("ingestion.subscribed", extra={"topics": UP_TOPICS, "group": group})
    return subscriber
