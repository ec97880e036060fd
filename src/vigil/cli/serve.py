"""``vigil serve`` (the command-centre server) and ``vigil devices`` (register, list, revoke, …)."""

import gc
import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from vigil.bus.mqtt_settings import MQTT_PORT, MQTTS_PORT, is_loopback
from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.broker import (
    AllowPlaintextBusOption,
    BusCaOption,
    BusCertificateOption,
    BusKeyOption,
    broker_settings,
)
from vigil.cli.faces import JsonOption
from vigil.cli.log_format import log_to_stderr
from vigil.cli.secret_file import refuse_existing, write_secret_file
from vigil.command.app import create_app, init_database
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.broker.files import Listener, ListenerTls
from vigil.command.broker.schemas import BrokerConfig
from vigil.command.broker.service import read_secret, read_share_group, write_broker_config
from vigil.command.database import Database
from vigil.command.devices.service import issue_osmand_secret, list_devices, register_device, revoke_device
from vigil.command.ingestion.group import SERVER_SESSION_EXPIRY_S
from vigil.command.ingestion.osmand import OsmAndSecretFilter
from vigil.command.server_config import server_config
from vigil.command.settings import BusSettings, CommandSettings, MemoryBusSettings
from vigil.command.units.models import UnitKind
from vigil.events import utc_now
from vigil.vision.settings import SlotEmbedderSettings, build_embedder

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DB (default: in --data-dir)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database lives (default .vigil/command).")
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help=(
            "The face model the server enrols with: a model manifest (JSON beside its ONNX file). Default: dlib's "
            "ResNet. Watchlists made with another model are re-embedded with `vigil watchlist reembed`."
        ),
    ),
]
BrokerDirOption = Annotated[
    Path | None,
    typer.Option(
        "--broker-dir",
        help="Also rewrite the MQTT broker's password file and ACL in this folder (see `vigil devices broker-config`).",
    ),
]


_log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
"""Python's thread switch interval in the server (see :func:`sys.setswitchinterval`), seconds."""


def register_server_commands(app: typer.Typer) -> typer.Typer:
    """Add ``vigil serve`` and the ``vigil devices`` group to the ``vigil`` command; returns the group."""
    app.command("serve")(exits_on_vigil_error(serve))
    devices = typer.Typer(help="Body cameras registered with the command centre.", no_args_is_help=True)
    devices.command("register")(exits_on_vigil_error(register))
    devices.command("list")(exits_on_vigil_error(list_registered))
    devices.command("osmand-secret")(exits_on_vigil_error(issue_osmand))
    devices.command("revoke")(exits_on_vigil_error(revoke))
    devices.command("broker-config")(exits_on_vigil_error(broker_config))
    app.add_typer(devices, name="devices")
    return devices


def command_settings(*, db: str | None, data_dir: Path | None, **overrides: Any) -> CommandSettings:
    """Settings from the environment (``VIGIL_…``), overridden by the options that were given."""
    given = {"database_url": db, "data_dir": data_dir, **overrides}
    return CommandSettings(**{key: value for key, value in given.items() if value is not None})


def with_face_model(settings: CommandSettings, manifest: Path | None) -> CommandSettings:
    """``settings`` whose enrolment engine embeds with the model ``manifest`` describes; as they are when None."""
    if manifest is None:
        return settings
    vision = settings.watchlists.vision.model_copy(update={"embedder": SlotEmbedderSettings(manifest=manifest)})
    watchlists = settings.watchlists.model_copy(update={"vision": vision})
    return settings.model_copy(update={"watchlists": watchlists})


@contextmanager
def command_session(settings: CommandSettings) -> Iterator[Session]:
    """A session on the command centre's database, migrated first; the database is closed after.

    Raises:
        DatabaseUnavailable: it cannot be reached.
        MigrationFailed: a migration failed.
    """
    database = init_database(settings)
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def bus_settings(
    spec: str,
    *,
    client_id: str | None = None,
    password_file: Path | None = None,
    ca_file: Path | None = None,
    certificate_file: Path | None = None,
    key_file: Path | None = None,
    allow_plaintext: bool = False,
    session_expiry_s: int | None = None,
) -> BusSettings:
    """Bus settings from ``memory``, ``mqtts://[user[:password]@]host[:port]`` or ``mqtt://…``.

    Args:
        spec: the bus.
        client_id: the MQTT client id; ``vigil-command-<host name>`` when None.
        password_file: a file holding the broker user's password (instead of one in the URL).
        ca_file: the CA the broker's certificate must be issued by (mqtts://).
        certificate_file: a client certificate, for a broker that requires one.
        key_file: its key.
        allow_plaintext: allow mqtt:// to a broker that is not on loopback.
        session_expiry_s: how long the broker keeps the server's session (and its share of the devices' events)
            after its connection ends without a normal stop; None: a server's default
            (:data:`~vigil.command.ingestion.group.SERVER_SESSION_EXPIRY_S`).

    Raises:
        typer.BadParameter: neither, a password file without a user name in the URL, or TLS options that do not
            fit the URL (see :func:`vigil.cli.broker.broker_settings`), or a session expiry without a broker.
        BrokerSecretUnreadable: the password file cannot be read.
    """
    if spec == "memory":
        if client_id is not None or password_file is not None:
            raise typer.BadParameter("--bus-client-id and --bus-password-file need --bus mqtt://…")
        if ca_file is not None or certificate_file is not None or key_file is not None or allow_plaintext:
            raise typer.BadParameter("--bus-ca, --bus-certificate, --bus-key and --allow-plaintext-bus need a broker")
        if session_expiry_s is not None:
            raise typer.BadParameter("--bus-session-expiry needs --bus mqtt://…")
        return MemoryBusSettings()
    # A stable client id: the broker keeps this server's session (and its queued events) across restarts.
    settings = broker_settings(
        spec,
        client_id=client_id or f"vigil-command-{socket.gethostname()}"[:128],
        ca_file=ca_file,
        certificate_file=certificate_file,
        key_file=key_file,
        allow_plaintext=allow_plaintext,
    )
    if session_expiry_s is not None:
        settings = settings.model_copy(update={"session_expiry_s": session_expiry_s})
    if password_file is None:
        return settings
    if settings.username is None:
        raise typer.BadParameter("--bus-password-file needs the user in the URL: mqtt://USER@host:port")
    return settings.model_copy(update={"password": SecretStr(read_secret(password_file))})


def serve(
    db: DbOption = None,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus", help="mqtts://host[:port] (with --bus-ca), mqtt://, or memory; none: events over HTTP only."
        ),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (default 8000).")] = None,
    data_dir: DataDirOption = None,
    bus_client_id: Annotated[
        str | None,
        typer.Option(
            "--bus-client-id",
            help="MQTT client id, stable and distinct per server process (default vigil-command-<host name>).",
        ),
    ] = None,
    bus_password_file: Annotated[
        Path | None,
        typer.Option("--bus-password-file", help="File holding the broker password of the user in --bus's URL."),
    ] = None,
    bus_ca: BusCaOption = None,
    bus_certificate: BusCertificateOption = None,
    bus_key: BusKeyOption = None,
    allow_plaintext_bus: AllowPlaintextBusOption = False,
    bus_session_expiry: Annotated[
        int | None,
        typer.Option(
            "--bus-session-expiry",
            min=0,
            max=2**32 - 1,
            help=(
                "Seconds the broker keeps this server's session, and its share of the devices' events, once its "
                f"connection is lost (default {SERVER_SESSION_EXPIRY_S}). A restart within it resumes the share; "
                "after it the live servers get the share, and the devices resend what was queued. A normal stop "
                "ends the session at once."
            ),
        ),
    ] = None,
    bus_group_file: Annotated[
        Path | None,
        typer.Option(
            "--bus-group-file",
            help=(
                "File naming the servers' shared subscription (`vigil devices broker-config` writes share-group); "
                "servers sharing devices' events give the same file. Without it the group is vigil-command, "
                "which any device could join."
            ),
        ),
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate",
            help="Serve HTTPS with this certificate (PEM; `vigil pki issue` makes one); needs --key.",
        ),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="The certificate's private key (PEM, unencrypted, mode 0600).")
    ] = None,
    behind_tls_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-tls-proxy",
            help=(
                "A TLS-terminating proxy (nginx) in front takes every connection over HTTPS: serve it plain HTTP, "
                "treat each request as HTTPS (Secure cookies, HSTS). Without this or --certificate, plain HTTP is "
                "refused on any address but loopback."
            ),
        ),
    ] = False,
    model: ModelOption = None,
) -> None:
    """Run the command-centre server: HTTP API, OsmAnd positions and, with --bus, devices' events over MQTT.

    HTTPS with --certificate and --key; plain HTTP only on a loopback address, or with --behind-tls-proxy. With
    --model, enrolment embeds with that face model: new watchlists are made with it, and a watchlist made with
    another is refused new subjects until it is re-embedded (`vigil watchlist reembed`).
    """
    log_to_stderr(logging.INFO, "%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(OsmAndSecretFilter())  # the access log writes every URL, secrets included
    given_bus_options = (bus_client_id, bus_password_file, bus_group_file, bus_session_expiry)
    if bus is None and any(option is not None for option in given_bus_options):
        raise typer.BadParameter(
            "--bus-client-id, --bus-password-file, --bus-group-file and --bus-session-expiry need --bus mqtt://…"
        )
    chosen_bus = (
        bus_settings(
            bus,
            client_id=bus_client_id,
            password_file=bus_password_file,
            ca_file=bus_ca,
            certificate_file=bus_certificate,
            key_file=bus_key,
            allow_plaintext=allow_plaintext_bus,
            session_expiry_s=bus_session_expiry,
        )
        if bus is not None
        else None
    )
    bus_group = read_share_group(bus_group_file) if bus_group_file is not None else None
    given_https = {"certificate_file": certificate, "key_file": key, "behind_tls_proxy": behind_tls_proxy or None}
    https = {name: value for name, value in given_https.items() if value is not None} or None
    settings = with_face_model(
        command_settings(
            db=db, data_dir=data_dir, bus=chosen_bus, bus_group=bus_group, host=host, port=port, https=https
        ),
        model,
    )
    if model is not None:
        # A model that cannot load (or fails its checks) stops the server now, not at the first enrolment.
        chosen_model = build_embedder(settings.watchlists.vision.embedder).model
        _log.info("serve.face_model", extra={"model": chosen_model.model_id})
    # Ingestion's threads hand work to one another (bus I/O → ingesting → acks) at every message; a thread that
    # is ready waits for Python's lock up to the switch interval, 5 ms by default, at each hand-over.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # What startup made (modules, the ORM, the database, the unit index: some 250,000 objects) lives as long as the
    # server. Frozen, the collector stops walking it: a full collection took 80-100 ms, every two or three seconds
    # under load, and held every thread (the ingestion's p95 latency) for that long; now a few milliseconds.
    app = create_app(settings, after_startup=gc.freeze)
    uvicorn.Server(server_config(app, settings, log_config=None)).run()


def register(
    device_id: Annotated[str, typer.Option("--device-id", help="The device's id (letters, digits, . _ -).")],
    unit_id: Annotated[str, typer.Option("--unit-id", help="The unit it serves; created if new.")],
    call_sign: Annotated[str | None, typer.Option("--call-sign", help="The unit's call sign.")] = None,
    radio_id: Annotated[str | None, typer.Option("--radio-id", help="The unit's radio id.")] = None,
    kind: Annotated[UnitKind | None, typer.Option("--kind", help="How the unit moves.")] = None,
    osmand: Annotated[
        bool,
        typer.Option("--osmand", help="Also issue an OsmAnd secret: the device is a phone running Traccar Client."),
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Write the token to this new file (owner-only, 0600) instead of stdout."),
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    broker_dir: BrokerDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a device to a unit and print its token (shown this once; only its hashes are stored).

    The token is also the device's MQTT password, with the device id as its user name. With --osmand a second
    line is the device's OsmAnd secret, which ends the server URL its Traccar Client is set to. With --token-file
    the token goes to a new file only its owner can read (a shell redirect would make one anyone may read).
    """
    if token_file is not None:
        refuse_existing(token_file)
    settings = command_settings(db=db, data_dir=data_dir)
    database = init_database(settings)
    try:
        with database.session() as session:
            registration = register_device(
                session=session,
                device_id=device_id,
                unit_id=unit_id,
                call_sign=call_sign,
                radio_id=radio_id,
                kind=kind,
                actor=SYSTEM_ACTOR,
                address=None,
                now=utc_now(),
                osmand=osmand,
            )
        if broker_dir is not None:
            _rewrite_broker_files(database, broker_dir)
    finally:
        database.dispose()
    if token_file is not None:
        write_secret_file(token_file, registration.token.get_secret_value())
    if json_output:
        typer.echo(registration.model_dump_json(indent=2))
        return
    if token_file is not None:
        typer.echo(f"device {device_id} registered to unit {unit_id}; its token is in {token_file}", err=True)
    else:
        typer.echo(f"device {device_id} registered to unit {unit_id}; its token (shown once):", err=True)
        typer.echo(registration.token.get_secret_value())
    if registration.osmand_secret is not None:
        _show_osmand_secret(settings, device_id, registration.osmand_secret.get_secret_value())


def issue_osmand(
    device_id: Annotated[str, typer.Argument(help="The device (a phone running Traccar Client).")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Give a registered device a new OsmAnd secret and print it (shown this once); its old one stops working."""
    settings = command_settings(db=db, data_dir=data_dir)
    with command_session(settings) as session:
        issued = issue_osmand_secret(
            session=session, device_id=device_id, actor=SYSTEM_ACTOR, address=None, now=utc_now()
        )
    if json_output:
        typer.echo(issued.model_dump_json(indent=2))
        return
    _show_osmand_secret(settings, device_id, issued.osmand_secret.get_secret_value())


def _show_osmand_secret(settings: CommandSettings, device_id: str, secret: str) -> None:
    typer.echo(
        f"its OsmAnd secret (shown once). In Traccar Client set the device identifier to {device_id} and the "
        f"server URL to {settings.public_url()}/osmand/{secret} (the server's public address; the server takes "
        "OsmAnd positions only with VIGIL_OSMAND_ENABLED=true):",
        err=True,
    )
    typer.echo(secret)


def list_registered(db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """List the registered devices, revoked ones included."""
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        devices = list_devices(session=session)
    if json_output:
        typer.echo(devices.model_dump_json(indent=2))
        return
    table = Table("device", "unit", "registered", "last seen", "battery %", "OsmAnd", "revoked")
    for device in devices.devices:
        table.add_row(
            device.device_id,
            device.unit_id,
            f"{device.created_at:%Y-%m-%d %H:%M}",
            f"{device.last_seen_at:%Y-%m-%d %H:%M:%S}" if device.last_seen_at else "never",
            f"{device.battery_pct:.0f}" if device.battery_pct is not None else "",
            "yes" if device.osmand else "",
            f"{device.revoked_at:%Y-%m-%d %H:%M}" if device.revoked_at else "",
        )
    Console().print(table)


def revoke(
    device_id: Annotated[str, typer.Argument(help="The device to revoke.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    broker_dir: BrokerDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a device: its token stops working and its events are rejected from now on.

    With --broker-dir it also leaves the broker's files; it is refused by the broker once the broker reloads.
    """
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        with database.session() as session:
            device = revoke_device(
                session=session, device_id=device_id, actor=SYSTEM_ACTOR, address=None, now=utc_now()
            )
        if broker_dir is not None:
            _rewrite_broker_files(database, broker_dir)
    finally:
        database.dispose()
    if json_output:
        typer.echo(device.model_dump_json(indent=2))
        return
    typer.echo(f"device {device.device_id} revoked at {device.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


def broker_config(
    out: Annotated[Path, typer.Option("--out", help="Folder for passwd, acl, mosquitto-vigil.conf and servers/.")],
    server_user: Annotated[
        list[str] | None,
        typer.Option(
            "--server-user",
            help="A command-centre server's broker user (repeat for several; one per `vigil serve` process). "
            "Added to those already in --out/servers/; default vigil-command.",
        ),
    ] = None,
    listener_port: Annotated[
        int | None,
        typer.Option(
            "--listener-port",
            min=1,
            max=65535,
            help="Port of the broker's listener for devices (default: as in the existing config lines, else 1883).",
        ),
    ] = None,
    listener_address: Annotated[
        str | None, typer.Option("--listener-address", help="Address it binds (default: every interface).")
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option("--tls-ca", help="TLS listener: the force's CA certificate (ca.crt of `vigil pki init`)."),
    ] = None,
    tls_certificate: Annotated[
        Path | None,
        typer.Option("--tls-certificate", help="TLS listener: the broker's certificate (`vigil pki server`)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="TLS listener: its key (readable by the broker's user).")
    ] = None,
    require_client_certificate: Annotated[
        bool,
        typer.Option(
            "--require-client-certificate",
            help="TLS listener: every client also presents a certificate from the CA (`vigil pki client`).",
        ),
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write the MQTT broker's password file and ACL: each live device its own topics, servers every device's.

    Also writes mosquitto-vigil.conf (when it is missing or a listener option is given): a listener with
    anonymous access off, client id = user name, and both files; with --tls-* a TLS listener (port 8883 unless
    given). Passwords are hashed in Mosquitto's $7$ format (PBKDF2-SHA512) by Vigil itself. Run it again after
    registering or revoking devices (or give those commands --broker-dir), then reload the broker.
    """
    tls = _listener_tls(tls_ca, tls_certificate, tls_key, require_certificate=require_client_certificate)
    listener = None
    if listener_port is not None or listener_address is not None or tls is not None:
        try:
            default_port = MQTTS_PORT if tls is not None else MQTT_PORT
            listener = Listener(port=listener_port or default_port, address=listener_address, tls=tls)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    with command_session(command_settings(db=db, data_dir=data_dir)) as session:
        written = write_broker_config(session=session, directory=out, server_users=server_user or [], listener=listener)
    opened = listener or (Listener() if written.config_written else None)
    if opened is not None and opened.tls is None and not (opened.address and is_loopback(opened.address)):
        typer.echo(
            f"warning: the listener on port {opened.port} is plaintext on {opened.address or 'every interface'}: "
            "device tokens and face crops would cross the network in clear. Give it --tls-ca, --tls-certificate "
            "and --tls-key (docs/deploy.md, Certificates and TLS)",
            err=True,
        )
    if json_output:
        typer.echo(written.model_dump_json(indent=2))
        return
    _report(written)


def _listener_tls(
    ca: Path | None, certificate: Path | None, key: Path | None, *, require_certificate: bool
) -> ListenerTls | None:
    """The listener's TLS from the options, or None for none of them.

    Raises:
        typer.BadParameter: some of the three files but not all, one that does not exist, or a client
            certificate required without TLS.
    """
    if ca is None and certificate is None and key is None:
        if require_certificate:
            raise typer.BadParameter("--require-client-certificate is for a TLS listener: give --tls-ca, … too")
        return None
    if ca is None or certificate is None or key is None:
        raise typer.BadParameter("a TLS listener needs --tls-ca, --tls-certificate and --tls-key, all three")
    for path in (ca, certificate, key):
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file (`vigil pki` makes the CA, certificate and key)")
    try:
        return ListenerTls(
            ca_file=ca, certificate_file=certificate, key_file=key, require_certificate=require_certificate
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _rewrite_broker_files(database: Database, directory: Path) -> None:
    with database.session() as session:
        written = write_broker_config(session=session, directory=directory)
    _report(written)


def _report(written: BrokerConfig) -> None:
    files = [written.password_file, written.acl_file, *([written.config_file] if written.config_written else [])]
    typer.echo(
        f"wrote {', '.join(map(str, files))}: {len(written.devices)} device(s), server user(s) "
        f"{', '.join(s.user for s in written.servers)}",
        err=True,
    )
    for server in written.servers:
        if server.created:
            typer.echo(f"new server user {server.user}: its password is in {server.secret_file}", err=True)
    typer.echo(
        f"servers share devices' events as the group in {written.share_group_file}: give it to every "
        "`vigil serve --bus-group-file`",
        err=True,
    )
    if written.without_credentials:
        typer.echo(
            f"left out (registered before broker credentials; register replacements): "
            f"{', '.join(written.without_credentials)}",
            err=True,
        )
    typer.echo("reload the broker to apply them: systemctl reload mosquitto (or kill -HUP its pid)", err=True)
