"""Alerts: stored as devices raise them, listed for the operators, their face crops served one by one."""

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from vigil.command.alerts.models import Alert
from vigil.command.alerts.schemas import AlertList, AlertSummary
from vigil.command.errors import UnknownAlert
from vigil.command.value_sets import stored
from vigil.events import AlertRaised
from vigil.vision.face_model import DLIB_MODEL_ID


def stored_alerts(*, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """The ids among ``alert_ids`` that are stored already (one query, planned for the ids: see ``stored``)."""
    return stored(session, Alert.alert_id, alert_ids)


def record_alert(
    *,
    session: Session,
    event: AlertRaised,
    received_at: datetime,
    deployment_id: uuid.UUID | None,
    silent: bool,
) -> AlertSummary:
    """Store an alert with its face crop. The caller has checked the id is new, and commits.

    Args:
        session: where to store it.
        event: the alert as the device raised it.
        received_at: when it arrived (UTC).
        deployment_id: the deployment that covers it (:mod:`vigil.command.deployments.coverage`); None when no
            deployment governs its watchlist.
        silent: whether that deployment is a silent trial: the alert is for later review only, never live.

    Returns:
        The alert as the API and the feed show it.
    """
    location = event.location
    alert = Alert(
        alert_id=event.alert_id,
        event_id=event.id,
        device_id=event.device_id,
        unit_id=event.unit_id,
        subject_id=event.subject_id,
        watchlist_version=event.watchlist_version,
        model=event_model(event),
        distance=event.distance,
        threshold=event.threshold,
        quality_score=event.quality.score,
        quality_parts=dict(event.quality.parts),
        frames=event.frames,
        evidence=event.evidence.model_dump() if event.evidence is not None else None,
        first_seen_at=event.first_seen_at,
        raised_at=event.at,
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
        accuracy_m=location.accuracy_m if location is not None else None,
        probe_jpeg=event.probe_jpeg,
        received_at=received_at,
        deployment_id=deployment_id,
        silent=silent,
    )
    session.add(alert)
    return _summary(alert, has_probe=True)


def event_model(event: AlertRaised) -> str:
    """The face model an alert was made with (a model id): as it says, or dlib's from a device too old to say."""
    return event.model if event.model is not None else DLIB_MODEL_ID


def list_alerts(*, session: Session, before: datetime | None, limit: int) -> AlertList:
    """Alerts raised before ``before`` (all when None), newest first, at most ``limit``."""
    # The image column stays out of the query: a page of alerts should not read megabytes of faces.
    query = select(Alert, Alert.probe_jpeg.is_not(None).label("has_probe")).options(defer(Alert.probe_jpeg))
    if before is not None:
        query = query.where(Alert.raised_at < before)
    rows = session.execute(query.order_by(Alert.raised_at.desc(), Alert.alert_id.desc()).limit(limit))
    return AlertList(alerts=[_summary(alert, has_probe=bool(has_probe)) for alert, has_probe in rows])


def get_probe_jpeg(*, session: Session, alert_id: uuid.UUID) -> bytes:
    """An alert's face crop, JPEG.

    Raises:
        UnknownAlert: no such alert, or its image has been deleted.
    """
    probe = session.scalar(select(Alert.probe_jpeg).where(Alert.alert_id == alert_id))
    if probe is None:
        raise UnknownAlert(f"no face crop is stored for alert {alert_id}", alert_id=str(alert_id))
    return probe


def _summary(alert: Alert, *, has_probe: bool) -> AlertSummary:
    return AlertSummary(
        alert_id=alert.alert_id,
        event_id=alert.event_id,
        device_id=alert.device_id,
        unit_id=alert.unit_id,
        subject_id=alert.subject_id,
        watchlist_version=alert.watchlist_version,
        model=alert.model,
        distance=alert.distance,
        threshold=alert.threshold,
        quality_score=alert.quality_score,
        quality_parts=alert.quality_parts,
        frames=alert.frames,
        first_seen_at=alert.first_seen_at,
        raised_at=alert.raised_at,
        lat=alert.lat,
        lon=alert.lon,
        accuracy_m=alert.accuracy_m,
        received_at=alert.received_at,
        has_probe=has_probe,
        probe_url=f"/api/v1/alerts/{alert.alert_id}/probe.jpg",
        review_decision=alert.review_decision,
        reviewed_by=alert.reviewed_by,
        reviewed_at=alert.reviewed_at,
        deployment_id=alert.deployment_id,
        silent=alert.silent,
    )
