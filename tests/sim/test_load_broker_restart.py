"""`vigil sim load` over MQTT carries on through a broker restart, as body cameras do: nothing lost, all stored once.

The broker (no persistence: every session and queued message is gone) is stopped and started again mid-run; the
load generator's devices connect again with back-off and send what was unacknowledged, the server's bus connects
again by itself, and every event sent is acknowledged and stored exactly once (a copy the server had committed
before the restart is acknowledged as a duplicate).
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.command.conftest import RunningServer, serving
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.ingestion.models import IngestedEvent
from vigil.command.settings import CommandSettings
from vigil.sim.load import LoadPlan, LoadProgress, register_load_devices, run_load

DEVICES = 3
RATE = 60.0
RESTART_AFTER = 60
"""Events sent before the broker is restarted (a second's worth)."""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "mosquitto").mkdir()
    started = start_mosquitto(tmp_path / "mosquitto")
    yield started
    started.stop()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database(f"sqlite:///{tmp_path / 'command.sqlite'}")
    opened.migrate()
    yield opened
    opened.dispose()


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], RunningServer]]:
    yield from serving(ws="none")


def test_the_load_reconnects_after_a_broker_restart_and_loses_nothing(
    broker: Broker,
    database: Database,
    tmp_path: Path,
    serve: Callable[[FastAPI], RunningServer],
) -> None:
    settings = CommandSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'command.sqlite'}")
    bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id=f"cc-{uuid.uuid4().hex}"))
    devices = register_load_devices(database, DEVICES)
    restarts: list[int] = []

    def restart_once(progress: LoadProgress) -> None:
        # Called on the load's own thread, between its rounds: the devices are mid-stream, events in flight.
        if not restarts and progress.sent >= RESTART_AFTER:
            restarts.append(progress.sent)
            broker.stop()
            broker.restart()

    try:
        server = serve(create_app(settings, bus=bus))
        plan = LoadPlan(devices=DEVICES, rate=RATE, duration_s=3, alert_share=0, transport="mqtt", resend_after_s=2)
        report = run_load(
            plan, devices, server_url=server.url, broker=(broker.host, broker.port), on_progress=restart_once
        )
    finally:
        bus.stop()

    with database.session() as session:
        stored = session.scalar(select(func.count()).select_from(IngestedEvent))
    figures = {name: getattr(report, name) for name in ("sent", "acknowledged", "resent", "reconnects")}
    print(f"figures: {figures | {'stored': stored}}")  # shown by `pytest -rP`, for the deployment notes
    assert restarts, "the broker was never restarted"
    assert report.reconnects >= DEVICES
    assert report.sent > restarts[0]
    assert (report.acknowledged, report.unacknowledged) == (report.sent, 0)
    assert stored == report.sent
