import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.mosquitto import free_port
from tests.support.small_disk import cannot_mount, small_disk
from vigil.cli.app import create_app
from vigil.events import AlertRaised, parse_event
from vigil.sim.patrol_scene import standard_patrol_scene


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    footage = standard_patrol_scene(testdata, fps=15, seconds=12, watchlist_people=("obama",), passers_by=("biden",))
    return footage.write_mp4(tmp_path_factory.mktemp("video") / "street.mp4")


@pytest.mark.parametrize("form", ["file", "package"])
def test_edge_run_offline_writes_the_events(tmp_path: Path, testdata: Path, street: Path, form: str) -> None:
    watchlist = tmp_path / "op.sqlite"
    assert _run("watchlist", "create", watchlist, "--name", "Op")[0] == 0
    photos = sorted((testdata / "identities" / "train" / "obama").iterdir())
    code, _, err = _run(
        "watchlist",
        "enrol",
        watchlist,
        *photos,
        "--id",
        "obama",
        "--name",
        "Barack Obama",
        "--category",
        "wanted_on_warrant",
        "--legal-basis",
        "Warrant 1",
        "--expires",
        "2099-01-01",
        "--proposed-by",
        "pc.a",
    )
    assert code == 0, err
    assert _run("watchlist", "approve", watchlist, "--id", "obama", "--by", "sgt.b")[0] == 0
    keys: list[object] = []
    if form == "package":
        _run("watchlist", "keys", "--signing-key", tmp_path / "cc.pem", "--verify-key", tmp_path / "cc.pub")
        _run("watchlist", "device-key", tmp_path / "cam.key")
        package = tmp_path / "cam.vwl"
        code, _, err = _run(
            "watchlist",
            "export",
            watchlist,
            "--out",
            package,
            "--device-id",
            "cam-1",
            "--device-key",
            tmp_path / "cam.key",
            "--signing-key",
            tmp_path / "cc.pem",
        )
        assert code == 0, err
        watchlist = package
        keys = ["--device-key", tmp_path / "cam.key", "--verify-key", tmp_path / "cc.pub"]
    events = tmp_path / "events.jsonl"
    screen = ["--screen", 0] if form == "package" else []  # the screen changes nothing else
    code, out, err = _run(
        "edge",
        "run",
        "--source",
        street,
        "--watchlist",
        watchlist,
        *keys,
        "--offline",
        "--fast",
        "--events-out",
        events,
        "--data-dir",
        tmp_path / "device",
        *screen,
        "--json",
    )
    assert code == 0, err
    assert ("handset screen at http://127.0.0.1:" in err) == bool(screen)
    report = json.loads(out)
    assert report["frames_read"] == report["frames_processed"] == 180
    assert report["alerts"] == 1
    assert report["tracks"] >= 2
    assert report["outbox_backlog"] >= 1  # offline: everything waits in the outbox
    emitted = [parse_event(line) for line in events.read_bytes().splitlines()]
    alerts = [e for e in emitted if isinstance(e, AlertRaised)]
    assert [a.subject_id for a in alerts] == ["obama"]
    assert "WATCHLIST ALERT" in err
    # The report lists the alert with its place in the video and the faces that backed it, as the event carries.
    (raised,) = report["raised"]
    assert raised["alert_id"] == str(alerts[0].alert_id)
    assert alerts[0].evidence is not None
    assert raised["evidence"] == alerts[0].evidence.model_dump(mode="json")
    assert raised["evidence"]["faces_searched"] >= len(raised["evidence"]["matched_qualities"]) >= 1
    assert raised["evidence"]["decided_frame"] < 180


def test_edge_run_needs_a_link_or_offline(tmp_path: Path, street: Path) -> None:
    code, _, err = _run("edge", "run", "--source", street, "--watchlist", tmp_path / "x.sqlite")
    assert code == 2
    assert "--offline" in err


def test_map_tiles_are_for_the_screen(tmp_path: Path, street: Path) -> None:
    code, _, err = _run(
        "edge", "run", "--source", street, "--watchlist", tmp_path / "x.sqlite", "--offline", "--map-tiles", "x"
    )
    assert code == 2
    assert "give --screen PORT too" in err


def test_edge_run_refuses_a_package_without_keys(tmp_path: Path, street: Path) -> None:
    package = tmp_path / "cam.vwl"
    package.write_bytes(b"VIGILWL\x01" + b"\x00" * 100)
    code, _, err = _run("edge", "run", "--source", street, "--watchlist", package, "--offline", "--data-dir", tmp_path)
    assert code == 1
    assert "is a device package: give --device-key and --verify-key" in err


def _local_watchlist(tmp_path: Path, testdata: Path) -> Path:
    watchlist = tmp_path / "op.sqlite"
    assert _run("watchlist", "create", watchlist, "--name", "Op")[0] == 0
    photos = sorted((testdata / "identities" / "train" / "obama").iterdir())
    enrol = ["--id", "obama", "--name", "Barack Obama", "--category", "wanted_on_warrant", "--legal-basis", "Warrant 1"]
    code, _, err = _run(
        "watchlist", "enrol", watchlist, *photos, *enrol, "--expires", "2099-01-01", "--proposed-by", "pc.a"
    )
    assert code == 0, err
    assert _run("watchlist", "approve", watchlist, "--id", "obama", "--by", "sgt.b")[0] == 0
    return watchlist


def test_edge_run_starts_and_records_with_the_broker_down(tmp_path: Path, testdata: Path, street: Path) -> None:
    watchlist = _local_watchlist(tmp_path, testdata)
    port = free_port()  # nothing listens here
    code, out, err = _run(
        "edge",
        "run",
        "--source",
        street,
        "--watchlist",
        watchlist,
        "--server",
        f"mqtt://127.0.0.1:{port}",
        "--fast",
        "--data-dir",
        tmp_path / "device",
        "--json",
    )
    assert code == 0, err
    assert f"the broker at 127.0.0.1:{port} cannot be reached yet: the agent runs and keeps trying" in err
    report = json.loads(out)
    assert report["alerts"] == 1
    assert report["outbox_backlog"] >= 1  # the alert, at least, waits for the broker
    assert (report["outbox_storage"], report["outbox_in_memory"]) == ("disk", 0)
    assert "Traceback" not in err


def test_edge_run_on_a_full_data_folder_starts_in_memory_and_says_so(
    tmp_path: Path, testdata: Path, street: Path
) -> None:
    reason = cannot_mount()
    if reason is not None:
        pytest.skip(reason)
    watchlist = _local_watchlist(tmp_path, testdata)
    try:
        disk = small_disk(tmp_path / "device", size_kib=256)
        mounted = disk.__enter__()
    except RuntimeError as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        mounted.fill()
        code, out, err = _run(
            "edge", "run", "--source", street, "--watchlist", watchlist, "--offline", "--fast",
            "--data-dir", mounted.path, "--json",
        )  # fmt: skip
    finally:
        disk.__exit__(None, None, None)
    assert code == 3, err  # what was only in memory is lost with the process, and the exit status says so
    assert "Traceback" not in err
    said = " ".join(err.split())
    assert "WARNING: the outbox cannot write to its storage: memory: storage full" in said
    report = json.loads(out)
    assert report["alerts"] == 1
    assert report["outbox_storage"].startswith("memory: storage full")
    assert report["outbox_in_memory"] == report["outbox_backlog"] == report["outbox_lost_at_exit"] >= 1
    assert f"error: {report['outbox_lost_at_exit']} events were only in memory when the agent stopped" in said


def test_edge_run_refuses_a_data_folder_it_cannot_create(tmp_path: Path, street: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "device"
    code, _, err = _run(
        "edge", "run", "--source", street, "--watchlist", tmp_path / "x.sqlite", "--offline", "--data-dir", data_dir
    )
    assert code == 1
    assert f"error: cannot create the data folder {data_dir}" in " ".join(err.split())
    assert "Traceback" not in err
