"""``vigil devices`` and ``vigil serve`` as an operator runs them."""

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.command.events import position
from tests.support.served import vigil_serve
from vigil.cli.app import create_app
from vigil.cli.governance import version_thresholds_table
from vigil.command.report.schemas import Figures, VersionRow
from vigil.command.watchlists.models import ThresholdBasis
from vigil.events import encode_event
from vigil.vision.face_model import DLIB_MODEL_ID


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_devices_are_registered_listed_and_revoked(database_url: str) -> None:
    register = ["devices", "register", "--db", database_url]
    code, out, _ = _run(*register, "--device-id", "cam-1", "--unit-id", "A-12", "--kind", "car", "--json")
    registration = json.loads(out)
    assert code == 0
    assert registration["device"]["unit_id"] == "A-12"
    assert registration["token"].startswith("cam-1.")

    code, out, err = _run(*register, "--device-id", "cam-2", "--unit-id", "A-12")
    assert (code, out.count("\n"), "its token (shown once)" in err) == (0, 1, True)

    code, out, err = _run(*register, "--device-id", "cam-1", "--unit-id", "B-7")
    assert (code, err.strip()) == (
        1,
        "error: device 'cam-1' is already registered to unit A-12; register the replacement under a new device id",
    )

    code, out, _ = _run("devices", "revoke", "cam-1", "--db", database_url, "--json")
    assert (code, json.loads(out)["revoked_at"] is not None) == (0, True)

    code, out, _ = _run("devices", "list", "--db", database_url, "--json")
    listed = json.loads(out)["devices"]
    assert [(d["device_id"], d["revoked_at"] is None) for d in listed] == [("cam-1", False), ("cam-2", True)]

    code, out, _ = _run("devices", "list", "--db", database_url)
    assert (code, "cam-2" in out, "never" in out) == (0, True, True)


def test_vigil_serve_takes_a_devices_events(tmp_path: Path) -> None:
    code, out, _ = _run("devices", "register", "--device-id", "cam-1", "--unit-id", "A-12", "--data-dir", str(tmp_path))
    assert code == 0
    token = out.strip()
    (tmp_path / "password").write_text("correct horse battery staple\n")
    create = ["users", "create", "--username", "op-1", "--display-name", "Op", "--role", "operator"]
    code, out, err = _run(*create, "--password-file", str(tmp_path / "password"), "--data-dir", str(tmp_path))
    assert (code, out, err.strip()) == (0, "", "user op-1 created with roles operator")
    with vigil_serve("--data-dir", str(tmp_path), "--bus", "memory") as served:
        url = served.url
        login = {"username": "op-1", "password": "correct horse battery staple", "delivery": "bearer"}
        operator = httpx.post(f"{url}/api/v1/auth/login", json=login).json()["token"]
        event = position()
        response = httpx.post(
            f"{url}/api/v1/events", content=encode_event(event), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["committed"] == [str(event.id)]
        units = httpx.get(f"{url}/api/v1/units", headers={"Authorization": f"Bearer {operator}"}).json()["units"]
        assert units[0]["position"]["lat"] == event.lat
    assert "command.startup_step" in served.output


def test_retention_report_and_package_keys_from_the_command_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrap = tmp_path / "wrap.key"
    assert _run("watchlist", "device-key", str(wrap))[0] == 0
    _run("devices", "register", "--db", database_url, "--device-id", "cam-7", "--unit-id", "B-2")
    os.environ["VIGIL_WATCHLISTS__KEY_WRAP_FILE"] = str(wrap)
    try:
        code, out, err = _run(
            "devices", "package-key", "cam-7", "--out", str(tmp_path / "cam7.key"), "--db", database_url
        )
        again = _run("devices", "package-key", "cam-7", "--out", str(tmp_path / "again.key"), "--db", database_url)
    finally:
        del os.environ["VIGIL_WATCHLISTS__KEY_WRAP_FILE"]
    assert (code, len((tmp_path / "cam7.key").read_text().strip()), "written to" in err) == (0, 64, True)
    assert (tmp_path / "cam7.key").stat().st_mode & 0o777 == 0o600
    assert (again[0], "pass --replace" in again[2], (tmp_path / "again.key").exists()) == (1, True, False)

    code, out, _ = _run("retention", "run", "--db", database_url, "--json")
    assert (code, json.loads(out)["dismissed_probes_deleted"], json.loads(out)["actor"].startswith("cli:")) == (
        0,
        [],
        True,
    )

    period = ["--from", "2025-01-01", "--to", "2025-02-01", "--db", database_url]
    code, out, _ = _run("report", *period, "--json")
    assert (code, json.loads(out)["totals"]["alerts"], json.loads(out)["period_from"]) == (0, 0, "2025-01-01T00:00:00Z")
    code, _, err = _run("report", *period, "--html", "--out", str(tmp_path / "report.html"))
    assert (code, (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")) == (0, True)
    code, _, err = _run("report", "--from", "2025-02-01", "--to", "2025-01-01", "--db", database_url)
    assert (code, err.strip()) == (
        1,
        "error: the period ends (2025-01-01T00:00:00+00:00) before it starts (2025-02-01T00:00:00+00:00)",
    )


def test_the_plain_report_prints_each_versions_threshold_and_why() -> None:
    versions = [
        VersionRow(
            version=7,
            watchlist_id=uuid.uuid4(),
            watchlist_name="Op Ferry",
            subjects=100,
            model=DLIB_MODEL_ID,
            threshold=0.45,
            size_threshold=0.3827,
            threshold_basis=ThresholdBasis.LOOSER,
            looser_threshold_reason="a missing child: finding her outweighs more false alerts",
            expected="At 100 people this threshold expects at most …",
            figures=Figures.of(faces=10, confirmed=0, dismissed=0, pending=0),
        )
    ]
    console = Console(record=True, width=400)
    console.print(version_thresholds_table(versions))
    text = console.export_text()
    assert DLIB_MODEL_ID in text
    assert "0.4500" in text
    assert "0.3827" in text
    assert "LOOSER than by size: a missing child: finding her outweighs more false alerts" in text
