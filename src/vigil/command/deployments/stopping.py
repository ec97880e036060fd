"""Stopping a deployment before its window ends: refused, lapsed or ended early.

A stopped deployment's record says when, by whom and why; each live device carrying one of its watchlists is sent
``deployment.stopped`` (:class:`~vigil.events.DeploymentStopped`): stop searching under it now and, when refused or
lapsed, delete what it found that is still waiting to be sent. The packages made under it are deleted on the
server too (they hold its watchlists' templates, and no device may load them again); the watchlists are packaged
again only under another running deployment (:func:`~vigil.command.watchlists.versions.sync_packages`).
"""

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.audit.service import record_by
from vigil.command.deployments.deletion import deleted_rows
from vigil.command.deployments.models import Deployment, DeploymentState, DeploymentWatchlist
from vigil.command.devices.models import Device
from vigil.command.downlink.service import enqueue
from vigil.command.watchlists.models import DevicePackage, WatchlistDevice, WatchlistVersion
from vigil.events import DeploymentStopped, DeploymentStopReason

_log = logging.getLogger(__name__)

_STATE_AFTER = {
    DeploymentStopReason.REFUSED: DeploymentState.REFUSED,
    DeploymentStopReason.LAPSED: DeploymentState.LAPSED,
    DeploymentStopReason.ENDED: DeploymentState.ENDED,
}


def awaiting_decision(deployment: Deployment) -> bool:
    """Whether the authority's decision on an urgent start is still to be recorded (ended early or not)."""
    return (
        deployment.urgent
        and deployment.decided_at is None
        and deployment.state in (DeploymentState.URGENT, DeploymentState.ENDED)
    )


def stop_deployment(
    *,
    session: Session,
    deployment: Deployment,
    reason: DeploymentStopReason,
    why: str,
    actor: Actor,
    now: datetime,
) -> list[str]:
    """Stop the deployment on every device carrying its watchlists; the caller deletes its data when refused or lapsed.

    A deployment ended early and then refused or lapsed keeps the time and reason it was ended; its devices are told
    again, now to delete what they hold of it.

    Args:
        session: the transaction (the deployment's row locked); the caller commits.
        deployment: the deployment.
        reason: refused, lapsed or ended.
        why: for the record (the supervisor's reason, or the authority's refusal).
        actor: who stops it (a supervisor, or the urgent clock).
        now: the current time (UTC).

    Returns:
        The devices sent ``deployment.stopped``, by id.
    """
    deployment.state = _STATE_AFTER[reason]
    if deployment.ended_at is None:
        deployment.ended_at, deployment.ended_by, deployment.end_reason = now, actor.user_id, why
    watchlists = select(DeploymentWatchlist.watchlist_id).where(
        DeploymentWatchlist.deployment_id == deployment.deployment_id
    )
    devices = list(
        session.scalars(
            select(WatchlistDevice.device_id)
            .join(Device, Device.device_id == WatchlistDevice.device_id)
            .where(WatchlistDevice.watchlist_id.in_(watchlists), Device.revoked_at.is_(None))
            .order_by(WatchlistDevice.device_id)
        )
    )
    delete_results = reason is not DeploymentStopReason.ENDED
    for device_id in devices:
        enqueue(
            session=session,
            event=DeploymentStopped(
                device_id=device_id,
                deployment_id=deployment.deployment_id,
                reason=reason,
                delete_results=delete_results,
                at=now,
            ),
            now=now,
        )
    packages = deleted_rows(
        session,
        delete(DevicePackage).where(
            DevicePackage.device_id.in_(
                select(WatchlistDevice.device_id).where(WatchlistDevice.watchlist_id.in_(watchlists))
            ),
            DevicePackage.version.in_(
                select(WatchlistVersion.version).where(WatchlistVersion.watchlist_id.in_(watchlists))
            ),
            # made under this deployment: not one made before it, under another that searches now
            DevicePackage.created_at >= max(deployment.starts_at, deployment.requested_at),
        ),
    )
    record_by(
        actor,
        session=session,
        action="deployment.stopped",
        record_type="deployment",
        record_id=str(deployment.deployment_id),
        details={
            "reason": reason.value,
            "delete_results": delete_results,
            "devices": len(devices),
            "packages_deleted": packages,
        },
        now=now,
    )
    _log.info(
        "deployment.stopped",
        extra={
            "deployment_id": str(deployment.deployment_id),
            "reason": reason.value,
            "devices": len(devices),
            "packages_deleted": packages,
        },
    )
    return devices
