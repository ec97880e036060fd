"""The broker's files, generated from the registered devices: who is in them and what each may do."""

import stat
from pathlib import Path

import alembic.command
import pytest
from alembic.config import Config
from sqlalchemy import text

from tests.command.broker.hashes import verifies
from tests.command.conftest import Register
from vigil.command.broker.errors import (
    BrokerFilesUnwritable,
    BrokerSecretUnreadable,
    BrokerUserClash,
    InvalidBrokerUser,
)
from vigil.command.broker.files import Listener
from vigil.command.broker.schemas import BrokerConfig
from vigil.command.broker.service import read_secret, read_share_group, write_broker_config
from vigil.command.database import MIGRATIONS, Database
from vigil.command.devices.service import register_device, revoke_device
from vigil.events import utc_now


def _write(database: Database, directory: Path, server_users: list[str] | None = None) -> BrokerConfig:
    with database.session() as session:
        return write_broker_config(session=session, directory=directory, server_users=server_users or [])


def _passwords(written: BrokerConfig) -> dict[str, str]:
    lines = written.password_file.read_text().splitlines()
    return dict(line.split(":", 1) for line in lines)


def test_each_live_device_may_use_only_its_own_topics_and_servers_every_devices(
    database: Database, register: Register, tmp_path: Path
) -> None:
    tokens = {device_id: register(device_id, "A-12") for device_id in ("cam-2", "cam-1")}
    written = _write(database, tmp_path / "broker")

    assert written.devices == ["cam-1", "cam-2"]
    assert [s.user for s in written.servers] == ["vigil-command"]
    assert written.acl_file.read_text().splitlines()[1:] == [
        "# A device publishes only its own events and receives only its own acks and orders.",
        "",
        "user cam-1",
        "topic write vigil/v1/devices/cam-1/up/#",
        "topic read vigil/v1/devices/cam-1/down/#",
        "",
        "user cam-2",
        "topic write vigil/v1/devices/cam-2/up/#",
        "topic read vigil/v1/devices/cam-2/down/#",
        "",
        "# A command-centre server receives every device's events and sends to every device.",
        "",
        "user vigil-command",
        "topic read vigil/v1/devices/+/up/#",
        "topic write vigil/v1/devices/+/down/#",
        "topic readwrite vigil/v1/servers/#",
    ]
    passwords = _passwords(written)
    server_secret = read_secret(written.servers[0].secret_file)
    # A device's MQTT password is its token; the server's is its secret file's.
    assert [verifies(passwords[d], tokens[d]) for d in ("cam-1", "cam-2")] == [True, True]
    assert verifies(passwords["vigil-command"], server_secret)
    assert not verifies(passwords["cam-1"], tokens["cam-2"])
    assert [line for line in written.config_file.read_text().splitlines() if not line.startswith("#")] == [
        "listener 1883",
        "use_username_as_clientid true",
        "allow_anonymous false",
        f"password_file {tmp_path.resolve() / 'broker' / 'passwd'}",
        f"acl_file {tmp_path.resolve() / 'broker' / 'acl'}",
        "max_inflight_messages 10000",
        "max_queued_messages 100000",
        "set_tcp_nodelay true",
        "max_packet_size 2097152",
        "retain_available false",
    ]
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in (written.password_file, written.acl_file, written.config_file, written.servers[0].secret_file)
    }
    assert modes == {"passwd": 0o640, "acl": 0o644, "mosquitto-vigil.conf": 0o644, "vigil-command.secret": 0o600}


def test_the_config_lines_keep_their_listener_until_another_is_given(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        write_broker_config(session=session, directory=tmp_path, listener=Listener(port=8883, address="10.0.0.5"))
        kept = write_broker_config(session=session, directory=tmp_path)
        assert "\nlistener 8883 10.0.0.5\n" in kept.config_file.read_text()
        changed = write_broker_config(session=session, directory=tmp_path, listener=Listener(port=1884))
    assert "\nlistener 1884\n" in changed.config_file.read_text()


@pytest.mark.parametrize(
    ("port", "address", "match"),
    [
        (0, None, "1 to 65535, got 0"),
        (65536, None, "got 65536"),
        (1883, "", "without spaces"),
        (1883, "a b", "got 'a b'"),
    ],
)
def test_a_listener_needs_a_port_and_an_address_without_spaces(port: int, address: str | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Listener(port=port, address=address)


def test_a_revoked_device_leaves_the_files_and_server_secrets_are_kept(
    database: Database, register: Register, tmp_path: Path
) -> None:
    register("cam-1", "A-12")
    register("cam-2", "A-12")
    first = _write(database, tmp_path, ["vigil-command-1", "vigil-command-2"])
    with database.session() as session:
        revoke_device(actor="system", address=None, session=session, device_id="cam-1", now=utc_now())
    second = _write(database, tmp_path)

    assert (first.devices, second.devices) == (["cam-1", "cam-2"], ["cam-2"])
    assert sorted(_passwords(second)) == ["cam-2", "vigil-command-1", "vigil-command-2"]
    assert "cam-1" not in second.acl_file.read_text()
    assert [(s.user, s.created) for s in first.servers] == [("vigil-command-1", True), ("vigil-command-2", True)]
    assert [(s.user, s.created) for s in second.servers] == [("vigil-command-1", False), ("vigil-command-2", False)]
    for server in second.servers:
        assert verifies(_passwords(second)[server.user], read_secret(server.secret_file))
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_servers_share_group_is_made_once_secret_and_kept(database: Database, tmp_path: Path) -> None:
    first = _write(database, tmp_path, ["vigil-command-1", "vigil-command-2"])
    second = _write(database, tmp_path)
    group = read_share_group(first.share_group_file)
    assert (second.share_group_file, read_share_group(second.share_group_file)) == (first.share_group_file, group)
    assert (group[:6], len(group), stat.S_IMODE(first.share_group_file.stat().st_mode)) == ("vigil-", 38, 0o600)
    assert group not in first.acl_file.read_text() + first.config_file.read_text()
    other = _write(database, tmp_path / "elsewhere")
    assert read_share_group(other.share_group_file) != group


@pytest.mark.parametrize("content", [b"a/b\n", b"$share\n", b"+\n", b"x" * 65, b""])
def test_a_share_group_file_holds_one_group_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "share-group"
    path.write_bytes(content)
    with pytest.raises(BrokerSecretUnreadable, match=str(path)):
        read_share_group(path)


def test_a_device_registered_before_broker_credentials_is_left_out_and_named(
    empty_database: Database, tmp_path: Path
) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with empty_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic.command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO units (unit_id, call_sign, kind, status, status_changed_at, created_at) "
                "VALUES ('A-12', 'A-12', 'foot', 'available', :now, :now)"
            ),
            {"now": utc_now()},
        )
        connection.execute(
            text(
                "INSERT INTO devices (device_id, unit_id, token_sha256, created_at) "
                "VALUES ('cam-old', 'A-12', :sha, :now)"
            ),
            {"sha": "0" * 64, "now": utc_now()},
        )
    empty_database.migrate()
    with empty_database.session() as session:
        register_device(
            actor="system",
            address=None,
            session=session,
            device_id="cam-new",
            unit_id="A-12",
            call_sign=None,
            radio_id=None,
            kind=None,
            now=utc_now(),
        )
    written = _write(empty_database, tmp_path)
    assert (written.devices, written.without_credentials) == (["cam-new"], ["cam-old"])
    assert "cam-old" not in written.password_file.read_text() + written.acl_file.read_text()


@pytest.mark.parametrize(
    ("server_user", "error", "match"),
    [
        ("vigil command", InvalidBrokerUser, "is not a server user name"),
        ("vigil:command", InvalidBrokerUser, "is not a server user name"),
        ("", InvalidBrokerUser, "is not a server user name"),
        ("cam-1", BrokerUserClash, "'cam-1' is a device id and cannot also be a server user"),
    ],
)
def test_a_server_user_must_be_a_valid_name_and_no_device(
    database: Database,
    register: Register,
    tmp_path: Path,
    server_user: str,
    error: type[Exception],
    match: str,
) -> None:
    register("cam-1", "A-12")
    with pytest.raises(error, match=match):
        _write(database, tmp_path, [server_user])
    assert not (tmp_path / "passwd").exists()


def test_unwritable_folders_and_unusable_secrets_are_reported(database: Database, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(BrokerFilesUnwritable, match=r"cannot create .*file/servers"):
        _write(database, tmp_path / "file")
    (tmp_path / "broker" / "servers").mkdir(parents=True)
    (tmp_path / "broker" / "servers" / "vigil-command.secret").write_text("\n")
    with pytest.raises(BrokerSecretUnreadable, match="holds no usable secret"):
        _write(database, tmp_path / "broker")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", "s3cret"),
        (b"  s3cret  \r\n", "s3cret"),
        (b"", BrokerSecretUnreadable),
        (b"two words\n", BrokerSecretUnreadable),
        (b"\xff\xfe", BrokerSecretUnreadable),
        (b"x" * 5000, BrokerSecretUnreadable),
        (None, BrokerSecretUnreadable),
    ],
)
def test_a_secret_file_holds_one_word(tmp_path: Path, content: bytes | None, expected: object) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_bytes(content)
    if isinstance(expected, str):
        assert read_secret(path) == expected
        return
    with pytest.raises(BrokerSecretUnreadable, match=str(path)):
        read_secret(path)
