import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.watchlist_update import WatchlistFetchFailed, WatchlistUpdater, loaded_from_package
from vigil.events import WatchlistAvailable, utc_now
from vigil.watchlist.errors import PackageOutdated, PackageSignatureInvalid
from vigil.watchlist.package import export_package, open_package
from vigil.watchlist.store import WatchlistEntry

SIGNING_KEY = Ed25519PrivateKey.generate()
DEVICE_KEY = bytes(range(32))


def _package(
    entries: list[WatchlistEntry], version: int, *, minutes: float = 0, key: Ed25519PrivateKey = SIGNING_KEY
) -> bytes:
    return export_package(
        entries,
        watchlist_id="wl-1",
        name="Op",
        version=version,
        threshold=0.5,
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
