"""The contract every Bus implementation keeps, run against MemoryBus and MqttBus (a real Mosquitto)."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.support.inbox import Inbox
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.errors import BusClosed, BusUnavailable
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus, Message, topic_matches


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield started
    started.stop()


BusFactory = Callable[[], Bus]


@pytest.fixture(params=["memory", "mqtt"])
def make_bus(request: pytest.FixtureRequest, broker: Broker) -> Iterator[BusFactory]:
    """Buses that reach each other: one MemoryBus shared, or MQTT clients of one broker."""
    made: list[Bus] = []
    shared = MemoryBus()

    def factory() -> Bus:
        bus: Bus = shared if request.param == "memory" else MqttBus(MqttSettings(host=broker.host, port=broker.port))
        made.append(bus)
        return bus

    yield factory
    for bus in made:
        bus.stop()


def _topic(tail: str) -> str:
    return f"test/{uuid.uuid4().hex[:8]}/{tail}"


def test_messages_arrive_in_order(make_bus: BusFactory) -> None:
    publisher, subscriber = make_bus(), make_bus()
    inbox = Inbox()
    root = _topic("")
    subscriber.subscribe(f"{root}#", inbox)
    time.sleep(0.2)
    for number in range(50):
        publisher.publish(f"{root}n", str(number).encode())
    got = inbox.wait_for_messages(50)
    assert [m.payload for m in got] == [str(n).encode() for n in range(50)]
    assert {m.topic for m in got} == {f"{root}n"}


def test_wildcards_select_topics(make_bus: BusFactory) -> None:
    bus = make_bus()
    root = _topic("")
    ups, everything = Inbox(), Inbox()
    bus.subscribe(f"{root}devices/+/up/#", ups)
    bus.subscribe(f"{root}#", everything)
    time.sleep(0.2)
    bus.publish(f"{root}devices/cam-1/up/position", b"1")
    bus.publish(f"{root}devices/cam-1/down/ack", b"2")
    bus.publish(f"{root}devices/cam-2/up/alert.raised", b"3")
    assert everything.wait_for(3) == [b"1", b"2", b"3"]
    assert ups.wait_for(2) == [b"1", b"3"]


def test_a_failing_handler_gets_the_message_again(make_bus: BusFactory) -> None:
    bus = make_bus()
    attempts: list[bytes] = []
    delivered = Inbox()

    def flaky(message: Message) -> None:
        attempts.append(message.payload)
        if len(attempts) < 3:
            raise RuntimeError("database busy")
        delivered(message)

    topic = _topic("x")
    bus.subscribe(topic, flaky)
    time.sleep(0.2)
    bus.publish(topic, b"once")
    bus.publish(topic, b"twice")
    assert delivered.wait_for(2) == [b"once", b"twice"]
    assert attempts == [b"once", b"once", b"once", b"twice"]


def test_batches_hold_the_messages_waiting_in_order_and_a_failed_batch_comes_again(make_bus: BusFactory) -> None:
    publisher, subscriber = make_bus(), make_bus()
    topic = _topic("n")
    first_taken, all_sent = threading.Event(), threading.Event()
    attempts: list[list[bytes]] = []
    handled = Inbox()

    def handle(messages: Sequence[Message]) -> None:
        attempts.append([m.payload for m in messages])
        first_taken.set()
        all_sent.wait(10)  # the rest pile up meanwhile
        if len(attempts) == 2:
            raise RuntimeError("database busy")
        for message in messages:
            handled(message)

    subscriber.subscribe_batches(topic, handle, max_batch=8)
    time.sleep(0.2)
    publisher.publish(topic, b"0")
    assert first_taken.wait(10)
    publisher.publish_many([(topic, str(n).encode()) for n in range(1, 20)])
    all_sent.set()
    assert handled.wait_for(20) == [str(n).encode() for n in range(20)]
    assert attempts[0] == [b"0"]
    assert attempts[1] == attempts[2]  # the failed batch, again, whole
    assert all(len(batch) <= 8 for batch in attempts)
    assert len(attempts) <= 6


def test_a_stopped_bus_refuses_work(make_bus: BusFactory) -> None:
    bus = make_bus()
    bus.stop()
    with pytest.raises(BusClosed):
        bus.publish(_topic("x"), b"1")


def test_memory_bus_link_can_be_cut() -> None:
    bus = MemoryBus()
    bus.set_link(up=False)
    with pytest.raises(BusUnavailable, match="link to the command centre is down"):
        bus.publish("a/b", b"1")
    bus.set_link(up=True)
    bus.publish("a/b", b"1")
    bus.stop()


def test_shared_subscription_delivers_each_message_once(make_bus: BusFactory) -> None:
    first, second, publisher = make_bus(), make_bus(), make_bus()
    root = _topic("")
    inbox_one, inbox_two = Inbox(), Inbox()
    first.subscribe(f"$share/servers/{root}#", inbox_one)
    second.subscribe(f"$share/servers/{root}#", inbox_two)
    time.sleep(0.3)
    for number in range(20):
        publisher.publish(f"{root}n", str(number).encode())
    deadline = time.monotonic() + 10
    while len(inbox_one.messages) + len(inbox_two.messages) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    payloads = sorted(int(m.payload) for m in inbox_one.messages + inbox_two.messages)
    assert payloads == list(range(20))


def test_unreachable_broker_is_a_clear_error() -> None:
    from tests.support.mosquitto import free_port

    with pytest.raises(BusUnavailable, match="cannot reach the MQTT broker"):
        MqttBus(MqttSettings(port=free_port(), connect_timeout_s=1))


def test_unacknowledged_message_is_redelivered_after_a_crash(broker: Broker) -> None:
    """A server that dies before committing never PUBACKs; the broker redelivers when its session resumes."""
    client_id = f"server-{uuid.uuid4().hex[:6]}"
    topic = _topic("alert")
    settings = MqttSettings(host=broker.host, port=broker.port, client_id=client_id)
    crashed = MqttBus(settings)
    started = threading.Event()

    def stuck(message: Message) -> None:
        started.set()
        raise RuntimeError("killed before commit")

    crashed.subscribe(topic, stuck)
    publisher = MqttBus(MqttSettings(host=broker.host, port=broker.port))
    time.sleep(0.2)
    publisher.publish(topic, b"alert-1")
    assert started.wait(5)
    crashed.stop()

    inbox = Inbox()
    resumed = MqttBus(settings)
    resumed.subscribe(topic, inbox)
    assert inbox.wait_for(1) == [b"alert-1"]
    resumed.stop()
    publisher.stop()


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a/b/c/d", True),
        ("a/#", "a", True),
        ("a/b", "a/b/c", False),
        ("$share/g/a/+", "a/b", True),
        ("+/+", "a", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


def test_concurrent_batches_are_each_in_order_and_acknowledged_in_arrival_order() -> None:
    """Two workers handle batches at once; the acknowledgements still go out in the order the messages came."""
    from vigil.bus.delivery import SubscriberThread

    handled: list[list[bytes]] = []
    acknowledged: list[bytes] = []
    first_in_hand, release_first = threading.Event(), threading.Event()
    lock = threading.Lock()

    def handle(messages: Sequence[Message]) -> None:
        payloads = [m.payload for m in messages]
        if payloads[0] == b"0":
            first_in_hand.set()
            release_first.wait(10)  # the second batch is handled and returns meanwhile
        with lock:
            handled.append(payloads)

    worker = SubscriberThread(batch_handler=handle, max_batch=4, concurrency=2, name="test")
    worker.put(Message("t", b"0"), lambda: acknowledged.append(b"0"))
    assert first_in_hand.wait(10)
    worker.put_many([(Message("t", str(n).encode()), lambda n=n: acknowledged.append(str(n).encode())) for n in (1, 2)])
    deadline = time.monotonic() + 10
    while len(handled) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handled == [[b"1", b"2"]]  # the later batch was handled first...
    assert acknowledged == []  # ...but waits to be acknowledged until the earlier one is
    release_first.set()
    while len(acknowledged) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert acknowledged == [b"0", b"1", b"2"]
    worker.stop()


def test_unconfirmed_publishes_arrive_too(make_bus: BusFactory) -> None:
    publisher, subscriber = make_bus(), make_bus()
    inbox = Inbox()
    topic = _topic("acks")
    subscriber.subscribe(topic, inbox)
    publisher.publish_many([(topic, str(n).encode()) for n in range(5)], confirmed=False)
    assert inbox.wait_for(5) == [str(n).encode() for n in range(5)]
