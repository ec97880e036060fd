"""Deployments' watchlists: creation with an area and a time window, devices carrying them, their API shapes.

Subjects and the two-person rule are in :mod:`vigil.command.watchlists.subjects`; versions and packages in
:mod:`vigil.command.watchlists.versions`. Service functions take the acting person and the time; the caller
commits.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.service import record_by
from vigil.command.devices.models import Device
from vigil.command.errors import UnknownDevice
from vigil.command.feed.service import open_feed_for_writing
from vigil.command.settings import WatchlistServerSettings
from vigil.command.watchlists.errors import InvalidDeploymentScope, UnknownSubject, UnknownWatchlist
from vigil.command.watchlists.models import (
    SubjectState,
    VersionReason,
    Watchlist,
    WatchlistDevice,
    WatchlistSubject,
    WatchlistTemplate,
    WatchlistVersion,
)
from vigil.command.watchlists.schemas import (
    ExpectationOut,
    QualityVerdict,
    SubjectOut,
    ThresholdChange,
    VersionOut,
    WatchlistCreate,
    WatchlistDetail,
    WatchlistList,
    WatchlistOut,
)
from vigil.command.watchlists.thresholds import check_watchlist_threshold, live_count, looser_audit
from vigil.command.watchlists.versions import make_version
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import InvalidArea
from vigil.dispatch.settings import AreaLimits
from vigil.vision.settings import VisionSettings

DEPLOYMENT_AREA_LIMITS = AreaLimits(max_radius_m=100_000, max_span_m=200_000, min_area_m2=100, max_positions=20_000)
"""A deployment's area may be larger than a dispatch area: a city centre, a stadium and its approaches."""


def create_watchlist(
    *,
    session: Session,
    request: WatchlistCreate,
    model: str,
    actor: Actor,
    now: datetime,
    vision: VisionSettings | None = None,
) -> WatchlistOut:
    """Create an empty watchlist, optionally scoped to an area and a time window. The caller commits.

    Args:
        session: the transaction; the caller commits.
        request: its name, threshold and scope.
        model: the id of the face model the server enrols with: every template of the watchlist is made with it.
        vision: the server's face engine settings, for a manifest's network's operating thresholds; None: the
            server runs a built-in embedder (dlib's ResNet).
        actor: who creates it.
        now: the current time (UTC).

    Raises:
        InvalidDeploymentScope: the area is not a usable GeoJSON area, or the window ends before it starts.
        LooserThresholdRefused: the chosen threshold is looser than the one for its model (at its size, none yet)
            and no reason was given.
    """
    if request.area is not None:
        try:
            parse_area(request.area, limits=DEPLOYMENT_AREA_LIMITS)
        except InvalidArea as exc:
            raise InvalidDeploymentScope(f"the deployment's area is not usable: {exc}") from exc
    if request.starts_at is not None and request.ends_at is not None and request.ends_at <= request.starts_at:
        raise InvalidDeploymentScope(
            f"the deployment's window ends ({request.ends_at.isoformat()}) before it starts "
            f"({request.starts_at.isoformat()})"
        )
    watchlist = Watchlist(
        watchlist_id=uuid.uuid4(),
        name=request.name,
        threshold=request.threshold,
        looser_threshold_reason=request.looser_threshold_reason,
        model=model,
        area=request.area,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        current_version=None,
        created_by=actor.user_id,
        created_at=now,
    )
    choice = check_watchlist_threshold(session=session, watchlist=watchlist, size=0, vision=vision)
    session.add(watchlist)
    session.flush()
    audit_watchlist(session, actor, "watchlist.created", watchlist, {"name": request.name, "model": model}, now)
    if (looser := looser_audit(choice)) is not None:
        audit_watchlist(session, actor, "watchlist.looser_threshold", watchlist, looser, now)
    return watchlist_out(session=session, watchlist=watchlist)


def change_threshold(
    *,
    session: Session,
    watchlist_id: uuid.UUID,
    request: ThresholdChange,
    actor: Actor,
    settings: WatchlistServerSettings,
    now: datetime,
) -> WatchlistOut:
    """Choose another threshold for a watchlist (or none: by size); a watchlist with a version gets a new one.

    The caller syncs packages and commits.

    Raises:
        UnknownWatchlist: no such watchlist.
        LooserThresholdRefused: the threshold is looser than the one for the watchlist's model and live size and no
            reason was given.
    """
    open_feed_for_writing(session=session)
    watchlist = watchlist_row(session, watchlist_id, lock=True)
    previous = watchlist.threshold
    watchlist.threshold = request.threshold
    watchlist.looser_threshold_reason = request.looser_threshold_reason
    size = live_count(session=session, watchlist_id=watchlist_id, now=now)
    choice = check_watchlist_threshold(session=session, watchlist=watchlist, size=size, vision=settings.vision)
    session.flush()
    details = {
        "previous": previous,
        "threshold": request.threshold,
        "size_threshold": choice.size_threshold,
        "basis": choice.basis.value,
    }
    audit_watchlist(session, actor, "watchlist.threshold_changed", watchlist, details, now)
    if (looser := looser_audit(choice)) is not None:
        audit_watchlist(session, actor, "watchlist.looser_threshold", watchlist, looser, now)
    if watchlist.current_version is not None:
        make_version(
            session=session,
            watchlist=watchlist,
            reason=VersionReason.THRESHOLD_CHANGE,
            subject_id=None,
            actor=actor,
            settings=settings,
            now=now,
        )
    return watchlist_out(session=session, watchlist=watchlist)


def list_watchlists(*, session: Session) -> WatchlistList:
    """Every watchlist, newest first."""
    rows = session.scalars(select(Watchlist).order_by(Watchlist.created_at.desc(), Watchlist.watchlist_id))
    return WatchlistList(watchlists=[watchlist_out(session=session, watchlist=w) for w in rows])


def get_watchlist(*, session: Session, watchlist_id: uuid.UUID, packages_enabled: bool) -> WatchlistDetail:
    """A watchlist with every subject (and its quality verdicts) and every version, newest first.

    Raises:
        UnknownWatchlist: no such watchlist.
    """
    watchlist = watchlist_row(session, watchlist_id)
    subjects = session.scalars(
        select(WatchlistSubject)
        .where(WatchlistSubject.watchlist_id == watchlist_id)
        .order_by(WatchlistSubject.proposed_at, WatchlistSubject.subject_id)
    ).all()
    versions = session.scalars(
        select(WatchlistVersion)
        .where(WatchlistVersion.watchlist_id == watchlist_id)
        .order_by(WatchlistVersion.version.desc())
    ).all()
    return WatchlistDetail(
        watchlist=watchlist_out(session=session, watchlist=watchlist),
        subjects=[subject_out(session=session, subject=s) for s in subjects],
        versions=[version_out(v) for v in versions],
        packages_enabled=packages_enabled,
    )


def assign_device(*, session: Session, watchlist_id: uuid.UUID, device_id: str, actor: Actor, now: datetime) -> None:
    """Have a device carry this watchlist (instead of any other). The caller syncs packages and commits.

    Raises:
        UnknownWatchlist: no such watchlist.
        UnknownDevice: no such live device.
    """
    watchlist = watchlist_row(session, watchlist_id)
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        raise UnknownDevice(f"no live device {device_id!r} is registered", device_id=device_id)
    assignment = session.get(WatchlistDevice, device_id)
    previous = assignment.watchlist_id if assignment is not None else None
    if assignment is None:
        session.add(
            WatchlistDevice(device_id=device_id, watchlist_id=watchlist_id, assigned_by=actor.user_id, assigned_at=now)
        )
    else:
        assignment.watchlist_id = watchlist_id
        assignment.assigned_by = actor.user_id
        assignment.assigned_at = now
    session.flush()
    details = {"device_id": device_id, "previous_watchlist_id": str(previous) if previous else None}
    audit_watchlist(session, actor, "watchlist.device_assigned", watchlist, details, now)


def watchlist_out(*, session: Session, watchlist: Watchlist) -> WatchlistOut:
    """The API shape of a watchlist."""
    counts = dict(
        session.execute(
            select(WatchlistSubject.state, func.count())
            .where(WatchlistSubject.watchlist_id == watchlist.watchlist_id)
            .group_by(WatchlistSubject.state)
        ).all()
    )
    devices = session.scalars(
        select(WatchlistDevice.device_id)
        .where(WatchlistDevice.watchlist_id == watchlist.watchlist_id)
        .order_by(WatchlistDevice.device_id)
    ).all()
    current = (
        session.get_one(WatchlistVersion, watchlist.current_version) if watchlist.current_version is not None else None
    )
    return WatchlistOut(
        watchlist_id=watchlist.watchlist_id,
        name=watchlist.name,
        threshold=watchlist.threshold,
        operating_threshold=current.threshold if current is not None else None,
        model=watchlist.model,
        looser_threshold_reason=watchlist.looser_threshold_reason,
        expected=ExpectationOut.model_validate(current.expected) if current is not None and current.expected else None,
        area=watchlist.area,
        starts_at=watchlist.starts_at,
        ends_at=watchlist.ends_at,
        current_version=watchlist.current_version,
        created_by=watchlist.created_by,
        created_at=watchlist.created_at,
        devices=list(devices),
        counts={state: int(counts.get(state, 0)) for state in SubjectState},
    )


def subject_out(*, session: Session, subject: WatchlistSubject) -> SubjectOut:
    """The API shape of a subject, with its quality verdicts and chip URLs."""
    base = f"/api/v1/watchlists/{subject.watchlist_id}/subjects/{subject.subject_id}/templates"
    templates = session.execute(
        select(
            WatchlistTemplate.id,
            WatchlistTemplate.source,
            WatchlistTemplate.quality,
            WatchlistTemplate.chip_jpeg.is_not(None),
        )
        .where(WatchlistTemplate.subject_row_id == subject.id)
        .order_by(WatchlistTemplate.id)
    )
    return SubjectOut(
        watchlist_id=subject.watchlist_id,
        subject_id=subject.subject_id,
        display_name=subject.display_name,
        category=subject.category,
        legal_basis=subject.legal_basis,
        expires_at=subject.expires_at,
        notes=subject.notes,
        state=subject.state,
        proposed_by=subject.proposed_by,
        proposed_by_name=subject.proposed_by_name,
        proposed_at=subject.proposed_at,
        approved_by=subject.approved_by,
        approved_by_name=subject.approved_by_name,
        approved_at=subject.approved_at,
        ended_at=subject.ended_at,
        ended_by=subject.ended_by,
        end_reason=subject.end_reason,
        templates=[
            QualityVerdict.model_validate(
                {
                    "source": source,
                    "chip_url": f"{base}/{template_id}/chip.jpg" if has_chip else None,
                    "quality": quality,
                }
            )
            for template_id, source, quality, has_chip in templates
        ],
    )


def version_out(version: WatchlistVersion) -> VersionOut:
    """The API shape of a version."""
    return VersionOut(
        version=version.version,
        watchlist_id=version.watchlist_id,
        reason=version.reason,
        subject_id=version.subject_id,
        made_by=version.made_by,
        created_at=version.created_at,
        valid_until=version.valid_until,
        subject_ids=list(version.subject_ids),
        threshold=version.threshold,
        model=version.model,
        size_threshold=version.size_threshold,
        chosen_threshold=version.chosen_threshold,
        threshold_basis=version.threshold_basis,
        looser_threshold_reason=version.looser_threshold_reason,
        expected=ExpectationOut.model_validate(version.expected) if version.expected is not None else None,
    )


def watchlist_row(session: Session, watchlist_id: uuid.UUID, *, lock: bool = False) -> Watchlist:
    """A watchlist row (locked FOR UPDATE when ``lock``).

    Raises:
        UnknownWatchlist: no such watchlist.
    """
    watchlist = session.get(Watchlist, watchlist_id, with_for_update=lock)
    if watchlist is None:
        raise UnknownWatchlist(str(watchlist_id))
    return watchlist


def subject_row(session: Session, watchlist_id: uuid.UUID, subject_id: str, *, lock: bool = False) -> WatchlistSubject:
    """A subject row (locked FOR UPDATE when ``lock``).

    Raises:
        UnknownSubject: no such subject on the watchlist.
    """
    query = select(WatchlistSubject).where(
        WatchlistSubject.watchlist_id == watchlist_id, WatchlistSubject.subject_id == subject_id
    )
    subject = session.scalar(query.with_for_update() if lock else query)
    if subject is None:
        raise UnknownSubject(subject_id)
    return subject


def audit_watchlist(
    session: Session, actor: Actor, action: str, watchlist: Watchlist, details: dict[str, Any], now: datetime
) -> None:
    """Audit an action on a watchlist, in the caller's transaction."""
    record_by(
        actor,
        session=session,
        action=action,
        record_type="watchlist",
        record_id=str(watchlist.watchlist_id),
        details=details,
        now=now,
    )


def audit_subject(
    session: Session, actor: Actor, action: str, subject: WatchlistSubject, details: dict[str, Any], now: datetime
) -> None:
    """Audit an action on a subject, in the caller's transaction."""
    record_by(
        actor,
        session=session,
        action=action,
        record_type="watchlist_subject",
        record_id=f"{subject.watchlist_id}/{subject.subject_id}",
        details={"state": subject.state.value, **details},
        now=now,
    )
