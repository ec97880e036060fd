import dataclasses
import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.runner import load_watchlist
from vigil.edge.watchlist_update import WatchlistFetchFailed, WatchlistUpdater, loaded_from_package
from vigil.events import WatchlistAvailable, utc_now
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.watchlist.errors import ModelMismatch, PackageOutdated, PackageSignatureInvalid
from vigil.watchlist.keys import create_signing_key, load_signing_key
from vigil.watchlist.operating_point import DLIB_TABLE, table_for
from vigil.watchlist.package import export_package, open_package
from vigil.watchlist.store import WatchlistEntry, WatchlistStore

SIGNING_KEY = Ed25519PrivateKey.generate()
DEVICE_KEY = bytes(range(32))
OTHER_MODEL = "arcface_r100:1:0123456789ab"
OTHER_TABLE = table_for(OTHER_MODEL, distance_threshold=0.9)


def _of_model(entry: WatchlistEntry, model: str) -> WatchlistEntry:
    """The entry as if its templates had been made by another network (re-tagged; the numbers do not matter here)."""
    return WatchlistEntry(
        subject=entry.subject, templates=tuple(dataclasses.replace(t, model=model) for t in entry.templates)
    )


def _package(
    entries: list[WatchlistEntry],
    version: int,
    *,
    minutes: float = 0,
    key: Ed25519PrivateKey = SIGNING_KEY,
    model: str = DLIB_MODEL_ID,
) -> bytes:
    return export_package(
        entries,
        watchlist_id="wl-1",
        name="Op",
        version=version,
        threshold=0.5,
        model=model,
        device_id="cam-7",
        device_key=DEVICE_KEY,
        signing_key=key,
        now=utc_now() + timedelta(minutes=minutes),
    )


def _updater(entries: list[WatchlistEntry], errors: list[str]) -> WatchlistUpdater:
    first = open_package(
        _package(entries, 1, minutes=-1), verify_key=SIGNING_KEY.public_key(), device_key=DEVICE_KEY, now=utc_now()
    )
    active = ActiveWatchlist(loaded_from_package(first))
    return WatchlistUpdater(
        active=active,
        device_id="cam-7",
        device_key=DEVICE_KEY,
        verify_key=SIGNING_KEY.public_key(),
        model=DLIB_MODEL_ID,
        on_error=errors.append,
    ), active


def test_an_announced_package_is_fetched_verified_and_swapped_in(
    tmp_path: Path, watchlist_entries: dict[str, WatchlistEntry]
) -> None:
    errors: list[str] = []
    updater, active = _updater([watchlist_entries["obama"]], errors)
    newer = _package([watchlist_entries["obama"], watchlist_entries["biden"]], 2)
    path = tmp_path / "v2.vwl"
    path.write_bytes(newer)
    updater.announce(
        WatchlistAvailable(device_id="cam-7", version=2, sha256=hashlib.sha256(newer).hexdigest(), url=path.as_uri())
    )
    updater.wait()
    assert errors == []
    current = active.current
    assert current.version == 2
    assert sorted(s.subject_id for s in current.gallery.subjects) == ["biden", "obama"]


@pytest.mark.parametrize(
    ("make", "expected_sha", "error", "message"),
    [
        (lambda e: _package(e, 2), "0" * 64, WatchlistFetchFailed, "does not match the announced sha256"),
        (lambda e: _package(e, 2, key=Ed25519PrivateKey.generate()), None, PackageSignatureInvalid, "signature"),
        (lambda e: _package(e, 1, minutes=-2), None, PackageOutdated, "already holds version 1"),
    ],
    ids=["wrong-sha", "forged", "replayed"],
)
def test_a_refused_package_leaves_the_old_one_in_force(
    watchlist_entries: dict[str, WatchlistEntry],
    make,
    expected_sha: str | None,
    error: type[Exception],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    updater, active = _updater([watchlist_entries["obama"]], [])
    with pytest.raises(error, match=message):
        updater.apply(make([watchlist_entries["biden"]]), expected_sha256=expected_sha)
    assert active.current.version == 1


def test_an_unreachable_url_is_reported(tmp_path: Path, watchlist_entries: dict[str, WatchlistEntry]) -> None:
    errors: list[str] = []
    updater, _ = _updater([watchlist_entries["obama"]], errors)
    updater.announce(
        WatchlistAvailable(device_id="cam-7", version=3, sha256="0" * 64, url=(tmp_path / "gone.vwl").as_uri())
    )
    updater.wait()
    assert len(errors) == 1
    assert "cannot download the watchlist package" in errors[0]


def test_a_package_of_another_model_is_refused_logged_and_the_list_kept(
    tmp_path: Path, watchlist_entries: dict[str, WatchlistEntry], caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[str] = []
    updater, active = _updater([watchlist_entries["obama"]], errors)
    other = _package([_of_model(watchlist_entries["biden"], OTHER_MODEL)], 2, model=OTHER_MODEL)
    path = tmp_path / "v2.vwl"
    path.write_bytes(other)
    with caplog.at_level(logging.WARNING, logger="vigil.edge.watchlist_update"):
        updater.announce(
            WatchlistAvailable(
                device_id="cam-7", version=2, sha256=hashlib.sha256(other).hexdigest(), url=path.as_uri()
            )
        )
        updater.wait()
    assert len(errors) == 1
    assert f"this device uses face model {DLIB_MODEL_ID}, but the watchlist was made with {OTHER_MODEL}" in errors[0]
    [logged] = [r for r in caplog.records if r.getMessage() == "watchlist.model_mismatch"]
    facts = (logged.device_id, logged.package_model, logged.device_model, logged.kept_version)  # type: ignore[attr-defined]
    assert facts == ("cam-7", OTHER_MODEL, DLIB_MODEL_ID, 1)
    current = active.current
    assert (current.version, current.gallery.model) == (1, DLIB_MODEL_ID)
    assert [s.subject_id for s in current.gallery.subjects] == ["obama"]
    # The same device takes the next package of its own model.
    updater.apply(_package([watchlist_entries["biden"]], 3))
    assert [s.subject_id for s in active.current.gallery.subjects] == ["biden"]


def test_a_device_does_not_start_on_a_watchlist_of_another_model(
    tmp_path: Path, watchlist_entries: dict[str, WatchlistEntry]
) -> None:
    create_signing_key(tmp_path / "sign.pem", tmp_path / "verify.pem")
    (tmp_path / "cam.key").write_text(DEVICE_KEY.hex())
    keys = {"device_key": tmp_path / "cam.key", "verify_key": tmp_path / "verify.pem", "device_id": "cam-7"}
    signing = load_signing_key(tmp_path / "sign.pem")
    package = tmp_path / "list.vwl"
    package.write_bytes(
        _package([_of_model(watchlist_entries["obama"], OTHER_MODEL)], 1, key=signing, model=OTHER_MODEL)
    )
    with pytest.raises(ModelMismatch, match=f"this device uses face model {DLIB_MODEL_ID}"):
        load_watchlist(package, table=DLIB_TABLE, **keys)  # type: ignore[arg-type]
    loaded = load_watchlist(package, table=OTHER_TABLE, **keys)  # type: ignore[arg-type]
    assert (loaded.gallery.model, [s.subject_id for s in loaded.gallery.subjects]) == (OTHER_MODEL, ["obama"])

    local = tmp_path / "local.sqlite"
    with WatchlistStore.create(local, name="Op") as store:
        store.add(
            watchlist_entries["biden"].subject.model_copy(update={"approved_by": None, "approved_at": None}),
            [dataclasses.replace(t, model=OTHER_MODEL) for t in watchlist_entries["biden"].templates],
        )
        store.approve("biden", approver="sgt.jones")
    with pytest.raises(ModelMismatch, match=f"this device uses face model {DLIB_MODEL_ID}, but the watchlist was made"):
        load_watchlist(local, table=DLIB_TABLE, device_key=None, verify_key=None, device_id="cam-7")
    assert load_watchlist(local, table=OTHER_TABLE, device_key=None, verify_key=None, device_id="cam-7").version == 3
