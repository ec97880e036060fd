"""The server's settings: from the environment, checked, with safe defaults."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.bus.mqtt_settings import MqttSettings, MqttTlsSettings
from vigil.command.settings import CommandSettings, MemoryBusSettings


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = CommandSettings(data_dir=tmp_path)
    assert settings.sqlalchemy_url() == f"sqlite:///{tmp_path.resolve()}/command.sqlite"
    assert settings.bus is None


def test_the_environment_configures_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql://vigil:secret@db.example/vigil")
    monkeypatch.setenv("VIGIL_BUS__KIND", "mqtt")
    monkeypatch.setenv("VIGIL_BUS__HOST", "broker.example")
    monkeypatch.setenv("VIGIL_BUS__TLS__CA_FILE", "/etc/vigil/ca.crt")
    monkeypatch.setenv("VIGIL_LIMITS__MAX_CLOCK_SKEW_S", "120")
    monkeypatch.setenv("VIGIL_BUS_GROUP", "vigil-7f3a")
    settings = CommandSettings()
    assert settings.sqlalchemy_url() == "postgresql+psycopg://vigil:secret@db.example/vigil"
    tls = MqttTlsSettings(ca_file=Path("/etc/vigil/ca.crt"))
    assert settings.bus == MqttSettings(host="broker.example", port=8883, tls=tls, client_id=settings.bus.client_id)
    assert settings.limits.max_clock_skew_s == 120
    assert settings.bus_group == "vigil-7f3a"


def test_sign_in_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ACCOUNTS__MAX_FAILED_SIGN_INS", "3")
    monkeypatch.setenv("VIGIL_ACCOUNTS__SESSION_IDLE_S", "600")
    accounts = CommandSettings().accounts
    assert (accounts.max_failed_sign_ins, accounts.session_idle_s, accounts.lockout_s) == (3, 600, 900)


def test_the_memory_bus_is_chosen_by_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_BUS__KIND", "memory")
    assert CommandSettings().bus == MemoryBusSettings()


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"database_url": "sqlite://"}, "in-memory SQLite"),
        ({"database_url": "mysql://db/vigil"}, "'mysql' is not supported"),
        ({"database_url": "not a url"}, "is not a database URL"),
        ({"limits": {"max_probe_bytes": 10 * 1024 * 1024}}, "less than or equal to 262144"),
        ({"limits": {"max_clock_skew": 5}}, "Extra inputs are not permitted"),
        ({"bus_group": "a/b"}, "String should match pattern"),
        (
            {"bus": {"kind": "mqtt", "host": "broker.example", "tls": {"ca_file": "/etc/vigil/ca.crt"}}},
            "give the secret one `vigil devices broker-config` made",
        ),
        (
            {"bus": {"kind": "mqtt", "host": "127.0.0.1", "tls": {"ca_file": "/etc/vigil/ca.crt"}}},
            "group 'vigil-command' is known to every device",
        ),
        ({"port": 0}, "greater than or equal to 1"),
        ({"accounts": {"session_idle_s": 7200, "session_absolute_s": 3600}}, "a session can never be idle longer"),
        ({"accounts": {"max_failed_sign_ins": 0}}, "greater than or equal to 1"),
        ({"accounts": {"totp_window_steps": 5}}, "less than or equal to 2"),
    ],
)
def test_wrong_settings_fail_loudly(fields: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        CommandSettings(**fields)  # type: ignore[arg-type]
