"""The two-person rule, removal, expiry and renewal, and the packages each version makes for devices."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.command.governance import (
    OPERATOR,
    SECOND_SUPERVISOR,
    SUPERVISOR,
    assign,
    device_with_key,
    enrolled_face,
    live_subject,
    make_keys,
    new_watchlist,
    proposal,
)
from vigil.command.actor import Actor
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.jobs import keep_watchlists
from vigil.command.settings import CommandSettings
from vigil.command.watchlists.errors import (
    ProposalRefused,
    SubjectIdTaken,
    SubjectStateConflict,
    TwoPersonRuleBroken,
)
from vigil.command.watchlists.models import DevicePackage, SubjectState, VersionReason, Watchlist, WatchlistVersion
from vigil.command.watchlists.service import watchlist_out
from vigil.command.watchlists.subjects import approve_subject, propose_subject, remove_subject
from vigil.command.watchlists.versions import device_package, sync_packages
from vigil.events import WatchlistAvailable, parse_event, utc_now
from vigil.watchlist.errors import PackageExpired
from vigil.watchlist.keys import load_verify_key
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.package import open_package


def _propose(
    database: Database, watchlist_id: uuid.UUID, chip: bytes, *, by: Actor = OPERATOR, subject_id: str = "suspect-1"
) -> None:
    now = utc_now()
    with database.session() as session:
        propose_subject(
            session=session,
            watchlist_id=watchlist_id,
            proposal=proposal(subject_id, now + timedelta(days=7)),
            faces=[enrolled_face(chip, seed=7)],
            sources=["front.jpg"],
            actor=by,
            now=now,
        )
        session.commit()


@pytest.mark.parametrize(
    ("proposer", "approver", "error"),
    [
        (SUPERVISOR, SUPERVISOR, "proposed 'suspect-1' and cannot also approve it"),
        (
            OPERATOR,
            Actor(user_id="u-olivia", display_name="Olivia", roles=frozenset({"operator", "supervisor"})),
            "cannot also approve",
        ),
        (SUPERVISOR, OPERATOR, "needs the supervisor role"),
        (
            OPERATOR,
            Actor(user_id="u-adam", display_name="Adam Admin", roles=frozenset({"admin"})),
            "needs the supervisor role",
        ),
        (OPERATOR, SUPERVISOR, None),
        (SUPERVISOR, SECOND_SUPERVISOR, None),
    ],
)
def test_only_a_second_person_who_is_a_supervisor_approves(
    database: Database, tmp_path: Path, probe_jpeg: bytes, proposer: Actor, approver: Actor, error: str | None
) -> None:
    keys = make_keys(tmp_path)
    watchlist_id = new_watchlist(database, utc_now())
    _propose(database, watchlist_id, probe_jpeg, by=proposer)
    with database.session() as session:
        if error is not None:
            with pytest.raises(TwoPersonRuleBroken, match=error):
                approve_subject(
                    session=session,
                    watchlist_id=watchlist_id,
                    subject_id="suspect-1",
                    actor=approver,
                    settings=keys.settings,
                    now=utc_now(),
                )
            session.rollback()
            assert session.scalar(select(WatchlistVersion.version)) is None
            return
        subject, version = approve_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="suspect-1",
            actor=approver,
            settings=keys.settings,
            now=utc_now(),
        )
        session.commit()
    assert (subject.state, subject.proposed_by, subject.approved_by) == (
        SubjectState.LIVE,
        proposer.user_id,
        approver.user_id,
    )
    assert (version.reason, version.subject_ids, version.subject_id) == (
        VersionReason.APPROVAL,
        ["suspect-1"],
        "suspect-1",
    )


def test_a_proposal_is_refused_without_templates_or_with_a_past_expiry(database: Database, probe_jpeg: bytes) -> None:
    watchlist_id = new_watchlist(database, utc_now())
    now = utc_now()
    with database.session() as session:
        with pytest.raises(ProposalRefused, match=r"at least one photo.*is not in the future"):
            propose_subject(
                session=session,
                watchlist_id=watchlist_id,
                proposal=proposal("s", now - timedelta(seconds=1)),
                faces=[],
                sources=[],
                actor=OPERATOR,
                now=now,
            )
        with pytest.raises(TwoPersonRuleBroken, match="operator or supervisor"):
            propose_subject(
                session=session,
                watchlist_id=watchlist_id,
                proposal=proposal("s", now + timedelta(days=1)),
                faces=[enrolled_face(probe_jpeg, seed=1)],
                sources=["a.jpg"],
                actor=Actor(user_id="u-ada", display_name="Ada", roles=frozenset({"auditor"})),
                now=now,
            )
    _propose(database, watchlist_id, probe_jpeg)
    with pytest.raises(SubjectIdTaken, match="suspect-1"):
        _propose(database, watchlist_id, probe_jpeg)


def test_a_subject_is_approved_once(database: Database, tmp_path: Path, probe_jpeg: bytes) -> None:
    keys = make_keys(tmp_path)
    watchlist_id = new_watchlist(database, utc_now())
    live_subject(database, keys, watchlist_id, "suspect-1", probe_jpeg, now=utc_now())
    with database.session() as session, pytest.raises(SubjectStateConflict, match="is live, not awaiting approval"):
        approve_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="suspect-1",
            actor=SECOND_SUPERVISOR,
            settings=keys.settings,
            now=utc_now(),
        )


def test_removal_makes_a_version_and_declining_a_proposal_does_not(
    database: Database, tmp_path: Path, probe_jpeg: bytes
) -> None:
    keys = make_keys(tmp_path)
    now = utc_now()
    watchlist_id = new_watchlist(database, now)
    first = live_subject(database, keys, watchlist_id, "suspect-1", probe_jpeg, now=now)
    _propose(database, watchlist_id, probe_jpeg, subject_id="suspect-2")
    _propose(database, watchlist_id, probe_jpeg, subject_id="suspect-3")
    with database.session() as session:
        with pytest.raises(TwoPersonRuleBroken, match="supervisor role"):
            remove_subject(
                session=session,
                watchlist_id=watchlist_id,
                subject_id="suspect-1",
                reason="arrested",
                actor=OPERATOR,
                settings=keys.settings,
                now=now,
            )
        session.rollback()
        removed, version = remove_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="suspect-1",
            reason="arrested",
            actor=SECOND_SUPERVISOR,
            settings=keys.settings,
            now=now,
        )
        declined, none = remove_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="suspect-2",
            reason="no legal basis",
            actor=SUPERVISOR,
            settings=keys.settings,
            now=now,
        )
        withdrawn, also_none = remove_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id="suspect-3",
            reason="wrong photo",
            actor=OPERATOR,
            settings=keys.settings,
            now=now,
        )
        session.commit()
    assert version is not None
    assert (version.version, version.reason, version.subject_ids) == (first + 1, VersionReason.REMOVAL, [])
    assert (none, also_none) == (None, None)
    assert [s.state for s in (removed, declined, withdrawn)] == [SubjectState.REMOVED] * 3
    assert (removed.ended_by, removed.end_reason) == ("u-sue", "arrested")


def test_an_expired_subject_leaves_the_next_package_and_the_old_package_is_refused(
    database: Database, tmp_path: Path, probe_jpeg: bytes
) -> None:
    keys = make_keys(tmp_path)
    settings = CommandSettings(data_dir=tmp_path, watchlists=keys.settings)
    now = utc_now()
    device_key = device_with_key(database, keys, "cam-7", "B-2", now)
    watchlist_id = new_watchlist(database, now)
    assert assign(database, keys, watchlist_id, "cam-7", now) == 0  # nothing to package yet
    live_subject(database, keys, watchlist_id, "lasting", probe_jpeg, now=now, seed=1)
    expiring = live_subject(
        database, keys, watchlist_id, "expiring", probe_jpeg, now=now, expires_in=timedelta(hours=1), seed=2
    )
    with database.session() as session:
        old = session.get_one(DevicePackage, "cam-7")
        old_bytes, old_version = old.package, old.version
    verify_key = load_verify_key(keys.verify_key_file)
    opened = open_package(
        old_bytes, verify_key=verify_key, device_key=device_key, now=now + timedelta(minutes=59), device_id="cam-7"
    )
    assert (old_version, sorted(e.subject.subject_id for e in opened.entries)) == (expiring, ["expiring", "lasting"])
    assert opened.header.valid_until == now + timedelta(hours=1)

    assert (
        keep_watchlists(database=database, settings=settings, keys=keys.package_keys, now=now + timedelta(minutes=59))
        == 0
    )
    later = now + timedelta(hours=1)
    assert keep_watchlists(database=database, settings=settings, keys=keys.package_keys, now=later) == 1

    with database.session() as session:
        package = session.get_one(DevicePackage, "cam-7")
        version = session.get_one(WatchlistVersion, package.version)
        announcements = [
            parse_event(m.payload) for m in session.scalars(select(DownlinkMessage).order_by(DownlinkMessage.id))
        ]
    assert (package.version, version.reason, version.subject_ids) == (expiring + 1, VersionReason.EXPIRY, ["lasting"])
    newest = open_package(
        package.package, verify_key=verify_key, device_key=device_key, now=later, held=opened.held, device_id="cam-7"
    )
    assert [e.subject.subject_id for e in newest.entries] == ["lasting"]
    with pytest.raises(PackageExpired, match=f"version {expiring} expired"):
        open_package(old_bytes, verify_key=verify_key, device_key=device_key, now=later, device_id="cam-7")
    assert [(a.version, a.url) for a in announcements if isinstance(a, WatchlistAvailable)] == [
        (v, f"http://vigil.test:8000/api/v1/device/watchlist/{v}") for v in (expiring - 1, expiring, expiring + 1)
    ]
    assert announcements[-1].sha256 == __import__("hashlib").sha256(package.package).hexdigest()


def test_packages_wait_for_the_deployment_window_and_are_renewed_before_they_lapse(
    database: Database, tmp_path: Path, probe_jpeg: bytes
) -> None:
    keys = make_keys(tmp_path, package_valid_for_s=3 * 3600, renew_before_s=3600)
    settings = CommandSettings(data_dir=tmp_path, watchlists=keys.settings)
    now = utc_now()
    device_with_key(database, keys, "cam-7", "B-2", now)
    watchlist_id = new_watchlist(database, now, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=10))
    assign(database, keys, watchlist_id, "cam-7", now)
    first = live_subject(database, keys, watchlist_id, "suspect-1", probe_jpeg, now=now)
    with database.session() as session:
        assert session.get(DevicePackage, "cam-7") is None  # the window has not opened
    opened_at = now + timedelta(hours=1)
    assert keep_watchlists(database=database, settings=settings, keys=keys.package_keys, now=opened_at) == 0
    with database.session() as session:
        package = session.get_one(DevicePackage, "cam-7")
        assert (package.version, package.valid_until) == (first, now + timedelta(hours=3))
    # Renewed once less than an hour is left; the renewal is not cut by anything, so it lasts longer.
    assert (
        keep_watchlists(
            database=database, settings=settings, keys=keys.package_keys, now=now + timedelta(hours=1, minutes=59)
        )
        == 0
    )
    renewal_at = now + timedelta(hours=2, minutes=1)
    assert keep_watchlists(database=database, settings=settings, keys=keys.package_keys, now=renewal_at) == 1
    assert keep_watchlists(database=database, settings=settings, keys=keys.package_keys, now=renewal_at) == 0
    with database.session() as session:
        package = session.get_one(DevicePackage, "cam-7")
        version = session.get_one(WatchlistVersion, package.version)
    assert (version.reason, version.version, package.valid_until) == (
        VersionReason.RENEWAL,
        first + 1,
        renewal_at + timedelta(hours=3),
    )
    # Near the deployment's end a renewal would not last longer: none is made.
    assert (
        keep_watchlists(
            database=database, settings=settings, keys=keys.package_keys, now=now + timedelta(hours=9, minutes=30)
        )
        == 1
    )
    assert (
        keep_watchlists(
            database=database, settings=settings, keys=keys.package_keys, now=now + timedelta(hours=9, minutes=40)
        )
        == 0
    )


@pytest.mark.parametrize("chosen", [None, 0.41])
def test_each_version_carries_its_threshold_to_the_devices_by_size_unless_a_supervisor_chose_one(
    database: Database, tmp_path: Path, probe_jpeg: bytes, chosen: float | None
) -> None:
    keys = make_keys(tmp_path)
    now = utc_now()
    watchlist_id = new_watchlist(database, now, threshold=chosen)
    device_key = device_with_key(database, keys, "cam-1", "A-1", now)
    assign(database, keys, watchlist_id, "cam-1", now)
    thresholds = []
    for number, subject_id in enumerate(["suspect-1", "suspect-2", "suspect-3"], start=1):
        version = live_subject(database, keys, watchlist_id, subject_id, probe_jpeg, now=now, seed=number)
        with database.session() as session:
            sync_packages(session=session, keys=keys.package_keys, public_url="https://cc.example", now=now)
            session.commit()
            made = session.get_one(WatchlistVersion, version)
            data = device_package(session=session, device_id="cam-1", version=version)
            out = watchlist_out(session=session, watchlist=session.get_one(Watchlist, watchlist_id))
        package = open_package(
            data, verify_key=load_verify_key(keys.verify_key_file), device_key=device_key, now=now, device_id="cam-1"
        )
        expected = chosen if chosen is not None else threshold_for_size(number)
        assert made.threshold == pytest.approx(expected)
        assert package.header.threshold == pytest.approx(expected)
        assert (out.threshold, out.operating_threshold) == (chosen, pytest.approx(expected))
        thresholds.append(made.threshold)
    if chosen is None:
        assert thresholds[0] > thresholds[1] > thresholds[2]  # more people listed: stricter
