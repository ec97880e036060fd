"""The broker URL every command takes: mqtts:// with the force's CA; plaintext only on loopback or on purpose."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vigil.bus.mqtt_settings import MqttTlsSettings
from vigil.cli.app import create_app
from vigil.cli.broker import broker_settings

CA, CERT, KEY = Path("ca.crt"), Path("cam-1.crt"), Path("cam-1.key")


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        (
            "mqtts://cam-1:t%40ken@broker.example",
            {"ca_file": CA},
            ("broker.example", 8883, MqttTlsSettings(ca_file=CA), "cam-1", "t@ken"),
        ),
        (
            "mqtts://broker.example:18883",
            {"ca_file": CA, "certificate_file": CERT, "key_file": KEY},
            ("broker.example", 18883, MqttTlsSettings(ca_file=CA, certificate_file=CERT, key_file=KEY), None, None),
        ),
        ("mqtt://127.0.0.1", {}, ("127.0.0.1", 1883, None, None, None)),
        ("mqtt://localhost:1884", {}, ("localhost", 1884, None, None, None)),
        ("mqtt://broker.example", {"allow_plaintext": True}, ("broker.example", 1883, None, None, None)),
    ],
)
def test_a_broker_url_becomes_settings(url: str, options: dict[str, object], expected: tuple[object, ...]) -> None:
    settings = broker_settings(url, client_id="c", **options)  # type: ignore[arg-type]
    password = settings.password.get_secret_value() if settings.password is not None else None
    assert (settings.host, settings.port, settings.tls, settings.username, password) == expected


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("mqtt://broker.example", {}, "mqtt://broker.example is plaintext: device tokens and face crops"),
        ("mqtt://10.0.0.5:1883", {}, "--allow-plaintext-bus"),
        ("mqtts://broker.example", {}, "mqtts:// needs --bus-ca"),
        ("mqtt://localhost", {"ca_file": CA}, "are for TLS: use mqtts://"),
        ("mqtts://broker.example", {"ca_file": CA, "certificate_file": CERT}, "go together"),
        ("http://broker.example", {}, "is not mqtts://host"),
    ],
)
def test_a_broker_url_that_would_leak_or_cannot_work_is_refused(
    url: str, options: dict[str, object], match: str
) -> None:
    with pytest.raises(typer.BadParameter, match=match):
        broker_settings(url, client_id="c", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--bus", "mqtt://broker.example"], "mqtt://broker.example is plaintext"),
        (["serve", "--bus", "mqtts://broker.example"], "mqtts:// needs --bus-ca"),
        (["serve", "--bus", "memory", "--bus-ca", "ca.crt"], "need a broker"),
        (
            ["edge", "run", "--source", "x.mp4", "--watchlist", "w.vwl", "--server", "mqtt://broker.example"],
            "mqtt://broker.example is plaintext",
        ),
        (
            ["edge", "run", "--source", "x.mp4", "--watchlist", "w.vwl", "--offline", "--bus-ca", "ca.crt"],
            "need --server",
        ),
        (["demo", "--bus", "mqtt://broker.example"], "the demo's broker is plaintext mqtt:// on loopback"),
    ],
)
def test_commands_refuse_a_plaintext_broker_beyond_loopback(args: list[str], message: str) -> None:
    result = CliRunner().invoke(create_app(), args)
    assert (result.exit_code, message in " ".join(result.stderr.replace("│", " ").split())) == (2, True)
