"""The MQTT 5 bus (paho-mqtt 2): QoS 1, persistent sessions and manual acknowledgement.

* **Persistent session**: the client connects with clean start off and a session expiry, under a stable client
  id, so the broker keeps its subscriptions and queues QoS 1 messages while it is away.
* **Publish** returns only after the broker's PUBACK; without one in time it raises :class:`BusUnavailable`
  and the caller keeps the message (the edge outbox resends it; event ids make a duplicate harmless).
* **Manual acknowledgement**: a received message is PUBACKed only after its handler has returned, which for the
  server means after the event is committed. A message whose handler never returned (the process died) is
  redelivered by the broker when the session resumes.
"""

import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from vigil.bus.delivery import SubscriberThread
from vigil.bus.errors import BusClosed, BusRefused, BusUnavailable
from vigil.bus.protocol import BatchHandler, Handler, Message, topic_matches

QOS = 1
_MAX_INFLIGHT = 100  # QoS 1 messages sent and not yet confirmed, before paho queues further ones


class MqttSettings(BaseModel):
    """How to reach the MQTT broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field(
        default_factory=lambda: f"vigil-{uuid.uuid4().hex[:12]}",
        min_length=1,
        max_length=128,
        description="Stable per process role: the broker keeps this client's session and queued messages.",
    )
    username: str | None = Field(None, description="Broker user name.")
    password: SecretStr | None = Field(None, description="Broker password.")
    session_expiry_s: int = Field(
        24 * 3600, ge=0, le=2**32 - 1, description="How long the broker keeps the session while away, seconds."
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval, seconds.")
    connect_timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for the broker at start.")
    publish_timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for a PUBACK.")

    @model_validator(mode="after")
    def _password_needs_username(self) -> "MqttSettings":
        if self.password is not None and self.username is None:
            raise ValueError("a password was given without a username")
        return self


class MqttBus:
    """A :class:`~vigil.bus.protocol.Bus` over an MQTT 5 broker."""

    def __init__(self, settings: MqttSettings) -> None:
        """Connect to the broker and wait for it to accept the session.

        Raises:
            BusUnavailable: the broker cannot be reached in ``settings.connect_timeout_s``.
            BusRefused: the broker refused the connection (credentials).
        """
        self._settings = settings
        self._lock = threading.Lock()
        self._subscriptions: list[tuple[str, SubscriberThread]] = []
        self._waiting: list[tuple[list[int], Message, int, int]] = []
        self._connected = threading.Event()
        self._subacks = threading.Condition()
        self._subacked: dict[int, list[ReasonCode]] = {}
        self._refusal: str | None = None
        self._closed = False
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password is not None else None
            client.username_pw_set(settings.username, password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(_MAX_INFLIGHT)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = settings.session_expiry_s
        self._client = client
        try:
            client.connect(
                settings.host, settings.port, keepalive=settings.keepalive_s, clean_start=False, properties=properties
            )
        except OSError as exc:
            raise BusUnavailable(
                f"cannot reach the MQTT broker at {settings.host}:{settings.port} ({exc}); is it running?"
            ) from exc
        client.loop_start()
        if not self._connected.wait(settings.connect_timeout_s):
            self._shutdown()
            if self._refusal is not None:
                raise BusRefused(f"the MQTT broker refused the connection: {self._refusal}")
            raise BusUnavailable(
                f"the MQTT broker at {settings.host}:{settings.port} did not accept the connection in "
                f"{settings.connect_timeout_s:g} s"
            )

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
            client.disconnect()
            return
        _send_small_packets_at_once(client)
        with self._lock:
            filters = [(number, topic_filter) for number, (topic_filter, _) in enumerate(self._subscriptions, start=1)]
        for number, topic_filter in filters:
            client.subscribe(topic_filter, qos=QOS, properties=_subscription_properties(number))
        self._connected.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        delivered = Message(topic=message.topic, payload=bytes(message.payload))
        # The broker names the subscription(s) a message is for: with overlapping filters it may send one copy
        # per subscription, so routing by filter alone would hand a handler the same message twice. A message
        # redelivered from the previous session can arrive before this process has subscribed again; it waits
        # (unacknowledged) until the subscription with its number exists.
        numbers = list(getattr(message.properties, "SubscriptionIdentifier", None) or [])
        with self._lock:
            if not numbers:
                numbers = [
                    n for n, (f, _) in enumerate(self._subscriptions, start=1) if topic_matches(f, message.topic)
                ]
            if any(n > len(self._subscriptions) for n in numbers) or not numbers:
                self._waiting.append((numbers, delivered, message.mid, message.qos))
                return
        self._dispatch(numbers, delivered, message.mid, message.qos)

    def _dispatch(self, numbers: list[int], delivered: Message, mid: int, qos: int) -> None:
        """Hand a message to its subscriptions; PUBACK once the last of their handlers has returned."""
        with self._lock:
            targets = [self._subscriptions[n - 1][1] for n in numbers]
        remaining = [len(targets)]

        def acknowledge() -> None:
            with self._lock:
                remaining[0] -= 1
                done = remaining[0] == 0
            if done:
                self._client.ack(mid, qos)

        for thread in targets:
            thread.put(delivered, acknowledge)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now."""
        return self._connected.is_set()

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the PUBACK; see :meth:`vigil.bus.protocol.Bus.publish`."""
        self.publish_many([(topic, payload)])

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish at QoS 1, all at once, then wait for every PUBACK; see :meth:`Bus.publish_many`."""
        if self._closed:
            raise BusClosed("the bus has been stopped")
        if not self._connected.is_set():
            raise BusUnavailable(f"not connected to the MQTT broker at {self._settings.host}:{self._settings.port}")
        sent = []
        for topic, payload in messages:
            info = self._client.publish(topic, payload, qos=QOS)
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                raise BusUnavailable("the MQTT connection dropped before the message could be sent")
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise BusUnavailable(f"the MQTT client could not queue the message ({paho.error_string(info.rc)})")
            sent.append(info)
        deadline = time.monotonic() + self._settings.publish_timeout_s
        for info in sent:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except RuntimeError as exc:
                raise BusUnavailable(f"the MQTT connection dropped while publishing ({exc})") from exc
            if not info.is_published():
                raise BusUnavailable(
                    f"the broker did not confirm the message in {self._settings.publish_timeout_s:g} s"
                )

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Subscribe at QoS 1; the broker remembers it for the session. See :meth:`Bus.subscribe`."""
        self._add(topic_filter, lambda name: SubscriberThread(handler, name=name))

    def subscribe_batches(self, topic_filter: str, handler: BatchHandler, *, max_batch: int) -> None:
        """Subscribe at QoS 1, handing over the messages waiting at once. See :meth:`Bus.subscribe_batches`."""
        self._add(topic_filter, lambda name: SubscriberThread(batch_handler=handler, max_batch=max_batch, name=name))

    def _add(self, topic_filter: str, start: Callable[[str], SubscriberThread]) -> None:
        if self._closed:
            raise BusClosed("the bus has been stopped")
        thread = start(f"mqtt {topic_filter}")
        with self._lock:
            self._subscriptions.append((topic_filter, thread))
            number = len(self._subscriptions)
            ready = [w for w in self._waiting if w[0] and max(w[0]) <= number]
            self._waiting = [w for w in self._waiting if w not in ready]
        for numbers, delivered, mid, qos in ready:
            self._dispatch(numbers, delivered, mid, qos)
        result, request = self._client.subscribe(topic_filter, qos=QOS, properties=_subscription_properties(number))
        if result not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise BusUnavailable(f"could not subscribe to {topic_filter!r} ({paho.error_string(result)})")
        if result == MQTTErrorCode.MQTT_ERR_SUCCESS and request is not None:
            # Wait for the SUBACK: a message published after this returns must find the subscription in place
            # (a shared subscription with no member yet drops messages). Offline, the subscription is made on
            # connect instead.
            with self._subacks:
                confirmed = self._subacks.wait_for(
                    lambda: request in self._subacked, timeout=self._settings.connect_timeout_s
                )
                reasons = self._subacked.pop(request, [])
            if not confirmed:
                raise BusUnavailable(f"the broker did not confirm the subscription to {topic_filter!r} in time")
            if any(reason.is_failure for reason in reasons):
                raise BusRefused(f"the broker refused the subscription to {topic_filter!r}: {reasons[0]}")

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._subacks:
            self._subacked[mid] = list(reasons)
            self._subacks.notify_all()

    def stop(self) -> None:
        """Disconnect; messages not yet acknowledged stay with the broker for the next session."""
        self._closed = True
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for _, thread in subscriptions:
            thread.stop()
        self._shutdown()

    def _shutdown(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _send_small_packets_at_once(client: paho.Client) -> None:
    """Switch Nagle's algorithm off for the client's socket.

    MQTT packets are small: each PUBLISH or PUBACK held back for the TCP acknowledgement of the previous one
    (which the peer may delay by up to 40 ms) would stall every round trip.
    """
    sock = client.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _subscription_properties(number: int) -> Properties:
    properties = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]  # paho leaves it untyped
    properties.SubscriptionIdentifier = number
    return properties
