"""The MQTT 5 bus: QoS 1, persistent sessions and manual acknowledgement, over :mod:`vigil.bus.mqtt_connection`.

* **Persistent session**: the client connects with clean start off and a session expiry, under a stable client
  id, so the broker keeps its subscriptions and queues QoS 1 messages while it is away.
* **Publish** returns only after the broker's PUBACK; without one in time it raises :class:`BusUnavailable`
  and the caller keeps the message (the edge outbox resends it; event ids make a duplicate harmless). A PUBACK
  that refuses the message (the broker's ACL) raises :class:`BusRefused`.
* **Manual acknowledgement**: a received message is PUBACKed only after its handler has returned, which for the
  server means after the event is committed. A message whose handler never returned (the process died) is
  redelivered by the broker when the session resumes.
* **TLS** (``settings.tls``): the broker's certificate is verified against the force's CA and the host name;
  see :mod:`vigil.bus.mqtt_connection` and :mod:`vigil.bus.mqtt_tls`.
* **Routing**: every subscription carries a subscription identifier, and the broker names the subscription(s)
  each message is for. With overlapping filters it sends one copy per subscription, so routing by filter alone
  would hand a handler the same message twice. A message redelivered from the previous session can arrive before
  this process has subscribed again; it waits (unacknowledged) until the subscription with its number exists.
"""

import threading
from collections.abc import Callable, Sequence

from vigil.bus.delivery import Acknowledge, SubscriberThread
from vigil.bus.errors import BusClosed
from vigil.bus.mqtt_connection import MqttConnection
from vigil.bus.mqtt_packets import Publish
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import BatchHandler, Handler, Message, topic_matches


class MqttBus:
    """A :class:`~vigil.bus.protocol.Bus` over an MQTT 5 broker."""

    def __init__(self, settings: MqttSettings, *, wait_for_broker: bool = True) -> None:
        """Connect to the broker and wait for it to accept the session (or, not waiting, start trying to).

        Args:
            settings: the broker and the session's parameters.
            wait_for_broker: True (a server): a broker that cannot be reached now is an error. False (a device
                that must work without signal): start disconnected and keep trying in the background with
                back-off; publishes raise :class:`BusUnavailable` until connected, and subscriptions are made on
                connecting. A refusal or a certificate fault still raises.

        Raises:
            BusUnavailable: (with ``wait_for_broker``) the broker cannot be reached in ``settings.connect_timeout_s``.
            BusRefused: the broker refused the connection (credentials).
            BrokerCertificateRejected: with TLS, the broker's certificate is not trusted (another CA, wrong name).
            BusTlsFailed: with TLS, the handshake failed otherwise (a plaintext port, a client certificate refused).
            BusTlsFilesUnusable: the TLS settings name a CA file, certificate or key that cannot be used.
        """
        self._lock = threading.Lock()
        # Held while messages are handed to subscriptions, so that those held back for a subscription go before
        # any that arrive once it exists (a subscriber gets its messages in order).
        self._handing_over = threading.Lock()
        self._subscriptions: list[tuple[str, SubscriberThread]] = []
        self._waiting: list[tuple[Publish, int]] = []
        self._closed = False
        self._settings = settings
        self._connection = MqttConnection(
            settings, on_messages=self._on_messages, name=f"mqtt {settings.client_id}", wait_for_broker=wait_for_broker
        )

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now."""
        return self._connection.connected

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the PUBACK; see :meth:`vigil.bus.protocol.Bus.publish`."""
        self.publish_many([(topic, payload)])

    @property
    def settings(self) -> MqttSettings:
        """The settings the bus connects with."""
        return self._settings

    @property
    def epoch(self) -> int:
        """A number that changes whenever the broker connection is lost or made again."""
        return self._connection.epoch

    def publish_expiring(self, topic: str, payload: bytes, *, message_expiry_s: int) -> None:
        """Publish at QoS 1, to be dropped by the broker if not delivered in ``message_expiry_s``; wait for the PUBACK.

        For news that is worthless late (a server's presence), which would otherwise pile up in the queue of a
        subscriber's session while it is away.

        Raises:
            BusUnavailable, BusRefused, BusClosed: as :meth:`publish`.
        """
        if self._closed:
            raise BusClosed("the bus has been stopped")
        self._connection.publish_many([(topic, payload)], message_expiry_s=message_expiry_s)

    def publish_many(self, messages: Sequence[tuple[str, bytes]], *, confirmed: bool = True) -> None:
        """Publish at QoS 1, all at once, then wait for every PUBACK (if confirmed); see :meth:`Bus.publish_many`."""
        if self._closed:
            raise BusClosed("the bus has been stopped")
        self._connection.publish_many(messages, confirmed=confirmed)

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Subscribe at QoS 1; the broker remembers it for the session. See :meth:`Bus.subscribe`."""
        self._add(topic_filter, lambda name: SubscriberThread(handler, name=name))

    def subscribe_batches(
        self, topic_filter: str, handler: BatchHandler, *, max_batch: int, concurrency: int = 1
    ) -> None:
        """Subscribe at QoS 1, handing over the messages waiting at once. See :meth:`Bus.subscribe_batches`."""
        self._add(
            topic_filter,
            lambda name: SubscriberThread(
                batch_handler=handler, max_batch=max_batch, concurrency=concurrency, name=name
            ),
        )

    def stop(self) -> None:
        """Disconnect; messages not yet acknowledged stay with the broker for the next session."""
        self._closed = True
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for _, thread in subscriptions:
            thread.stop()
        self._connection.close()

    def _add(self, topic_filter: str, start: Callable[[str], SubscriberThread]) -> None:
        if self._closed:
            raise BusClosed("the bus has been stopped")
        thread = start(f"mqtt {topic_filter}")
        with self._handing_over:
            with self._lock:
                self._subscriptions.append((topic_filter, thread))
                number = len(self._subscriptions)
                ready = [(m, e) for m, e in self._waiting if max(self._numbers(m)) <= number]
                self._waiting = [(m, e) for m, e in self._waiting if max(self._numbers(m)) > number]
            for message, epoch in ready:
                self._dispatch([message], epoch)
        # Wait for the SUBACK: a message published after this returns must find the subscription in place (a
        # shared subscription with no member yet drops messages). Offline, it is made on connecting instead.
        self._connection.subscribe(topic_filter, number)

    def _on_messages(self, messages: list[Publish], epoch: int) -> None:
        with self._handing_over:
            with self._lock:
                ready = []
                for message in messages:
                    numbers = self._numbers(message)
                    if not numbers or max(numbers) > len(self._subscriptions):
                        self._waiting.append((message, epoch))
                    else:
                        ready.append(message)
            self._dispatch(ready, epoch)

    def _numbers(self, message: Publish) -> tuple[int, ...]:
        """The subscriptions a message is for (the lock is held)."""
        if message.subscription_ids:
            return message.subscription_ids
        return tuple(n for n, (f, _) in enumerate(self._subscriptions, start=1) if topic_matches(f, message.topic))

    def _dispatch(self, messages: Sequence[Publish], epoch: int) -> None:
        """Hand messages to their subscriptions, each subscription's share at once.

        A message is PUBACKed when the last of its subscriptions' handlers has returned.
        """
        shares: dict[int, list[tuple[Message, Acknowledge | None]]] = {}
        with self._lock:
            threads = [thread for _, thread in self._subscriptions]
            for message in messages:
                numbers = self._numbers(message)
                acknowledge = None if message.qos == 0 else self._acknowledgement(message, epoch, len(numbers))
                delivered = Message(topic=message.topic, payload=message.payload)
                for number in numbers:
                    shares.setdefault(number, []).append((delivered, acknowledge))
        for number, share in shares.items():
            threads[number - 1].put_many(share)

    def _acknowledgement(self, message: Publish, epoch: int, handlers: int) -> Acknowledge:
        if handlers == 1:
            return lambda: self._connection.acknowledge(epoch, [message.packet_id])
        remaining = [handlers]

        def acknowledge() -> None:
            with self._lock:
                remaining[0] -= 1
                done = remaining[0] == 0
            if done:
                self._connection.acknowledge(epoch, [message.packet_id])

        return acknowledge
