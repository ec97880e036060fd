import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.vision.model_cache import OnnxModelBuild
from vigil.vision.model_slot import read_manifest, write_dlib_manifest
from vigil.watchlist.operating_point import table_for_manifest

PEOPLE = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    path = tmp_path_factory.mktemp("cli") / "op.sqlite"
    assert _run("watchlist", "create", path, "--name", "Operation Test")[0] == 0
    for person in PEOPLE:
        photos = sorted((testdata / "identities" / "train" / person).iterdir())
        code, _, err = _run(
            "watchlist",
            "enrol",
            path,
            *photos,
            "--id",
            person,
            "--name",
            person.replace("_", " ").title(),
            "--category",
            "wanted_on_warrant",
            "--legal-basis",
            "Warrant 2026/17",
            "--expires",
            "2099-12-31",
            "--proposed-by",
            "pc.smith",
        )
        assert code == 0, err
        code, _, err = _run("watchlist", "approve", path, "--id", person, "--by", "sgt.jones")
        assert code == 0, err
    return path


def test_list_shows_every_subject_live(watchlist: Path) -> None:
    code, out, _ = _run("watchlist", "list", watchlist, "--json")
    assert code == 0
    listing = json.loads(out)
    assert [row["subject"]["subject_id"] for row in listing["subjects"]] == PEOPLE
    assert {row["status"] for row in listing["subjects"]} == {"live"}
    assert [row["templates"] for row in listing["subjects"]] == [1, 2, 2, 2, 2]
    assert listing["version"] == 1 + 2 * len(PEOPLE)


def test_identify_names_both_people_in_a_group_photo(watchlist: Path, testdata: Path) -> None:
    code, out, err = _run(
        "identify", testdata / "identities" / "test" / "obama_and_biden.jpg", "--watchlist", watchlist, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    matched = sorted(face["match"]["subject_id"] for face in report["faces"] if face["match"])
    assert matched == ["biden", "obama"]
    assert all(face["match"]["distance"] <= report["threshold"] for face in report["faces"] if face["match"])
    assert len(report["faces"]) == 3  # a third person stands in the photo and matches nobody


def test_identify_table_for_people(watchlist: Path, testdata: Path) -> None:
    code, out, _ = _run("identify", testdata / "identities" / "test" / "kit_with_rose.jpg", "--watchlist", watchlist)
    assert code == 0
    assert "Kit Harington" in out
    assert "Rose Leslie" in out


def test_enrolment_refusals_give_the_reason(tmp_path: Path, testdata: Path) -> None:
    path = tmp_path / "w.sqlite"
    _run("watchlist", "create", path, "--name", "Op")
    common = [
        "--id",
        "x",
        "--name",
        "X",
        "--category",
        "missing_person",
        "--legal-basis",
        "Order 1",
        "--expires",
        "2099-01-01",
    ]
    code, _, err = _run("watchlist", "enrol", path, testdata / "faces" / "two_people.jpg", *common)
    assert code == 1
    assert "2 faces found; give a box" in err
    code, _, err = _run("watchlist", "enrol", path, testdata / "detection" / "training.xml", *common)
    assert code == 1
    assert "not a JPEG, PNG or WebP" in err
    code, _, err = _run(
        "watchlist", "enrol", path, testdata / "faces" / "two_people.jpg", *common, "--box", "100,100,300,300"
    )
    assert code == 1
    assert "no face found inside the given box" in err
    code, _, err = _run("watchlist", "enrol", path, testdata / "faces" / "obama.jpg", *common, "--proposed-by", "pc.a")
    assert code == 0, err
    code, _, err = _run("watchlist", "approve", path, "--id", "x", "--by", "pc.a")
    assert code == 1
    assert "cannot also approve it" in err


def test_export_then_inspect_as_the_device(watchlist: Path, tmp_path: Path) -> None:
    assert _run("watchlist", "keys", "--signing-key", tmp_path / "cc.pem", "--verify-key", tmp_path / "cc.pub")[0] == 0
    assert _run("watchlist", "device-key", tmp_path / "cam7.key")[0] == 0
    package = tmp_path / "cam7.vwl"
    code, out, err = _run(
        "watchlist",
        "export",
        watchlist,
        "--out",
        package,
        "--device-id",
        "cam-7",
        "--device-key",
        tmp_path / "cam7.key",
        "--signing-key",
        tmp_path / "cc.pem",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["header"]["subjects"] == 5
    code, out, err = _run(
        "watchlist",
        "inspect",
        package,
        "--verify-key",
        tmp_path / "cc.pub",
        "--device-key",
        tmp_path / "cam7.key",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["subject_ids"] == PEOPLE
    assert _run("watchlist", "device-key", tmp_path / "other.key")[0] == 0
    code, _, err = _run(
        "watchlist", "inspect", package, "--verify-key", tmp_path / "cc.pub", "--device-key", tmp_path / "other.key"
    )
    assert code == 1
    assert "encrypted for another key" in err


def test_calibrate_stores_the_threshold(watchlist: Path, testdata: Path, tmp_path: Path) -> None:
    watchlist = Path(shutil.copy(watchlist, tmp_path / "copy.sqlite"))
    code, out, err = _run(
        "calibrate",
        "--identities",
        testdata / "identities" / "train",
        "--watchlist-size",
        "1000",
        "--store",
        watchlist,
        "--json",
    )
    assert code == 0, err
    output = json.loads(out)
    # Five people are far too few to list 1,000 of them: the size is extrapolated from their pairs, and says so.
    assert output["measured"] is None
    (report,) = output["extrapolated"]
    assert report["watchlist_size"] == 1000
    assert report["method"] == "normal_fit"
    assert 0.2 < report["threshold"] < 0.6
    code, out, _ = _run("watchlist", "list", watchlist, "--json")
    listing = json.loads(out)
    assert listing["threshold"] == pytest.approx(report["threshold"])
    assert listing["threshold_by_size"] is False


@pytest.mark.slow
def test_calibrate_measures_each_size_on_enough_labelled_people(testdata: Path, tmp_path: Path) -> None:
    """120 LFW people (links, not copies): a watchlist of 10 or 50 leaves enough of them to pass by."""
    people = tmp_path / "people"
    people.mkdir()
    for person in sorted((testdata / "lfw" / "images").iterdir())[:120]:
        (people / person.name).symlink_to(person, target_is_directory=True)
    code, out, err = _run(
        "calibrate", "--identities", people, "--watchlist-size", "10", "--watchlist-size", "50", "--json"
    )
    assert code == 0, err
    output = json.loads(out)
    assert output["extrapolated"] == []
    measured = output["measured"]
    assert measured["identities"] >= 110
    assert [size["watchlist_size"] for size in measured["sizes"]] == [10, 50]
    small, large = (size["operating_point"] for size in measured["sizes"])
    assert large["threshold"] <= small["threshold"]  # more people listed: a stricter threshold for the same rate
    assert small["false_alerts_per_10k_low"] <= small["false_alerts_per_10k"] <= small["false_alerts_per_10k_high"]
    table_code, table, _ = _run("calibrate", "--identities", people, "--watchlist-size", "10")
    assert table_code == 0
    assert "Measured on" in table


@pytest.mark.slow
def test_calibrate_measures_fused_photos_from_a_kept_embeddings_cache(testdata: Path, tmp_path: Path) -> None:
    """120 LFW people embedded once: the cache is reused while the photos are the same, and refused once not."""
    people = tmp_path / "people"
    people.mkdir()
    lfw = sorted((testdata / "lfw" / "images").iterdir())
    for person in lfw[:120]:
        (people / person.name).symlink_to(person, target_is_directory=True)
    cache = tmp_path / "faces.cache"
    asked = ("calibrate", "--identities", people, "--watchlist-size", "10", "--embeddings-cache", cache)
    fused = ("--enrol-photos", "2", "--probe-frames", "2", "--true-match-rate", "0.5", "--json")
    code, out, err = _run(*asked, *fused)
    assert code == 0, err
    assert cache.exists()
    measured = json.loads(out)["measured"]
    assert (measured["enrol_photos"], measured["probe_frames"], measured["quality_weighted"]) == (2, 2, True)
    (size,) = measured["sizes"]
    (at_half,) = size["at_true_match_rates"]
    assert at_half["true_match_rate"] >= 0.5
    single_code, single, _ = _run(*asked, "--json")
    assert single_code == 0
    assert json.loads(single)["measured"]["sizes"][0]["mated_searches"] > size["mated_searches"]
    again_code, again, _ = _run(*asked, *fused)
    assert again_code == 0
    assert json.loads(again) == json.loads(out)
    (people / lfw[120].name).symlink_to(lfw[120], target_is_directory=True)
    code, _, err = _run(*asked, *fused)
    assert code == 1
    assert "another listing" in err


def test_calibrate_refuses_fused_photos_on_too_few_people_to_measure(testdata: Path) -> None:
    code, _, err = _run(
        "calibrate",
        "--identities",
        testdata / "identities" / "train",
        "--watchlist-size",
        "1000",
        "--enrol-photos",
        "2",
    )
    assert code == 1
    assert "fused photos are measured directly only" in err
    code, _, err = _run(
        "calibrate",
        "--pairs",
        testdata / "lfw" / "pairs_folds3-10.csv",
        "--watchlist-size",
        "10",
        "--probe-frames",
        "2",
    )
    assert code == 1
    assert "need --identities DIR" in err


def test_an_invalid_field_is_a_usage_error_not_a_traceback(tmp_path: Path, testdata: Path) -> None:
    path = tmp_path / "w.sqlite"
    _run("watchlist", "create", path, "--name", "Op")
    code, _, err = _run(
        "watchlist",
        "enrol",
        path,
        testdata / "faces" / "obama.jpg",
        "--id",
        "x",
        "--name",
        "X",
        "--category",
        "missing_person",
        "--legal-basis",
        "W1",
        "--expires",
        "2099-01-01",
    )
    assert code == 2
    assert "error: legal_basis: String should have at least 3 characters" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_calibrate_writes_a_force_networks_thresholds_into_its_manifest(
    testdata: Path, tmp_path: Path, onnx_model: OnnxModelBuild
) -> None:
    """A network brought through the slot is measured on labelled people and runs at its own thresholds after."""
    people = tmp_path / "people"
    people.mkdir()
    for person in sorted((testdata / "lfw" / "images").iterdir())[:80]:
        (people / person.name).symlink_to(person, target_is_directory=True)
    manifest = write_dlib_manifest(onnx_model=onnx_model.path, out_dir=tmp_path / "model")
    before = read_manifest(manifest)
    assert table_for_manifest(before).calibrated is False
    code, out, err = _run(
        "calibrate",
        "--identities",
        people,
        "--watchlist-size",
        "10",
        "--watchlist-size",
        "25",
        "--model",
        manifest,
        "--save-operating-points",
        "--json",
    )  # the network is checked on the demo's photos, fetched by scripts/setup
    assert code == 0, err
    measured = json.loads(out)["measured"]["sizes"]
    after = read_manifest(manifest)
    assert [(p.watchlist_size, p.threshold) for p in after.operating_points] == [
        (size["watchlist_size"], size["operating_point"]["threshold"]) for size in measured
    ]
    assert after.model_copy(update={"operating_points": ()}) == before
    table = table_for_manifest(after)
    assert table.calibrated
    assert table.threshold_for_size(25) == after.operating_points[1].threshold
    refused, _, refusal = _run("calibrate", "--identities", people, "--watchlist-size", "10", "--save-operating-points")
    assert refused == 1
    assert "give --model MANIFEST" in refusal
