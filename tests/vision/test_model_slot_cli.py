"""`vigil models manifest-dlib` and `vigil models check`, and --model on the face commands."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.face_networks import arcface_like_manifest, arcface_like_network, link_demo_photos
from vigil.cli.app import create_app
from vigil.vision.face_model import cosine_to_distance
from vigil.vision.model_cache import OnnxModelBuild
from vigil.vision.model_slot import DLIB_SLOT_NAME


@pytest.fixture
def demo_folder(testdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose .vigil/demo/photos holds the demo's photos, as `vigil sim photos --fetch` leaves it."""
    monkeypatch.chdir(tmp_path)
    link_demo_photos(testdata, tmp_path / ".vigil" / "demo" / "photos")
    return tmp_path


def test_manifest_dlib_writes_a_model_folder_that_checks(onnx_model: OnnxModelBuild, demo_folder: Path) -> None:
    written = CliRunner().invoke(create_app(), ["models", "manifest-dlib", "dlib-model", "--json"])
    assert written.exit_code == 0, written.stderr
    report = json.loads(written.stdout)
    assert report["manifest"] == "dlib-model/manifest.json"
    assert report["file"] == f"dlib-model/{DLIB_SLOT_NAME}.onnx"
    assert (demo_folder / report["file"]).read_bytes() == onnx_model.path.read_bytes()

    checked = CliRunner().invoke(create_app(), ["models", "check", report["manifest"], "--json"])
    assert checked.exit_code == 0, checked.stderr
    check = json.loads(checked.stdout)
    assert check["model_id"] == report["model_id"]
    assert (check["input_shape"], check["output_shape"]) == (["n", 150, 150, 3], ["n", 128])
    assert "CPUExecutionProvider" in check["providers"]
    pairs = check["check"]["pairs"]
    assert [(p["first"], p["second"], p["same_person"]) for p in pairs] == [
        ("biden/biden.jpg", "obama/obama.jpg", False),
        ("biden/biden.jpg", "obama/obama2.jpg", False),
        ("biden/biden.jpg", "obama/obama3.jpg", False),
        ("obama/obama.jpg", "obama/obama2.jpg", True),
        ("obama/obama.jpg", "obama/obama3.jpg", True),
        ("obama/obama2.jpg", "obama/obama3.jpg", True),
    ]
    assert all((p["distance"] <= 0.6) is p["same_person"] for p in pairs)


@pytest.mark.parametrize(
    ("threshold", "photos", "reason"),
    [
        (0.6, "no-photos", "no check photos at"),
        (0.99, ".vigil/demo/photos", "calls obama/obama2.jpg and obama/obama3.jpg different people"),
    ],
)
def test_check_refuses_a_model_with_its_reason(
    onnx_model: OnnxModelBuild, demo_folder: Path, threshold: float, photos: str, reason: str
) -> None:
    network = arcface_like_network(onnx_model.path, demo_folder / "arcface_like.onnx")
    manifest = arcface_like_manifest(network, threshold=threshold)
    result = CliRunner().invoke(create_app(), ["models", "check", str(manifest), "--check-photos", photos])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert reason in result.stderr


@pytest.mark.parametrize(("second", "same"), [("obama2.jpg", True), ("biden.jpg", False)])
def test_verify_with_a_model_decides_by_its_manifests_threshold(
    onnx_model: OnnxModelBuild, demo_folder: Path, testdata: Path, second: str, same: bool
) -> None:
    manifest = arcface_like_manifest(arcface_like_network(onnx_model.path, demo_folder / "arcface_like.onnx"))
    photos = [str(testdata / "faces" / "obama.jpg"), str(testdata / "faces" / second)]
    result = CliRunner().invoke(create_app(), ["verify", *photos, "--model", str(manifest), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threshold"] == pytest.approx(cosine_to_distance(0.6))
    assert report["same"] is same
