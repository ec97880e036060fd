import csv
import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.vision.models import DLIB_FACE_RECOGNITION


def _vigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from vigil.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [("obama.jpg", "obama2.jpg", True), ("obama.jpg", "biden.jpg", False)],
)
def test_verify_json(testdata: Path, first: str, second: str, same: bool) -> None:
    result = _vigil("verify", str(testdata / "faces" / first), str(testdata / "faces" / second), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same"] is same
    assert report["threshold"] == 0.6
    assert (report["distance"] <= 0.6) is same
    assert report["first"]["faces_found"] == 1


def test_verify_without_a_face_fails_cleanly(testdata: Path, tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 90, dtype=np.uint8)).save(blank)
    result = _vigil("verify", str(testdata / "faces" / "obama.jpg"), str(blank))
    assert result.returncode == 1
    assert "wall.png: no face found" in result.stderr
    assert "Traceback" not in result.stderr


def test_detect_reports_each_image_and_flags_unreadable_ones(testdata: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((testdata / "faces" / "obama.jpg").read_bytes()[:2000])
    result = CliRunner().invoke(
        create_app(), ["detect", str(testdata / "faces" / "two_people.jpg"), str(broken), "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["detector"] == "hog"
    good, bad = report["images"]
    assert len(good["faces"]) == 2
    assert [p["name"] for p in good["faces"][0]["quality"]["parts"]][:2] == ["face_size", "sharpness"]
    assert bad["faces"] == []
    assert "damaged or cut short" in bad["error"]


def test_detect_table_for_people(testdata: Path) -> None:
    result = CliRunner().invoke(create_app(), ["detect", str(testdata / "faces" / "obama.jpg")])
    assert result.exit_code == 0
    assert "obama.jpg" in result.stdout
    assert "ok" in result.stdout


def _identity_photos(testdata: Path) -> list[tuple[Path, str]]:
    photos = [(p, p.parent.name) for p in sorted((testdata / "identities" / "train").glob("*/*"))]
    test_names = {"alex_lacamoire1.jpg": "alex_lacamoire", "johnsnow_test1.jpg": "kit_harington", "obama1.jpg": "obama"}
    photos += [(testdata / "identities" / "test" / name, person) for name, person in test_names.items()]
    return photos


def _write_identity_pairs(testdata: Path, tmp_path: Path) -> Path:
    """Every pair of identity photos, labelled, plus a pair with a blank image and one with a missing file."""
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((100, 100, 3), dtype=np.uint8)).save(blank)
    pairs_file = tmp_path / "pairs.csv"
    with pairs_file.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file_x", "file_y", "Decision"])
        for (a, person_a), (b, person_b) in combinations(_identity_photos(testdata), 2):
            writer.writerow([a.relative_to(testdata), b.relative_to(testdata), "Yes" if person_a == person_b else "No"])
        writer.writerow([blank, "faces/obama.jpg", "No"])
        writer.writerow(["faces/missing.jpg", "faces/obama.jpg", "Yes"])
    return pairs_file


def test_evaluate_on_the_test_identities(testdata: Path, tmp_path: Path) -> None:
    photos = _identity_photos(testdata)
    pairs_file = _write_identity_pairs(testdata, tmp_path)
    result = CliRunner().invoke(
        create_app(), ["evaluate", "pairs", "--pairs", str(pairs_file), "--images", str(testdata), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    total = len(photos) * (len(photos) - 1) // 2
    assert report["pairs"] == total + 2
    assert report["genuine"] + report["impostor"] == total
    assert report["genuine"] == 9  # obama 3 photos: 3, biden 1, kit 3, rose 1, alex 1
    assert report["tar_at_far"]["0"] == 1.0
    assert report["eer"] == 0.0
    assert report["accuracy_at_default_threshold"] == 1.0
    failed = {(Path(f["first"]).name, Path(f["second"]).name): f["reason"] for f in report["failed"]}
    assert failed.keys() == {("blank.png", "obama.jpg"), ("missing.jpg", "obama.jpg")}
    assert "no face found" in failed[("blank.png", "obama.jpg")]
    assert "not found" in failed[("missing.jpg", "obama.jpg")]
    assert "threshold_at_far_0.001" in report
    # 57 impostor pairs cannot show a FAR of 0.01 or 0.001: the report says so.
    assert [w.split(" rests on")[0] for w in report["warnings"]] == ["TAR at FAR 0.001", "TAR at FAR 0.01"]
    assert report["details"] is None


def test_evaluate_lists_every_pair_with_its_distance_and_verdict(testdata: Path, tmp_path: Path) -> None:
    pairs_file = _write_identity_pairs(testdata, tmp_path)
    arguments = ["evaluate", "pairs", "--pairs", str(pairs_file), "--images", str(testdata), "--details"]
    arguments += ["--threshold", "0.3"]
    result = CliRunner().invoke(create_app(), [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    details = report["details"]
    assert len(details) == report["genuine"] + report["impostor"]
    for pair in details:
        assert pair["accepted"] == (pair["distance"] <= 0.3)
        assert pair["correct"] == (pair["accepted"] == pair["same"])
    # At 0.3 some same-person pairs are refused: they are listed as wrong.
    wrong = [pair for pair in details if not pair["correct"]]
    assert wrong
    assert all(pair["same"] for pair in wrong)
    table = CliRunner().invoke(create_app(), arguments)
    assert table.exit_code == 0, table.output
    assert "wrong" in table.stdout


def test_evaluate_gives_the_same_results_with_either_embedder(testdata: Path, tmp_path: Path) -> None:
    pairs_file = _write_identity_pairs(testdata, tmp_path)
    reports = {}
    for embedder in ("dlib", "onnx"):
        result = CliRunner().invoke(
            create_app(),
            [
                "evaluate",
                "pairs",
                "--pairs",
                str(pairs_file),
                "--images",
                str(testdata),
                "--embedder",
                embedder,
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        reports[embedder] = json.loads(result.stdout)
    dlib, onnx = reports["dlib"], reports["onnx"]
    # Thresholds are distances, equal to float precision (1e-6); every count, rate and failure is identical.
    thresholds = [key for key in dlib if "threshold" in key and key != "default_threshold"]
    assert thresholds
    for key in thresholds:
        ours, theirs = onnx.pop(key), dlib.pop(key)
        assert _flat(ours) == pytest.approx(_flat(theirs), abs=1e-5), key
    assert onnx == dlib


def _flat(value: object) -> list[float | None]:
    """A threshold field as a list: a number, null, or a dict of them by FAR target."""
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    assert value is None or isinstance(value, float)
    return [value]


def test_verify_with_the_dlib_embedder(testdata: Path) -> None:
    result = _vigil(
        "verify", str(testdata / "faces" / "obama.jpg"), str(testdata / "faces" / "obama2.jpg"), "--embedder", "dlib"
    )
    assert result.returncode == 0, result.stderr
    assert "same person" in result.stdout


def test_models_build_reports_the_cached_model(model_cache: Path) -> None:
    result = _vigil("models", "build", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["path"]).parent == model_cache
    assert report["source_sha256"] == DLIB_FACE_RECOGNITION.sha256


def test_models_build_converts_and_verifies_into_a_new_cache(tmp_path: Path) -> None:
    no_faces = tmp_path / "photos"
    (no_faces / "faces").mkdir(parents=True)
    cache = tmp_path / "cache"
    result = _vigil("models", "build", "--cache-dir", str(cache), "--testdata", str(no_faces), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["built"] is True
    assert Path(report["path"]).is_file()
    assert Path(report["path"]).parent == cache
    verification = report["verification"]
    assert (verification["synthetic_chips"], verification["face_chips"]) == (16, 0)
    assert verification["result"]["min_cosine"] >= 0.9999
    assert verification["result"]["decisions_changed"] == 0


def test_models_build_with_missing_test_photos_fails_cleanly(tmp_path: Path) -> None:
    result = _vigil("models", "build", "--cache-dir", str(tmp_path), "--testdata", str(tmp_path / "nowhere"), "--force")
    assert result.returncode == 1
    assert "no test photos at" in result.stderr
    assert "Traceback" not in result.stderr
