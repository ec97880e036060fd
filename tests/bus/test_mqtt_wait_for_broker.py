"""A client that must work without signal starts with no broker and connects when one comes.

A body camera passes ``wait_for_broker=False``: a broker it cannot reach at start (not running, a name that does
not resolve) is tried again in the background; a server (the default) still refuses to start without one.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.errors import BusUnavailable
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message


@pytest.fixture
def stopped_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker configured on a free port, not running (started once to reserve the port, then stopped)."""
    broker = start_mosquitto(tmp_path)
    broker.stop()
    yield broker
    if broker.process.poll() is None:
        broker.stop()


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_a_client_that_does_not_wait_starts_disconnected_and_connects_when_the_broker_comes(
    stopped_broker: Broker,
) -> None:
    settings = MqttSettings(host=stopped_broker.host, port=stopped_broker.port, client_id="edge-cam-1")
    with pytest.raises(BusUnavailable, match="cannot reach the MQTT broker"):
        MqttBus(settings)  # a server waits for its broker: none is an error

    device = MqttBus(settings, wait_for_broker=False)
    received: list[bytes] = []
    arrived = threading.Event()

    def handle(message: Message) -> None:
        received.append(message.payload)
        arrived.set()

    topic = f"t/{uuid.uuid4().hex[:8]}"
    try:
        assert not device.connected
        device.subscribe(topic, handle)  # recorded now, made when the broker comes
        with pytest.raises(BusUnavailable, match="not connected"):
            device.publish(topic, b"early")

        stopped_broker.restart()
        _wait_until(lambda: device.connected)
        publisher = MqttBus(MqttSettings(host=stopped_broker.host, port=stopped_broker.port))
        publisher.publish(topic, b"hello")
        publisher.stop()
        assert arrived.wait(10)
        assert received == [b"hello"]
    finally:
        device.stop()


def test_a_name_that_does_not_resolve_is_tried_again_not_fatal() -> None:
    settings = MqttSettings(host="broker.vigil.invalid", port=1883, allow_plaintext=True, connect_timeout_s=2)
    with pytest.raises(BusUnavailable, match=r"broker\.vigil\.invalid"):
        MqttBus(settings)
    device = MqttBus(settings, wait_for_broker=False)
    try:
        assert not device.connected
        with pytest.raises(BusUnavailable):
            device.publish("t/x", b"x")
    finally:
        device.stop()
