"""The MQTT connection across what goes wrong in the field: a broker restart, a silent broker, a late PUBACK."""

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path, persistence=True)
    yield started
    if started.process.poll() is None:
        started.stop()


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_a_message_in_hand_when_the_connection_drops_comes_again_and_nothing_is_lost(broker: Broker) -> None:
    topic = f"t/{uuid.uuid4().hex[:8]}"
    server = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id="server"))
    reconnected = threading.Event()
    handled: list[bytes] = []
    done = threading.Condition()

    def handle(message: Message) -> None:
        if not handled:
            reconnected.wait(30)  # the connection is cut while this message is in hand
        with done:
            handled.append(message.payload)
            done.notify_all()

    server.subscribe(topic, handle)
    publisher = MqttBus(MqttSettings(host=broker.host, port=broker.port))
    publisher.publish(topic, b"1")
    publisher.stop()
    _wait_until(lambda: server.connected)
    broker.stop()
    _wait_until(lambda: not server.connected)
    broker.restart()
    _wait_until(lambda: server.connected)
    reconnected.set()  # the first copy's PUBACK now belongs to a dead connection and is not sent
    publisher = MqttBus(MqttSettings(host=broker.host, port=broker.port))
    publisher.publish(topic, b"2")
    with done:
        assert done.wait_for(lambda: len(handled) >= 3, 20)
    assert handled == [b"1", b"1", b"2"]  # at least once: the broker sent "1" again on the new connection
    server.stop()

    # Everything was acknowledged on the new connection: a resumed session brings back nothing but what is new.
    resumed = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id="server"))
    later: list[bytes] = []
    arrived = threading.Event()
    resumed.subscribe(topic, lambda message: (later.append(message.payload), arrived.set()))
    publisher.publish(topic, b"3")
    assert arrived.wait(10)
    time.sleep(0.2)
    assert later == [b"3"]
    resumed.stop()
    publisher.stop()


def test_a_silent_broker_is_noticed_and_the_connection_made_again(broker: Broker) -> None:
    topic = f"t/{uuid.uuid4().hex[:8]}"
    bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, keepalive_s=5))
    inbox: list[bytes] = []
    arrived = threading.Event()
    bus.subscribe(topic, lambda message: (inbox.append(message.payload), arrived.set()))
    broker.process.send_signal(signal.SIGSTOP)  # alive, connected, answering nothing: a dead mobile link
    try:
        _wait_until(lambda: not bus.connected, timeout_s=15)
    finally:
        broker.process.send_signal(signal.SIGCONT)
    _wait_until(lambda: bus.connected, timeout_s=20)
    publisher = MqttBus(MqttSettings(host=broker.host, port=broker.port))
    publisher.publish(topic, b"after")
    assert arrived.wait(10)
    assert inbox == [b"after"]
    bus.stop()
    publisher.stop()
