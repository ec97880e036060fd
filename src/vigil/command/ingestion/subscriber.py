"""Ingestion from the bus: every device's events, acknowledged to the device once committed.

The server subscribes to ``$share/<group>/vigil/v1/devices/+/up/#``, so several servers can share the devices'
events. The sender is the ``{device_id}`` level of the topic: the broker's ACL lets a client publish only under
its own id. The handler takes every message waiting (up to ``max_batch``) at once and ingests them in one
transaction (:func:`~vigil.command.ingestion.service.ingest_many`): under load one commit serves many events,
and when messages trickle in a batch is a single message, so nothing waits for company. The handler returns
only after the commit, so the broker's PUBACKs (sent when the handler returns) follow it. The committed ids
then go to the :class:`~vigil.command.ingestion.acks.AckSender`, which publishes an :class:`~vigil.events.Ack`
per device to ``vigil/v1/devices/{device_id}/down/ack`` on its own thread, and the device deletes them from
its outbox.

**Rejected events are acknowledged too.** A rejection is final: the same bytes would be rejected again, and
they are already stored (capped) in ``rejected_events``, the dead-letter record an operator can inspect and
replay. Withholding the ack would only have the device resend the event every few seconds forever, each copy
one more rejected row, and its outbox would never drain. Raising instead would be worse: the bus redelivers in
order, so one poisoned message would hold up every device's events behind it. The one retryable failure, an
unavailable database, raises (:class:`DatabaseUnavailable`): the message stays unacknowledged and is delivered
again, and nothing behind it could have been stored anyway.

An ack that cannot be published is retried; if the server stops first, the device sends the event again after
its resend interval, and the copy is acknowledged as a duplicate.

On MQTT the server also joins its share group's presence (:mod:`vigil.command.ingestion.group`): it announces
itself, and reports the members that went away without leaving and still hold a share of the events.
"""

import logging
import re
import threading
import uuid
from collections.abc import Sequence

from vigil.bus.mqtt import MqttBus
from vigil.bus.protocol import Bus, Message
from vigil.command.database import Database
from vigil.command.errors import IngestionStopped
from vigil.command.ingestion.acks import AckSender
from vigil.command.ingestion.group import ShareGroupWatch
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import Transport
from vigil.command.ingestion.service import Received, ingest_many
from vigil.command.settings import IngestionLimits
from vigil.dispatch.planning import DispatchPlanning
from vigil.events import DEVICE_ID_PATTERN, TOPIC_ROOT

_log = logging.getLogger(__name__)

_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

UP_TOPICS = f"{TOPIC_ROOT}/+/up/#"
"""Every device's events to the command centre."""

MAX_BATCH = 500
"""The most events ingested in one transaction."""


class EventSubscriber:
    """The bus handler that ingests devices' events and acknowledges them."""

    def __init__(
        self,
        *,
        bus: Bus,
        database: Database,
        limits: IngestionLimits,
        metrics: IngestionMetrics,
        planning: DispatchPlanning | None = None,
    ) -> None:
        """Wire the handler; :func:`start_ingestion` subscribes it.

        Args:
            bus: where acks are published.
            database: where events are stored.
            limits: what is accepted.
            metrics: ingestion counters.
            planning: the server's dispatch settings and arrival-time model (see
                :func:`~vigil.command.ingestion.service.ingest`).
        """
        self._bus = bus
        self._database = database
        self._limits = limits
        self._metrics = metrics
        self._planning = planning
        self._closed = threading.Event()
        self._acks = AckSender(bus=bus, metrics=metrics)
        self._group: ShareGroupWatch | None = None

    def close(self) -> None:
        """Take no more messages (they stay unacknowledged, for the broker to deliver again); send pending acks.

        On MQTT it then announces this server ``stopped``; stopping the bus after ends its session, so the other
        servers take its share at once.
        """
        self._closed.set()
        self._acks.close()
        if self._group is not None:
            self._group.close()

    def join(self, group: ShareGroupWatch) -> None:
        """Leave ``group`` (announce ``stopped``) on :meth:`close`."""
        self._group = group

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the acks of every event committed so far are published; False after ``timeout_s``."""
        return self._acks.flush(timeout_s)

    def __call__(self, message: Message) -> None:
        """Ingest one message and acknowledge it to its device (a :data:`~vigil.bus.protocol.Handler`).

        Raises:
            IngestionStopped: :meth:`close` was called.
            DatabaseUnavailable: nothing could be stored; the message must be delivered again.
        """
        self.handle_batch([message])

    def handle_batch(self, messages: Sequence[Message]) -> None:
        """Ingest messages in one transaction and acknowledge them to their devices (a ``BatchHandler``).

        Raises:
            IngestionStopped: :meth:`close` was called.
            DatabaseUnavailable: nothing could be stored; the messages must be delivered again.
        """
        if self._closed.is_set():
            raise IngestionStopped("the command centre is shutting down; the messages will be delivered again")
        received = [Received(raw=message.payload, sender=device_of(message.topic)) for message in messages]
        with self._database.session() as session:
            results = ingest_many(
                session=session,
                received=received,
                transport=Transport.MQTT,
                limits=self._limits,
                metrics=self._metrics,
                planning=self._planning,
            )
        acks: dict[str, list[uuid.UUID]] = {}
        for message, item, result in zip(messages, received, results, strict=True):
            if result.event_id is None or not _DEVICE_ID.fullmatch(item.sender):
                _log.warning("ingestion.unacknowledgeable", extra={"topic": message.topic, "reason": result.reason})
                continue
            acks.setdefault(item.sender, []).append(result.event_id)
        for device_id, ids in acks.items():
            self._acks.add(device_id, ids)


def device_of(topic: str) -> str:
    """The ``{device_id}`` level of a device topic (``vigil/v1/devices/{device_id}/up/...``); "" if none."""
    levels = topic.split("/")
    root = TOPIC_ROOT.split("/")
    return levels[len(root)] if len(levels) > len(root) and levels[: len(root)] == root else ""


def start_ingestion(
    *,
    bus: Bus,
    database: Database,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    group: str,
    planning: DispatchPlanning | None = None,
) -> EventSubscriber:
    """Subscribe to every device's events, shared among the servers of ``group``.

    On MQTT the server also announces itself to the group and watches the other members
    (:class:`~vigil.command.ingestion.group.ShareGroupWatch`), reported in ``metrics``.

    Returns:
        The handler; :meth:`EventSubscriber.close` stops it taking messages.

    Raises:
        BusError: a subscription was refused or not confirmed.
    """
    subscriber = EventSubscriber(bus=bus, database=database, limits=limits, metrics=metrics, planning=planning)
    bus.subscribe_batches(
        f"$share/{group}/{UP_TOPICS}",
        subscriber.handle_batch,
        max_batch=MAX_BATCH,
        # One batch at a time, on either database. SQLite writes one transaction at a time: a second worker would
        # only wait for its lock. On PostgreSQL a second worker waits too, for the units' row locks the first
        # holds (a batch moves most units), and its contention made ingestion slower: at 5,000 positions/s the
        # p95 latency was 81 ms with two workers, 52 ms with one (`vigil bench ingest`, 2026-12-02).
        concurrency=1,
    )
    _log.info("ingestion.subscribed", extra={"topics": UP_TOPICS, "group": group})
    if isinstance(bus, MqttBus):
        # Subscribed after the events, whose subscription keeps the first identifier across versions. Sessions and
        # wills are the broker's: the in-memory bus has no group to watch.
        try:
            watch = ShareGroupWatch(bus=bus, settings=bus.settings)
        except BaseException:
            subscriber.close()
            raise
        metrics.watch_group(watch.status)
        subscriber.join(watch)
    return subscriber
