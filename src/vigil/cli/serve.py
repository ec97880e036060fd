"""``vigil serve`` (the command-centre server) and ``vigil devices`` (register, list, revoke body cameras)."""

import logging
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.edge import broker_settings
from vigil.cli.faces import JsonOption
from vigil.command.app import create_app, init_database
from vigil.command.devices.service import list_devices, register_device, revoke_device
from vigil.command.settings import BusSettings, CommandSettings, MemoryBusSettings
from vigil.command.units.models import UnitKind
from vigil.events import utc_now

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DB (default: in --data-dir)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database lives (default .vigil/command).")
]


def register_server_commands(app: typer.Typer) -> None:
    """Add ``vigil serve`` and the ``vigil devices`` group to the ``vigil`` command."""
    app.command("serve")(exits_on_vigil_error(serve))
    devices = typer.Typer(help="Body cameras registered with the command centre.", no_args_is_help=True)
    devices.command("register")(exits_on_vigil_error(register))
    devices.command("list")(exits_on_vigil_error(list_registered))
    devices.command("revoke")(exits_on_vigil_error(revoke))
    app.add_typer(devices, name="devices")


def command_settings(*, db: str | None, data_dir: Path | None, **overrides: Any) -> CommandSettings:
    """Settings from the environment (``VIGIL_…``), overridden by the options that were given."""
    given = {"database_url": db, "data_dir": data_dir, **overrides}
    return CommandSettings(**{key: value for key, value in given.items() if value is not None})


def bus_settings(spec: str) -> BusSettings:
    """Bus settings from ``memory`` or ``mqtt://[user[:password]@]host[:port]``.

    Raises:
        typer.BadParameter: neither.
    """
    if spec == "memory":
        return MemoryBusSettings()
    # One stable client id per host: the broker keeps this server's session (and queued events) across restarts.
    return broker_settings(spec, client_id=f"vigil-command-{socket.gethostname()}"[:128])


def serve(
    db: DbOption = None,
    bus: Annotated[
        str | None, typer.Option("--bus", help="mqtt://host:port, or memory; none: events over HTTP only.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (default 8000).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the command-centre server: HTTP API, OsmAnd positions and, with --bus, devices' events over MQTT."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = command_settings(
        db=db, data_dir=data_dir, bus=bus_settings(bus) if bus is not None else None, host=host, port=port
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


def register(
    device_id: Annotated[str, typer.Option("--device-id", help="The device's id (letters, digits, . _ -).")],
    unit_id: Annotated[str, typer.Option("--unit-id", help="The unit it serves; created if new.")],
    call_sign: Annotated[str | None, typer.Option("--call-sign", help="The unit's call sign.")] = None,
    radio_id: Annotated[str | None, typer.Option("--radio-id", help="The unit's radio id.")] = None,
    kind: Annotated[UnitKind | None, typer.Option("--kind", help="How the unit moves.")] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a device to a unit and print its token (shown this once; only its hash is stored)."""
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        with database.session() as session:
            registration = register_device(
                session=session,
                device_id=device_id,
                unit_id=unit_id,
                call_sign=call_sign,
                radio_id=radio_id,
                kind=kind,
                now=utc_now(),
            )
    finally:
        database.dispose()
    if json_output:
        typer.echo(registration.model_dump_json(indent=2))
        return
    typer.echo(f"device {device_id} registered to unit {unit_id}; its token (shown once):", err=True)
    typer.echo(registration.token.get_secret_value())


def list_registered(db: DbOption = None, data_dir: DataDirOption = None, json_output: JsonOption = False) -> None:
    """List the registered devices, revoked ones included."""
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        with database.session() as session:
            devices = list_devices(session=session)
    finally:
        database.dispose()
    if json_output:
        typer.echo(devices.model_dump_json(indent=2))
        return
    table = Table("device", "unit", "registered", "last seen", "battery %", "revoked")
    for device in devices.devices:
        table.add_row(
            device.device_id,
            device.unit_id,
            f"{device.created_at:%Y-%m-%d %H:%M}",
            f"{device.last_seen_at:%Y-%m-%d %H:%M:%S}" if device.last_seen_at else "never",
            f"{device.battery_pct:.0f}" if device.battery_pct is not None else "",
            f"{device.revoked_at:%Y-%m-%d %H:%M}" if device.revoked_at else "",
        )
    Console().print(table)


def revoke(
    device_id: Annotated[str, typer.Argument(help="The device to revoke.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a device: its token stops working and its events are rejected from now on."""
    database = init_database(command_settings(db=db, data_dir=data_dir))
    try:
        with database.session() as session:
            device = revoke_device(session=session, device_id=device_id, now=utc_now())
    finally:
        database.dispose()
    if json_output:
        typer.echo(device.model_dump_json(indent=2))
        return
    typer.echo(f"device {device.device_id} revoked at {device.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
