"""``vigil sim photos`` and ``vigil sim streets`` (``vigil sim load`` is in test_load.py)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.dispatch.road_network import load_road_network
from vigil.sim.city import City
from vigil.sim.london import central_london


def test_photos_lists_the_roles_as_one_json_document(testdata: Path) -> None:
    train = testdata / "identities" / "train"
    result = CliRunner().invoke(
        create_app(), ["sim", "photos", "--photos", str(train), "--subject", "obama", "--subject", "biden", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["subjects"]["obama"] == {
        "enrolment_photos": [str(train / "obama" / "obama.jpg")],
        "scene_photo": str(train / "obama" / "obama2.jpg"),
    }
    assert sorted(report["public"]) == ["alex_lacamoire", "kit_harington", "rose_leslie"]


def test_photos_without_photos_says_how_to_fetch_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(create_app(), ["sim", "photos", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert "run ./scripts/setup" in result.stderr
    assert result.stdout == ""


def test_streets_writes_the_file_dispatch_reads(tmp_path: Path) -> None:
    out = tmp_path / "london.geojson"
    result = CliRunner().invoke(create_app(), ["sim", "streets", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    network = load_road_network(out)
    assert network.lat_deg.size == report["junctions"] == len(City(central_london()).junctions())
    assert report["streets"] == len(central_london().streets)
