"""``vigil sim load`` end to end against a real command centre in a thread: over HTTP, and over private Mosquittos.

Each run is checked from its JSON summary and from the database: every event sent is acknowledged and stored once.
"""

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.command.conftest import CreateAccount, RunningServer, account_maker, serving
from tests.support.mosquitto import Broker, free_port, start_mosquitto
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.cli.app import create_app as create_cli
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.alerts.models import Alert
from vigil.command.app import create_app
from vigil.command.broker.files import Listener
from vigil.command.broker.service import read_secret, write_broker_config
from vigil.command.database import Database
from vigil.command.devices.models import Device
from vigil.command.devices.service import revoke_device
from vigil.command.ingestion.models import IngestedEvent
from vigil.command.settings import AccountSettings, CommandSettings
from vigil.command.units.models import PositionRecord
from vigil.events import encode_event, topic_for, utc_now
from vigil.sim.device_events import DeviceEvents
from vigil.sim.errors import DeviceTokensUnusable, LoadError
from vigil.sim.http_fleet import HttpDevice, HttpFleet
from vigil.sim.load import (
    LoadDevice,
    LoadPlan,
    LoadProgress,
    read_tokens,
    register_load_devices,
    run_load,
    save_tokens,
)
from vigil.sim.mqtt_fleet import EncodedEvent


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    started = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield started
    started.stop()


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], RunningServer]]:
    yield from serving(ws="none")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'command.sqlite'}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> CommandSettings:
    return CommandSettings(data_dir=tmp_path, database_url=db_url)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    opened = Database(db_url)
    opened.migrate()
    yield opened
    opened.dispose()


@pytest.fixture
def accounts(database: Database, settings: CommandSettings) -> CreateAccount:
    passwords = Passwords(min_length=AccountSettings().min_password_length)
    return account_maker(database, passwords, SecretSealer.for_settings(settings))


def _load(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(create_cli(), ["sim", "load", *args, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def _stored(database: Database) -> tuple[int, int, int, int]:
    """(devices, events, positions, alerts) in the database."""
    with database.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Device)) or 0,
            session.scalar(select(func.count()).select_from(IngestedEvent)) or 0,
            session.scalar(select(func.count()).select_from(PositionRecord)) or 0,
            session.scalar(select(func.count()).select_from(Alert)) or 0,
        )


def _all_acknowledged_and_stored_once(report: dict[str, object], sent: int) -> None:
    assert report["sent"] == sent
    assert report["acknowledged"] == sent
    assert report["unacknowledged"] == 0
    assert report["server"] == {"accepted": sent, "duplicate": 0, "rejected": 0}
    assert isinstance(report["latency_p50_ms"], float)
    assert isinstance(report["latency_p95_ms"], float)
    assert 0 < report["latency_p50_ms"] <= report["latency_p95_ms"]


# --- over HTTP -------------------------------------------------------------------------------------------------


def test_over_http_every_event_is_committed_once_and_saved_devices_are_used_again(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    database: Database,
    db_url: str,
    tmp_path: Path,
    accounts: CreateAccount,
) -> None:
    server = serve(create_app(settings))
    admin = server.sign_in(accounts("admin-1", Role.ADMIN))
    tokens = tmp_path / "tokens.json"
    common = ["--devices", "4", "--rate", "80", "--duration", "1", "--server", server.url, "--tokens", str(tokens)]
    common += ["--metrics-token", admin]
    first = _load(*common, "--alert-share", "0.25", "--db", db_url)
    _all_acknowledged_and_stored_once(first, 80)
    assert (first["transport"], first["accepted"], first["rejected"]) == ("http", 80, 0)
    assert _stored(database) == (4, 80, 60, 20)
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"

    second = _load(*common, "--alert-share", "0")  # the saved devices: no database needed
    _all_acknowledged_and_stored_once(second, 80)
    assert _stored(database) == (4, 160, 140, 20)


def test_a_revoked_device_ends_the_run_with_what_to_do(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings, database: Database, tmp_path: Path
) -> None:
    server = serve(create_app(settings))
    devices = register_load_devices(database, 2, prefix="gone")
    with database.session() as session:
        revoke_device(session=session, device_id=devices[1].device_id, actor="system", address=None, now=utc_now())
    tokens = tmp_path / "tokens.json"
    save_tokens(tokens, devices)
    args = ["--devices", "2", "--rate", "20", "--duration", "1", "--server", server.url, "--tokens", str(tokens)]
    result = CliRunner().invoke(create_cli(), ["sim", "load", *args, "--json"])
    assert result.exit_code == 1
    assert "refused gone-0002's token (401)" in result.stderr
    assert result.stdout == ""


def test_rejected_events_are_counted_with_their_reason_and_nothing_waits_for_them(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings, database: Database
) -> None:
    server = serve(create_app(settings))
    (device,) = register_load_devices(database, 1, prefix="odd")
    events = DeviceEvents(device.device_id, device.unit_id, seed=1)

    def stream() -> Iterator[EncodedEvent]:
        for number in range(1_000_000):
            event = events.position()
            if number % 4 == 3:
                event = event.model_copy(update={"at": utc_now() + timedelta(hours=2)})
            yield str(event.id), topic_for(event), encode_event(event)

    fleet = HttpFleet(server.url, [HttpDevice(device.device_id, device.token, stream())], rate=40)
    fleet.run(1.0, drain_timeout_s=10, on_tick=lambda: None)
    assert fleet.sent == fleet.acknowledged == 40
    assert fleet.outcomes == {"accepted": 30, "rejected": 10}
    assert fleet.rejections == {"from_the_future": 10}
    assert fleet.in_flight == 0


def test_the_server_away_loses_nothing_while_it_is_retried(settings: CommandSettings, database: Database) -> None:
    """The HTTP devices keep their queue while the server cannot be reached, as an outbox does."""
    devices = register_load_devices(database, 2, prefix="patient")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    plan = LoadPlan(devices=2, rate=20, duration_s=1.0, alert_share=0, drain_timeout_s=20)

    def start_late(progress: LoadProgress) -> None:
        if progress.elapsed_s > 0.5 and not thread.is_alive():
            thread.start()  # half a second in, with the first events already waiting

    try:
        report = run_load(plan, devices, server_url=f"http://127.0.0.1:{port}", broker=None, on_progress=start_late)
    finally:
        server.should_exit = True
        if thread.is_alive():
            thread.join(10)
    assert report.sent == report.acknowledged == report.accepted == 20
    assert report.retries >= 1
    assert _stored(database)[1] == 20


# --- over MQTT -------------------------------------------------------------------------------------------------


def test_over_mqtt_every_event_is_acknowledged_and_stored_once(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    database: Database,
    broker: Broker,
    db_url: str,
    accounts: CreateAccount,
) -> None:
    bus = MqttBus(
        MqttSettings(host=broker.host, port=broker.port, client_id=f"cc-{uuid.uuid4().hex}", session_expiry_s=0)
    )
    try:
        server = serve(create_app(settings, bus=bus))
        report = _load(
            "--metrics-token",
            server.sign_in(accounts("admin-1", Role.ADMIN)),
            "--devices",
            "3",
            "--rate",
            "60",
            "--duration",
            "1",
            "--alert-share",
            "0.1",
            "--server",
            server.url,
            "--bus",
            f"mqtt://{broker.host}:{broker.port}",
            "--db",
            db_url,
        )
    finally:
        bus.stop()
    _all_acknowledged_and_stored_once(report, 60)
    assert (report["transport"], report["accepted"], report["rejected"], report["behind"]) == ("mqtt", None, None, 0)
    assert _stored(database) == (3, 60, 54, 6)


def test_a_broker_that_checks_passwords_lets_the_devices_in_once_it_knows_them(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    database: Database,
    db_url: str,
    tmp_path: Path,
    accounts: CreateAccount,
) -> None:
    """The documented order: register (refused by the broker), write the broker's files, reload, run again."""
    directory = tmp_path / "broker"
    with database.session() as session:
        files = write_broker_config(
            session=session, directory=directory, listener=Listener(port=free_port(), address="127.0.0.1")
        )
    (tmp_path / "mosquitto").mkdir()
    secured = start_mosquitto(tmp_path / "mosquitto", auth_config=files.config_file)
    server_user = files.servers[0]
    bus = MqttBus(
        MqttSettings(
            host=secured.host,
            port=secured.port,
            client_id=server_user.user,
            username=server_user.user,
            password=read_secret(server_user.secret_file),
            session_expiry_s=0,
        )
    )
    tokens = tmp_path / "tokens.json"
    options = ["--devices", "2", "--rate", "40", "--duration", "1", "--tokens", str(tokens), "--db", db_url]
    options += ["--bus", f"mqtt://{secured.host}:{secured.port}"]
    try:
        server = serve(create_app(settings, bus=bus))
        options += ["--server", server.url, "--metrics-token", server.sign_in(accounts("admin-1", Role.ADMIN))]
        refused = CliRunner().invoke(create_cli(), ["sim", "load", *options, "--json"])
        assert refused.exit_code == 1
        assert "the broker refused load-" in refused.stderr
        assert len(read_tokens(tokens, 2)) == 2
        with database.session() as session:
            write_broker_config(session=session, directory=directory)
        secured.reload()
        report = _load(*options)
    finally:
        bus.stop()
        secured.stop()
    _all_acknowledged_and_stored_once(report, 40)


# --- device tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "count", "message"),
    [
        ("not json", 1, "not a device-token file"),
        ('[{"device_id": "a"}]', 1, "not a device-token file"),
        ('[{"device_id": "a", "unit_id": "u", "token": "a.x"}]', 2, "holds 1 devices and 2 were asked for"),
    ],
)
def test_a_token_file_that_cannot_serve_is_refused(tmp_path: Path, content: str, count: int, message: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    with pytest.raises(DeviceTokensUnusable, match=message):
        read_tokens(path, count)


def test_saved_tokens_read_back(tmp_path: Path) -> None:
    devices = [LoadDevice("d-1", "u-1", "d-1.secret"), LoadDevice("d-2", "u-2", "d-2.secret")]
    save_tokens(tmp_path / "tokens.json", devices)
    assert read_tokens(tmp_path / "tokens.json", 1) == devices[:1]


def test_a_plan_and_its_transport_must_agree() -> None:
    plan = LoadPlan(devices=1, rate=1, transport="mqtt")
    with pytest.raises(LoadError, match="needs the broker's address"):
        run_load(plan, [LoadDevice("d", "u", "t")], server_url="http://127.0.0.1:9", broker=None, on_progress=print)
    with pytest.raises(LoadError, match="2 devices asked for, 1 given"):
        run_load(
            LoadPlan(devices=2, rate=1), [LoadDevice("d", "u", "t")], server_url="", broker=None, on_progress=print
        )
