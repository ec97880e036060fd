"""A bare paho client that waits for each CONNACK, SUBACK and PUBACK and keeps their reason codes.

MqttBus hides these (it is meant to); the ACL tests need to see what the broker answered.
"""

import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.mosquitto import Broker

TIMEOUT_S = 5.0


class RawClient:
    def __init__(
        self,
        broker: Broker,
        *,
        user: str | None,
        password: str | None,
        client_id: str,
        protocol: int = paho.MQTTv5,
        clean_start: bool = True,
        session_expiry_s: int = 0,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._acks: dict[int, list[str]] = {}
        self._arrived = threading.Condition()
        self.connack: str | None = None
        self.disconnected: str | None = None
        self.session_present: bool | None = None
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if user is not None:
            client.username_pw_set(user, password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._client = client
        if protocol == paho.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = session_expiry_s
            client.connect(broker.host, broker.port, clean_start=clean_start, properties=properties)
        else:
            client.connect(broker.host, broker.port)
        client.loop_start()
        self._wait(lambda: self.connack is not None)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._arrived:
            self.connack = str(reason)
            self.session_present = bool(flags.session_present)
            self._arrived.notify_all()

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        with self._arrived:
            self._acks[mid] = [str(r) for r in reasons]
            self._arrived.notify_all()

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._arrived:
            self._acks[mid] = [str(reason)]
            self._arrived.notify_all()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._arrived:
            self.disconnected = str(reason)
            self._arrived.notify_all()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._arrived:
            self.messages.append((message.topic, bytes(message.payload)))
            self._arrived.notify_all()

    def _wait(self, condition: Any) -> None:
        with self._arrived:
            if not self._arrived.wait_for(condition, TIMEOUT_S):
                raise AssertionError("the broker did not answer in time")

    def subscribe(self, topic_filter: str) -> list[str]:
        """Subscribe at QoS 1; the SUBACK's reason codes."""
        _, mid = self._client.subscribe(topic_filter, qos=1)
        self._wait(lambda: mid in self._acks)
        return self._acks[mid]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> str:
        """Publish at QoS 1; the PUBACK's reason code ("Success" on MQTT 3.1.1, which has none), or "disconnected:
        <reason>" when the broker closed the connection instead."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._wait(lambda: info.mid in self._acks or self.disconnected is not None)
        return self._acks[info.mid][0] if info.mid in self._acks else f"disconnected: {self.disconnected}"

    def wait_for_messages(self, count: int) -> list[tuple[str, bytes]]:
        self._wait(lambda: len(self.messages) >= count)
        return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
