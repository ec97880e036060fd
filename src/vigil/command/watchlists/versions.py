"""Watchlist versions and the packages made from them for each device.

Every approval, removal, expiry, renewal or model change makes a version (:func:`make_version`), numbered from
one sequence for the whole server (on PostgreSQL under an advisory lock, so two servers never draw the same
number). A version's packages are valid until the earliest of: the package validity setting, the first expiry
among its subjects, and the end of the deployment's window; so a device refuses a package once any subject in it
has expired, even if it never heard of the next version. A version records the face model of the watchlist's
templates when it was made; its packages name it and hold only templates made with it.

:func:`sync_packages` makes, for every device assigned to a watchlist whose window is open, the package of the
watchlist's current version (signed by the centre, encrypted for that device's key), stores it, and queues a
``watchlist.available`` announcement with its sha256 and URL, all in the caller's transaction. It runs in the
request that made the version and again from the scheduler (for a window that opens, a device newly given a
key, or a server that had no keys).

A watchlist named by a deployment (:mod:`vigil.command.deployments`) is packaged only while one of its
deployments is running (a running state, and its window holds the time): the announcement then carries that
deployment's scope (area, window, mode), and the package is valid no longer than the deployment's window. A device
holding a package made before the deployment that governs it now (or under another) is sent a new one. A
watchlist no deployment names is packaged as before, with no scope.
"""

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.service import record_action
from vigil.command.deployments.models import RUNNING_STATES, Deployment, DeploymentWatchlist
from vigil.command.devices.models import Device
from vigil.command.downlink.service import enqueue
from vigil.command.feed.service import FeedKind, append_entry
from vigil.command.settings import WatchlistServerSettings
from vigil.command.watchlists.errors import NoPackage
from vigil.command.watchlists.keys import PackageKeys, unwrap_device_key
from vigil.command.watchlists.models import (
    DevicePackage,
    DevicePackageKey,
    SubjectState,
    VersionReason,
    Watchlist,
    WatchlistDevice,
    WatchlistSubject,
    WatchlistTemplate,
    WatchlistVersion,
)
from vigil.command.watchlists.schemas import WatchlistVersionMade
from vigil.command.watchlists.thresholds import version_threshold
from vigil.events import DeploymentScope, WatchlistAvailable
from vigil.watchlist.package import export_package
from vigil.watchlist.store import WatchlistEntry
from vigil.watchlist.subject import Subject, Template

_log = logging.getLogger(__name__)

VERSIONS_LOCK = 0x76697776  # "viwv": one version is drawn at a time
PACKAGE_PATH = "/api/v1/device/watchlist/{version}"


def make_version(
    *,
    session: Session,
    watchlist: Watchlist,
    reason: VersionReason,
    subject_id: str | None,
    actor: Actor,
    settings: WatchlistServerSettings,
    now: datetime,
) -> WatchlistVersion:
    """Make the watchlist's next version from its live subjects, in the caller's transaction.

    The caller has opened the feed for writing (before taking any row lock) and commits.

    Returns:
        The new version.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": VERSIONS_LOCK})
    live = live_subjects(session=session, watchlist_id=watchlist.watchlist_id, now=now)
    number = int(session.scalar(select(func.max(WatchlistVersion.version))) or 0) + 1
    version = WatchlistVersion(
        version=number,
        watchlist_id=watchlist.watchlist_id,
        reason=reason,
        subject_id=subject_id,
        made_by=actor.user_id,
        created_at=now,
        valid_until=version_valid_until(watchlist=watchlist, live=live, settings=settings, now=now),
        subject_ids=sorted(s.subject_id for s in live),
        model=watchlist.model,
        **version_threshold(session=session, watchlist=watchlist, size=len(live), vision=settings.vision).columns(),
    )
    session.add(version)
    watchlist.current_version = number
    session.flush()
    append_entry(
        session=session,
        kind=FeedKind.WATCHLIST_VERSION,
        payload=WatchlistVersionMade(
            version=number,
            watchlist_id=watchlist.watchlist_id,
            watchlist_name=watchlist.name,
            reason=reason,
            subject_id=subject_id,
            made_by=actor.user_id,
            subjects=len(live),
            valid_until=version.valid_until,
        ),
        now=now,
    )
    record_action(
        session=session,
        actor=actor.user_id,
        action="watchlist.version_made",
        record_type="watchlist",
        record_id=str(watchlist.watchlist_id),
        address=actor.address,
        details={
            "version": number,
            "reason": reason.value,
            "subject_id": subject_id,
            "subjects": len(live),
            "model": watchlist.model,
        },
        now=now,
    )
    _log.info("watchlist.version_made", extra={"version": number, "reason": reason.value, "subjects": len(live)})
    return version


def live_subjects(*, session: Session, watchlist_id: uuid.UUID, now: datetime) -> list[WatchlistSubject]:
    """The watchlist's subjects approved and not expired at ``now``, by id."""
    return list(
        session.scalars(
            select(WatchlistSubject)
            .where(
                WatchlistSubject.watchlist_id == watchlist_id,
                WatchlistSubject.state == SubjectState.LIVE,
                WatchlistSubject.expires_at > now,
            )
            .order_by(WatchlistSubject.subject_id)
        )
    )


def version_valid_until(
    *, watchlist: Watchlist, live: Iterable[WatchlistSubject], settings: WatchlistServerSettings, now: datetime
) -> datetime:
    """Until when a version made now from ``live`` may be used.

    Returns:
        The validity setting from ``now``, cut at the first subject's expiry and at the end of the deployment's
        window (never before ``now`` plus one second), UTC.
    """
    limits = [now + timedelta(seconds=settings.package_valid_for_s), *(s.expires_at for s in live)]
    if watchlist.ends_at is not None:
        limits.append(watchlist.ends_at)
    return max(min(limits), now + timedelta(seconds=1))


def window_open(watchlist: Watchlist, now: datetime) -> bool:
    """Whether the deployment's time window (if any) holds ``now``."""
    started = watchlist.starts_at is None or watchlist.starts_at <= now
    return started and (watchlist.ends_at is None or now < watchlist.ends_at)


def sync_packages(
    *,
    session: Session,
    keys: PackageKeys | None,
    public_url: str,
    now: datetime,
    watchlist_id: uuid.UUID | None = None,
) -> int:
    """Make the current version's package for every assigned device lacking it, and queue its announcement.

    Only watchlists whose window is open and whose current version is still valid are packaged, and a watchlist
    a deployment names only while one of its deployments is running (its package then carries that deployment's
    scope and is valid no longer than its window); devices that are revoked or have no package key are passed
    over. The caller commits.

    Args:
        session: the transaction.
        keys: the server's package keys; None makes nothing (logged).
        public_url: the base URL devices download from.
        now: the current time (UTC).
        watchlist_id: only this watchlist's devices; None for every watchlist.

    Returns:
        How many packages were made.

    Raises:
        PackagesNotConfigured: a device key was stored under another key-wrapping key.
    """
    governance = deployment_governance(session=session, now=now)
    query = (
        select(WatchlistDevice, Watchlist, DevicePackageKey, DevicePackage)
        .join(Watchlist, Watchlist.watchlist_id == WatchlistDevice.watchlist_id)
        .join(Device, Device.device_id == WatchlistDevice.device_id)
        .join(DevicePackageKey, DevicePackageKey.device_id == WatchlistDevice.device_id)
        .outerjoin(DevicePackage, DevicePackage.device_id == WatchlistDevice.device_id)
        .where(Device.revoked_at.is_(None), Watchlist.current_version.is_not(None))
        .where(
            or_(
                DevicePackage.version.is_(None),
                DevicePackage.version != Watchlist.current_version,
                Watchlist.watchlist_id.in_(sorted(governance.running)),  # its scope may be newer than its package
            )
        )
        .order_by(WatchlistDevice.device_id)
    )
    if watchlist_id is not None:
        query = query.where(Watchlist.watchlist_id == watchlist_id)
    due = [row for row in session.execute(query) if window_open(row[1], now) and governance.due(row[1], row[3])]
    if not due:
        return 0
    if keys is None:
        _log.warning("watchlist.packages_not_made", extra={"devices": len(due), "reason": "no keys configured"})
        return 0
    entries: dict[int, tuple[WatchlistVersion, list[WatchlistEntry]]] = {}
    made = 0
    for assignment, watchlist, stored_key, package in due:
        number = watchlist.current_version
        if number is None:
            continue
        if number not in entries:
            version = session.get_one(WatchlistVersion, number)
            entries[number] = (version, version_entries(session=session, version=version))
        version, content = entries[number]
        deployment = governance.running.get(watchlist.watchlist_id)
        valid_until = version.valid_until if deployment is None else min(version.valid_until, deployment.ends_at)
        if valid_until <= now:
            continue
        device_key = unwrap_device_key(stored_key.wrapped_key, device_id=assignment.device_id, wrap_key=keys.wrap_key)
        data = export_package(
            content,
            watchlist_id=str(watchlist.watchlist_id),
            name=watchlist.name,
            version=number,
            threshold=version.threshold,
            model=version.model,
            device_id=assignment.device_id,
            device_key=device_key,
            signing_key=keys.signing_key,
            now=now,
            valid_for=valid_until - now,
        )
        digest = hashlib.sha256(data).hexdigest()
        if package is None:
            package = DevicePackage(device_id=assignment.device_id)
            session.add(package)
        package.version = number
        package.sha256 = digest
        package.package = data
        package.created_at = now
        package.valid_until = valid_until
        enqueue(
            session=session,
            event=WatchlistAvailable(
                device_id=assignment.device_id,
                version=number,
                sha256=digest,
                url=public_url + PACKAGE_PATH.format(version=number),
                scope=deployment_scope(deployment) if deployment is not None else None,
                at=now,
            ),
            now=now,
        )
        made += 1
    _log.info("watchlist.packages_made", extra={"packages": made})
    return made


@dataclass(frozen=True)
class DeploymentGovernance:
    """Which watchlists deployments name, and the deployment each runs under at one moment.

    Attributes:
        governed: the watchlists any deployment names, whatever its state.
        running: for each governed watchlist with a running deployment at the moment, that deployment (at most
            one: a watchlist is in one running deployment for any moment).
    """

    governed: frozenset[uuid.UUID]
    running: dict[uuid.UUID, Deployment]

    def due(self, watchlist: Watchlist, package: DevicePackage | None) -> bool:
        """Whether a device carrying ``watchlist`` and holding ``package`` needs a new package now.

        A governed watchlist with no running deployment is never packaged. Under a running deployment, a package
        of an older version, or made before the deployment was recorded or its window opened (so carrying no
        scope, or another's), is replaced.
        """
        deployment = self.running.get(watchlist.watchlist_id)
        if deployment is None:
            return watchlist.watchlist_id not in self.governed
        if package is None or package.version != watchlist.current_version:
            return True
        return package.created_at < max(deployment.starts_at, deployment.requested_at)


def deployment_governance(*, session: Session, now: datetime) -> DeploymentGovernance:
    """The watchlists deployments name, and the deployment each runs under at ``now`` (UTC)."""
    governed = frozenset(session.scalars(select(DeploymentWatchlist.watchlist_id).distinct()))
    if not governed:
        return DeploymentGovernance(governed=governed, running={})
    rows = session.execute(
        select(DeploymentWatchlist.watchlist_id, Deployment)
        .join(Deployment, Deployment.deployment_id == DeploymentWatchlist.deployment_id)
        .where(Deployment.state.in_(RUNNING_STATES), Deployment.starts_at <= now, Deployment.ends_at > now)
        .order_by(Deployment.requested_at)
    )
    return DeploymentGovernance(governed=governed, running={watchlist_id: d for watchlist_id, d in rows})


def deployment_scope(deployment: Deployment) -> DeploymentScope:
    """What a device is told of the deployment it searches under."""
    return DeploymentScope(
        deployment_id=deployment.deployment_id,
        area=deployment.area,
        starts_at=deployment.starts_at,
        ends_at=deployment.ends_at,
        mode=deployment.mode,
    )


def version_entries(*, session: Session, version: WatchlistVersion) -> list[WatchlistEntry]:
    """The subjects of a version with their templates, as a package holds them.

    Templates deleted since are left out, and so are any made with another face model than the version's (a
    template whose chip retention had deleted keeps the model that made it when its watchlist is re-embedded).
    """
    rows = session.scalars(
        select(WatchlistSubject)
        .where(
            WatchlistSubject.watchlist_id == version.watchlist_id,
            WatchlistSubject.subject_id.in_(version.subject_ids),
        )
        .order_by(WatchlistSubject.subject_id)
    ).all()
    subject_ids = {row.id: row.subject_id for row in rows}
    templates: dict[uuid.UUID, list[Template]] = {row.id: [] for row in rows}
    for template in session.scalars(
        select(WatchlistTemplate)
        .where(
            WatchlistTemplate.subject_row_id.in_(list(templates)),
            WatchlistTemplate.embedding.is_not(None),
            WatchlistTemplate.model == version.model,
        )
        .order_by(WatchlistTemplate.id)
    ):
        if template.embedding is None or template.chip_jpeg is None:
            continue
        templates[template.subject_row_id].append(
            Template(
                subject_id=subject_ids[template.subject_row_id],
                embedding=np.frombuffer(template.embedding, dtype="<f4").astype(np.float32),
                chip_jpeg=template.chip_jpeg,
                quality=template.quality_score,
                model=template.model,
            )
        )
    return [
        WatchlistEntry(subject=packaged_subject(row), templates=tuple(templates[row.id]))
        for row in rows
        if templates[row.id]
    ]


def packaged_subject(row: WatchlistSubject) -> Subject:
    """A subject as packages carry it (names, not user ids: officers see them)."""
    return Subject(
        subject_id=row.subject_id,
        display_name=row.display_name,
        category=row.category,
        legal_basis=row.legal_basis,
        expires_at=row.expires_at,
        notes=row.notes,
        proposed_by=row.proposed_by_name,
        proposed_at=row.proposed_at,
        approved_by=row.approved_by_name,
        approved_at=row.approved_at,
    )


def device_package(*, session: Session, device_id: str, version: int) -> bytes:
    """The package of ``version`` made for ``device_id``.

    Raises:
        NoPackage: none was made for this device at that version (a newer one may have replaced it).
    """
    package = session.get(DevicePackage, device_id)
    if package is None or package.version != version:
        current = f"; its current package is version {package.version}" if package is not None else ""
        raise NoPackage(
            f"no package of watchlist version {version} is held for device {device_id!r}{current}",
            device_id=device_id,
            version=version,
        )
    return package.package
