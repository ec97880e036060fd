"""The share group's presence between two servers' buses on a real Mosquitto (in process; the killed-server cases
run `vigil serve` processes in tests/command/test_scale_out.py)."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.command.ingestion.group import DEVICE_RESEND_S, ShareGroupStatus, ShareGroupWatch, server_session


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def server(broker: Broker) -> Iterator[Callable[..., tuple[MqttBus, ShareGroupWatch]]]:
    """Connects a server's bus as `vigil serve` does and watches its group; both stopped afterwards."""
    opened: list[tuple[MqttBus, ShareGroupWatch]] = []

    def connect(client_id: str, **changes: object) -> tuple[MqttBus, ShareGroupWatch]:
        settings = MqttSettings(host=broker.host, port=broker.port, client_id=client_id, **changes)
        bus = MqttBus(server_session(settings))
        opened.append((bus, ShareGroupWatch(bus=bus, settings=bus.settings)))
        return opened[-1]

    yield connect
    for bus, watch in opened:
        watch.close()
        bus.stop()


def _wait_for(watch: ShareGroupWatch, condition: Callable[[ShareGroupStatus], bool]) -> ShareGroupStatus:
    deadline = time.monotonic() + 10
    while not condition(status := watch.status()):
        assert time.monotonic() < deadline, f"the group never came to that: {status}"
        time.sleep(0.02)
    return status


def test_a_member_with_a_longer_session_is_named_and_a_stop_is_heard(
    server: Callable[..., tuple[MqttBus, ShareGroupWatch]], caplog: pytest.LogCaptureFixture
) -> None:
    short, long_ = f"s-{uuid.uuid4().hex[:6]}", f"l-{uuid.uuid4().hex[:6]}"
    _, watching = server(short)
    with caplog.at_level(logging.WARNING, logger="vigil.command.ingestion.group"):
        _, leaving = server(long_, session_expiry_s=86_400)
        heard = _wait_for(watching, lambda s: [m.client_id for m in s.members] == [long_])
    assert (heard.client_id, heard.session_expiry_s, heard.bound_s, heard.stale) == (short, 30, 30 + DEVICE_RESEND_S, 0)
    member = heard.members[0]
    assert (member.state, member.session_expiry_s, member.expiry_over_bound) == ("online", 86_400, True)
    named = [r for r in caplog.records if r.getMessage() == "ingestion.group_member_expiry_long"]
    assert [(r.client_id, r.strands_events_up_to_s) for r in named] == [(long_, 86_400 + DEVICE_RESEND_S)]  # type: ignore[attr-defined]

    leaving.close()
    stopped = _wait_for(watching, lambda s: s.members[0].state != "online")
    assert [(m.client_id, m.state, m.holds_share_until) for m in stopped.members] == [(long_, "stopped", None)]
    assert stopped.stale == 0
