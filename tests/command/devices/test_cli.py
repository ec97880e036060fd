"""``vigil devices register --osmand`` and ``vigil devices osmand-secret``: a phone's secret, shown once."""

import hashlib
import json

from sqlalchemy import select
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.command.database import Database
from vigil.command.devices.models import Device


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_phone_is_registered_with_an_osmand_secret_stored_only_as_its_hash(
    database_url: str, database: Database
) -> None:
    register = ["devices", "register", "--db", database_url, "--unit-id", "A-12"]
    code, out, err = _run(*register, "--device-id", "phone-1", "--osmand")
    token, secret = out.split()
    assert code == 0
    assert f"server URL to http://127.0.0.1:8000/osmand/{secret}" in err
    code, out, _ = _run(*register, "--device-id", "cam-1", "--json")
    assert (code, json.loads(out)["osmand_secret"], json.loads(out)["device"]["osmand"]) == (0, None, False)

    code, out, _ = _run("devices", "osmand-secret", "phone-1", "--db", database_url, "--json")
    issued = json.loads(out)
    assert (code, issued["device"]["osmand"]) == (0, True)
    assert issued["osmand_secret"] not in (secret, token)
    with database.session() as session:
        stored = {row[0]: row[1] for row in session.execute(select(Device.device_id, Device.osmand_secret_sha256))}
    assert stored == {"phone-1": hashlib.sha256(issued["osmand_secret"].encode()).hexdigest(), "cam-1": None}

    code, out, _ = _run("devices", "list", "--db", database_url)
    assert (code, "OsmAnd" in out) == (0, True)
    code, _, err = _run("devices", "osmand-secret", "nobody", "--db", database_url)
    assert (code, err.strip()) == (1, "error: no device 'nobody' is registered")
