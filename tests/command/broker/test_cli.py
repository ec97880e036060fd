"""`vigil devices broker-config`, `register|revoke --broker-dir` and `vigil serve`'s broker credentials."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.command.broker.hashes import verifies
from vigil.bus.mqtt_settings import MqttSettings
from vigil.cli.app import create_app
from vigil.cli.serve import bus_settings
from vigil.command.broker.errors import BrokerSecretUnreadable

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def _users(directory: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in (directory / "passwd").read_text().splitlines())


@sqlite_only
def test_registering_and_revoking_rewrite_the_broker_files(database_url: str, tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    register = ["devices", "register", "--db", database_url, "--unit-id", "A-12", "--broker-dir", str(broker)]
    code, token, err = _run(*register, "--device-id", "cam-1")
    assert (code, "new server user vigil-command" in err, "reload the broker" in err) == (0, True, True)
    assert f"group in {(broker / 'share-group').resolve()}: give it to every `vigil serve --bus-group-file`" in err
    assert verifies(_users(broker)["cam-1"], token.strip())

    code, out, _ = _run(
        "devices",
        "broker-config",
        "--db",
        database_url,
        "--out",
        str(broker),
        "--server-user",
        "s-2",
        "--listener-port",
        "18883",
    )
    assert code == 0
    _run(*register, "--device-id", "cam-2")
    code, out, _ = _run("devices", "revoke", "cam-1", "--db", database_url, "--broker-dir", str(broker), "--json")
    assert (code, json.loads(out)["device_id"]) == (0, "cam-1")
    assert sorted(_users(broker)) == ["cam-2", "s-2", "vigil-command"]

    code, out, _ = _run("devices", "broker-config", "--db", database_url, "--out", str(broker), "--json")
    report = json.loads(out)
    assert (code, report["devices"], [s["user"] for s in report["servers"]]) == (0, ["cam-2"], ["s-2", "vigil-command"])
    assert (report["config_file"], report["config_written"]) == (str(broker / "mosquitto-vigil.conf"), False)
    assert report["share_group_file"] == str((broker / "share-group").resolve())
    assert "\nlistener 18883\n" in (broker / "mosquitto-vigil.conf").read_text()


@sqlite_only
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--listener-port", "0"], "Invalid value for '--listener-port'"),
        (["--listener-address", "a b"], "the listener address must be a host name or address without spaces"),
    ],
)
def test_a_bad_listener_is_a_usage_error(database_url: str, tmp_path: Path, options: list[str], message: str) -> None:
    code, _, err = _run("devices", "broker-config", "--db", database_url, "--out", str(tmp_path), *options)
    assert (code, message in " ".join(err.replace("│", " ").split())) == (2, True)
    assert not (tmp_path / "passwd").exists()


@sqlite_only
def test_a_bad_server_user_ends_the_command_with_its_message(database_url: str, tmp_path: Path) -> None:
    code, out, err = _run(
        "devices", "broker-config", "--db", database_url, "--out", str(tmp_path), "--server-user", "vigil command"
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: 'vigil command' is not a server user name")


def test_the_server_reads_its_broker_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "vigil-command-1.secret"
    secret.write_text("s3cret\n")
    settings = bus_settings(
        "mqtt://vigil-command-1@broker:1884", client_id="vigil-command-1", password_file=secret, allow_plaintext=True
    )
    assert isinstance(settings, MqttSettings)
    assert (settings.host, settings.port, settings.client_id, settings.username) == (
        "broker",
        1884,
        "vigil-command-1",
        "vigil-command-1",
    )
    assert (settings.password.get_secret_value() if settings.password else None) == "s3cret"
    with pytest.raises(typer.BadParameter, match="needs the user in the URL"):
        bus_settings("mqtt://broker:1884", password_file=secret, allow_plaintext=True)
    with pytest.raises(typer.BadParameter, match="need --bus mqtt"):
        bus_settings("memory", client_id="x")
    with pytest.raises(BrokerSecretUnreadable, match="cannot read"):
        bus_settings("mqtts://u@broker", password_file=tmp_path / "missing", ca_file=tmp_path / "ca.crt")


def test_the_server_reads_its_shared_subscription_group_from_a_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    group_file = tmp_path / "share-group"
    group_file.write_text("vigil/command\n")  # '/' would change the topic filter, not name a group
    code, out, err = _run("serve", "--bus", "mqtt://vigil-command@127.0.0.1:1883", "--bus-group-file", str(group_file))
    assert (code, out) == (1, "")
    assert "holds no shared-subscription group name" in err
    code, _, err = _run("serve", "--bus-group-file", str(group_file))
    assert code != 0
    assert "need --bus mqtt" in err
