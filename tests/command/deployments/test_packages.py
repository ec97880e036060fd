"""Packages follow deployments: a watchlist a deployment names is packaged only while one of its deployments runs,
with that deployment's scope, valid no longer than its window; a watchlist no deployment names is packaged as
before."""

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.command.deployments.conftest import Desk, authorised, queued, urgent
from tests.command.governance import PUBLIC_URL, assign, device_with_key, live_subject, new_watchlist
from vigil.command.database import Database
from vigil.command.watchlists.models import DevicePackage
from vigil.command.watchlists.versions import sync_packages
from vigil.events import DeploymentMode, DeploymentScope, WatchlistAvailable, utc_now


def _announced(database: Database, device_id: str) -> list[WatchlistAvailable]:
    return [e for e in queued(database, "watchlist.available") if e.device_id == device_id]


def _sync(database: Database, desk: Desk, now: datetime) -> int:
    with database.session() as session:
        made = sync_packages(session=session, keys=desk.keys.package_keys, public_url=PUBLIC_URL, now=now)
        session.commit()
    return made


def _package(database: Database, device_id: str) -> DevicePackage | None:
    with database.session() as session:
        return session.scalar(select(DevicePackage).where(DevicePackage.device_id == device_id))


def test_a_governed_watchlist_is_packaged_only_in_its_window_with_the_deployments_scope(
    database: Database, desk: Desk, probe_jpeg: bytes
) -> None:
    now = utc_now()
    keys = desk.keys
    device_with_key(database, keys, "cam-7", "A-12", now)
    device_with_key(database, keys, "cam-8", "B-3", now)
    governed = new_watchlist(database, now)
    free = new_watchlist(database, now)
    live_subject(database, keys, governed, "obama", probe_jpeg, now=now)
    live_subject(database, keys, free, "biden", probe_jpeg, now=now, seed=2)
    with desk.supervisor() as sam:
        created = sam.post(
            "/api/v1/deployments", json=authorised([governed], starts_in=timedelta(hours=1), mode="silent")
        )
    assert created.status_code == 201, created.text
    record = created.json()
    starts_at, ends_at = datetime.fromisoformat(record["starts_at"]), datetime.fromisoformat(record["ends_at"])

    assert assign(database, keys, governed, "cam-7", now) == 0  # its deployment's window is not open yet
    assert assign(database, keys, free, "cam-8", now) == 1  # no deployment names it: packaged as before
    [free_announcement] = _announced(database, "cam-8")
    assert free_announcement.scope is None

    assert _sync(database, desk, starts_at + timedelta(minutes=1)) == 1
    assert _sync(database, desk, starts_at + timedelta(minutes=2)) == 0  # made once
    [announced] = _announced(database, "cam-7")
    assert announced.scope == DeploymentScope(
        deployment_id=record["deployment_id"],
        area=record["area"],
        starts_at=starts_at,
        ends_at=ends_at,
        mode=DeploymentMode.SILENT,
    )
    package = _package(database, "cam-7")
    assert package is not None
    assert package.valid_until == ends_at  # the settings' week is cut at the window's end

    # After the window a new version of the watchlist is made: nobody is sent it.
    later = ends_at + timedelta(minutes=1)
    live_subject(database, keys, governed, "trump", probe_jpeg, now=later, seed=3)
    assert _sync(database, desk, later) == 0
    assert len(_announced(database, "cam-7")) == 1


def test_a_deployment_started_for_a_carried_watchlist_sends_its_scope_at_once_and_ending_it_withdraws_the_package(
    database: Database, desk: Desk, probe_jpeg: bytes
) -> None:
    now = utc_now()
    keys = desk.keys
    device_with_key(database, keys, "cam-7", "A-12", now)
    watchlist_id = new_watchlist(database, now)
    live_subject(database, keys, watchlist_id, "obama", probe_jpeg, now=now)
    assert assign(database, keys, watchlist_id, "cam-7", now) == 1
    with desk.supervisor() as sam:
        started = sam.post("/api/v1/deployments", json=urgent([watchlist_id]))
        deployment_id = started.json()["deployment_id"]
        [before, during] = _announced(database, "cam-7")
        ended = sam.post(f"/api/v1/deployments/{deployment_id}/end", json={"reason": "Suspect arrested"})
    assert (before.scope, before.version) == (None, during.version)  # the same version, now under the deployment
    assert during.scope is not None
    assert (str(during.scope.deployment_id), during.scope.mode) == (deployment_id, DeploymentMode.LIVE)
    assert ended.status_code == 200
    assert _package(database, "cam-7") is None  # no device may fetch it again
    assert _sync(database, desk, utc_now()) == 0  # and it is not made again: its deployment is over
