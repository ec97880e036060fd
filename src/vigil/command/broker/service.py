"""Generating the broker's files from the registered devices and the command centre's server users.

The database holds each live device's broker credential (its token's Mosquitto hash, stored at registration).
The output folder holds the rest of the state: one secret per server user in ``servers/<user>.secret``
(mode 0600, made on first use, kept afterwards so that running servers stay connected). Every run rewrites
``passwd`` and ``acl`` from both, so a revoked device disappears from them; the broker applies them when it
reloads (``systemctl reload mosquitto``, or ``kill -HUP`` its process). ``mosquitto-vigil.conf``, the config
lines naming them, is written when a listener is given or when it does not exist yet.

``share-group`` (mode 0600, made on first use and kept) names the servers' shared subscription with a random
part. Mosquitto 2.0's ACL file cannot refuse a subscription: its check grants every SUBSCRIBE, ``topic deny``
lines included, and filters only what it delivers. A shared subscription hands each message to one member of its
group in turn, and a member the ACL does not let read the message loses it. A device that joined a group named
``vigil-command`` took every other event of every device, which the broker then dropped. Only the servers read
this file (``vigil serve --bus-group-file``), so no device can name their group; a device's own shared
subscription, under any other name, receives only what the ACL lets it read.
"""

import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.broker.errors import (
    BrokerFilesUnwritable,
    BrokerSecretUnreadable,
    BrokerUserClash,
    InvalidBrokerUser,
)
from vigil.command.broker.files import (
    BrokerUser,
    Listener,
    acl_text,
    config_text,
    password_file_text,
    write_atomically,
)
from vigil.command.broker.passwords import mosquitto_hash, new_secret
from vigil.command.broker.schemas import BrokerConfig, ServerUser
from vigil.command.devices.models import Device
from vigil.events import DEVICE_ID_PATTERN

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
CONFIG_FILE = "mosquitto-vigil.conf"
SERVERS_DIR = "servers"
SECRET_SUFFIX = ".secret"
SHARE_GROUP_FILE = "share-group"
DEFAULT_SERVER_USER = "vigil-command"
SHARE_GROUP_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""What an MQTT shared-subscription group name may be here (never '/', '+' or '#'), as ``bus_group`` takes it."""

_USER = re.compile(DEVICE_ID_PATTERN)
_SHARE_GROUP = re.compile(SHARE_GROUP_PATTERN)
_MAX_SECRET_BYTES = 4096


def write_broker_config(
    *, session: Session, directory: Path, server_users: Sequence[str] = (), listener: Listener | None = None
) -> BrokerConfig:
    """Write the broker's password file and ACL for the live devices and the server users, and its config lines.

    Args:
        session: to read the devices from.
        directory: the output folder (created if missing); it also keeps the server users' secrets.
        server_users: server users to add to those the folder has secrets for. With none of either, one
            server user, ``vigil-command``, is made.
        listener: the listener for the config lines, which are then rewritten; None keeps the existing config
            file (or writes one for port 1883 on every interface if there is none).

    Returns:
        What was written, and who is in it.

    Raises:
        InvalidBrokerUser: a server user name is not 1 to 64 letters, digits, '.', '_' or '-'.
        BrokerUserClash: a server user name is also a device id.
        BrokerSecretUnreadable: an existing secret file cannot be read or is empty.
        BrokerFilesUnwritable: the folder or a file in it cannot be written.
    """
    servers_dir = directory / SERVERS_DIR
    try:
        servers_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerFilesUnwritable(f"cannot create {servers_dir} ({exc.strerror or exc})", path=servers_dir) from exc
    names = _server_user_names(servers_dir, server_users)
    devices = list(session.scalars(select(Device).order_by(Device.device_id)))
    device_ids = {device.device_id for device in devices}
    for name in names:
        if name in device_ids:
            raise BrokerUserClash(
                f"{name!r} is a device id and cannot also be a server user: device ids and server users share the "
                "broker's user names; choose another server user name",
                user=name,
            )
    live = [device for device in devices if device.revoked_at is None]
    with_credentials = [device for device in live if device.broker_password_hash is not None]
    servers = [_server_secret(servers_dir, name) for name in names]
    share_group_file = directory / SHARE_GROUP_FILE
    _create_once(share_group_file, f"vigil-{secrets.token_hex(16)}")
    users = [BrokerUser(device.device_id, device.broker_password_hash or "") for device in with_credentials]
    users += [BrokerUser(server.user, mosquitto_hash(secret)) for server, secret in servers]
    password_file, acl_file, config_file = (directory / name for name in (PASSWORD_FILE, ACL_FILE, CONFIG_FILE))
    write_atomically(password_file, password_file_text(users), mode=0o640)
    write_atomically(
        acl_file,
        acl_text(devices=[device.device_id for device in with_credentials], servers=names),
        mode=0o644,
    )
    config_written = listener is not None or not config_file.exists()
    if config_written:
        config = config_text(password_file=password_file, acl_file=acl_file, listener=listener or Listener())
        write_atomically(config_file, config, mode=0o644)
    return BrokerConfig(
        directory=directory.resolve(),
        password_file=password_file.resolve(),
        acl_file=acl_file.resolve(),
        config_file=config_file.resolve(),
        config_written=config_written,
        devices=[device.device_id for device in with_credentials],
        servers=[server for server, _ in servers],
        share_group_file=share_group_file.resolve(),
        without_credentials=[device.device_id for device in live if device.broker_password_hash is None],
    )


def read_secret(path: Path) -> str:
    """The secret in a file (surrounding white space removed), as `vigil serve --bus-password-file` reads it.

    Raises:
        BrokerSecretUnreadable: the file cannot be read, is empty, too large or holds white space within.
    """
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise BrokerSecretUnreadable(f"cannot read the secret file {path} ({exc.strerror or exc})", path=path) from exc
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        secret = ""
    if not secret or len(raw) > _MAX_SECRET_BYTES or any(c.isspace() for c in secret):
        raise BrokerSecretUnreadable(
            f"{path} holds no usable secret: expected one line of UTF-8 text without spaces, at most "
            f"{_MAX_SECRET_BYTES:,} bytes; delete it and run `vigil devices broker-config` to make a new one",
            path=path,
        )
    return secret


def read_share_group(path: Path) -> str:
    """The servers' shared-subscription group named in a file, as `vigil serve --bus-group-file` reads it.

    Raises:
        BrokerSecretUnreadable: the file cannot be read, or holds no group name (1 to 64 letters, digits, '_', '-').
    """
    group = read_secret(path)
    if not _SHARE_GROUP.fullmatch(group):
        raise BrokerSecretUnreadable(
            f"{path} holds no shared-subscription group name: expected 1 to 64 letters, digits, '_' or '-'; delete "
            "it and run `vigil devices broker-config` to make a new one",
            path=path,
        )
    return group


def _server_user_names(servers_dir: Path, given: Sequence[str]) -> list[str]:
    for name in given:
        if not _USER.fullmatch(name):
            raise InvalidBrokerUser(
                f"{name!r} is not a server user name: use 1 to 64 letters, digits, '.', '_' or '-', starting with "
                "a letter or digit",
                user=name,
            )
    existing = [path.name.removesuffix(SECRET_SUFFIX) for path in servers_dir.glob(f"*{SECRET_SUFFIX}")]
    names = sorted({*(name for name in existing if _USER.fullmatch(name)), *given})
    return names or [DEFAULT_SERVER_USER]


def _server_secret(servers_dir: Path, name: str) -> tuple[ServerUser, str]:
    """The server user's secret: read from its file, or made and written there (mode 0600) if it has none."""
    path = servers_dir / f"{name}{SECRET_SUFFIX}"
    created = _create_once(path, new_secret())
    return ServerUser(user=name, secret_file=path.resolve(), created=created), read_secret(path)


def _create_once(path: Path, secret: str) -> bool:
    """Write ``secret`` to ``path`` (mode 0600) unless the file exists; whether it was written.

    Raises:
        BrokerFilesUnwritable: the file cannot be written.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise BrokerFilesUnwritable(f"cannot write {path} ({exc.strerror or exc})", path=path) from exc
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
        file.flush()
        os.fsync(file.fileno())
    return True
