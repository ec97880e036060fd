"""Deleting what a refused or lapsed deployment found: its alerts and everything made from them.

EU AI Act Art 5(3): "all the data, as well as the results and outputs of that use shall be immediately discarded
and deleted".

In one transaction, for every alert raised under the deployment:

* each order still live on an officer's device is stood down first (``dispatch.cancelled``) and its unit freed,
  as closing an incident does;
* the officers' answers to the incidents' orders, the orders, and the incidents opened on the alerts (or whose
  target moved to one of them) go;
* the feed entries that carry them go: the alerts' (raised, reviewed, escalated), the incidents' and their orders'
  (a reader that follows the feed from the start no longer finds them);
* the messages for devices that carry them go (orders with the face crop as evidence, review decisions), except
  the stand-downs just queued;
* the alerts' second verifications go (the control room's and the officers'), then the alerts, with their face
  crops, evidence and review decisions.

What stays: the deployment's record (with ``data_deleted_at`` and ``alerts_deleted``), the audit trail (which
never holds images), and the ingestion's idempotency records (``ingested_events``: ids only), so that a device
that sends one of the alerts again is answered "duplicate" and nothing is stored again.

The feed's lock order is kept: the caller opened the feed for writing before locking the deployment's row.
"""

import logging
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, delete, or_, select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.alerts.models import Alert
from vigil.command.audit.service import record_by
from vigil.command.deployments.models import Deployment
from vigil.command.devices.models import Device
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.downlink.service import enqueue
from vigil.command.feed.models import FeedEntry
from vigil.command.feed.service import FeedKind, open_feed_for_writing
from vigil.command.incidents.models import FINISHED_ORDER_STATES, DispatchOrderRecord, Incident, OrderState
from vigil.command.units.models import Unit
from vigil.command.units.service import change_status
from vigil.command.verifications.models import AlertVerification
from vigil.dispatch.unit import UnitStatus
from vigil.events import AlertReviewed, DispatchCancelled, DispatchOrder, parse_event

_log = logging.getLogger(__name__)

STAND_DOWN_REASON = "the deployment's authorisation was refused or lapsed: its results are deleted"

_BUSY = (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE)
_ALERT_KINDS = (FeedKind.ALERT_RAISED, FeedKind.ALERT_REVIEWED, FeedKind.ALERT_ESCALATED, FeedKind.ALERT_VERIFIED)
_INCIDENT_KINDS = (FeedKind.INCIDENT_OPENED, FeedKind.INCIDENT_CHANGED, FeedKind.DISPATCH_SENT)
_CARRYING = ("dispatch.order", "alert.reviewed")
"""Messages for devices that carry an alert's results: orders (with its face crop) and review decisions."""


def delete_deployment_data(*, session: Session, deployment: Deployment, actor: Actor, now: datetime) -> int:
    """Delete every alert raised under the deployment and everything made from them, in the caller's transaction.

    Args:
        session: the transaction, the feed opened for writing before the deployment's row was locked; the caller
            commits.
        deployment: the refused or lapsed deployment.
        actor: who deletes (the supervisor recording the refusal, or the urgent clock).
        now: the current time (UTC).

    Returns:
        How many alerts were deleted.
    """
    open_feed_for_writing(session=session)  # a no-op here when the caller kept the lock order
    found = session.execute(
        select(Alert.alert_id, Alert.device_id, Alert.received_at).where(
            Alert.deployment_id == deployment.deployment_id
        )
    ).all()
    alert_ids = [alert_id for alert_id, _, _ in found]
    incidents = (
        list(
            session.scalars(
                select(Incident).where(or_(Incident.alert_id.in_(alert_ids), Incident.target_alert_id.in_(alert_ids)))
            )
        )
        if alert_ids
        else []
    )
    incident_ids = [incident.incident_id for incident in incidents]
    orders = (
        list(session.scalars(select(DispatchOrderRecord).where(DispatchOrderRecord.incident_id.in_(incident_ids))))
        if incident_ids
        else []
    )
    dispatch_ids = [order.dispatch_id for order in orders]
    stood_down = _stand_down(session, [o for o in orders if o.state not in FINISHED_ORDER_STATES], now)
    messages = (
        _delete_messages(
            session,
            alert_ids,
            dispatch_ids,
            devices={device_id for _, device_id, _ in found} | _devices_of(session, {o.unit_id for o in orders}),
            since=min(received_at for _, _, received_at in found),
            keep=stood_down,
        )
        if found
        else 0
    )
    entries = _delete_feed_entries(session, alert_ids, incident_ids, dispatch_ids)
    answers = deleted_rows(
        session, delete(DispatchStatusRecord).where(DispatchStatusRecord.dispatch_id.in_(dispatch_ids))
    )
    deleted_rows(session, delete(DispatchOrderRecord).where(DispatchOrderRecord.dispatch_id.in_(dispatch_ids)))
    deleted_rows(session, delete(Incident).where(Incident.incident_id.in_(incident_ids)))
    verifications = deleted_rows(session, delete(AlertVerification).where(AlertVerification.alert_id.in_(alert_ids)))
    alerts = deleted_rows(session, delete(Alert).where(Alert.alert_id.in_(alert_ids)))
    deployment.data_deleted_at = now
    deployment.alerts_deleted = alerts
    counts = {
        "alerts": alerts,
        "incidents": len(incident_ids),
        "dispatch_orders": len(dispatch_ids),
        "orders_stood_down": len(stood_down),
        "dispatch_answers": answers,
        "verifications": verifications,
        "feed_entries": entries,
        "device_messages": messages,
    }
    record_by(
        actor,
        session=session,
        action="deployment.data_deleted",
        record_type="deployment",
        record_id=str(deployment.deployment_id),
        details={"reason": deployment.state.value, **counts},
        now=now,
    )
    _log.info("deployment.data_deleted", extra={"deployment_id": str(deployment.deployment_id), **counts})
    return alerts


def deleted_rows(session: Session, statement: Delete) -> int:
    """Run a DELETE in ``session``'s transaction; returns how many rows it deleted."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def _stand_down(session: Session, orders: Collection[DispatchOrderRecord], now: datetime) -> set[uuid.UUID]:
    """Cancel live orders on their units' devices and free the units; returns the stand-downs' event ids."""
    events: set[uuid.UUID] = set()
    for order in orders:
        order.state, order.finished_at, order.reason = OrderState.CANCELLED, now, STAND_DOWN_REASON
        devices = session.scalars(
            select(Device.device_id)
            .where(Device.unit_id == order.unit_id, Device.revoked_at.is_(None))
            .order_by(Device.device_id)
        )
        for device_id in devices:
            event = DispatchCancelled(
                device_id=device_id, dispatch_id=order.dispatch_id, reason=STAND_DOWN_REASON, at=now
            )
            enqueue(session=session, event=event, now=now)
            events.add(event.id)
        unit = session.get(Unit, order.unit_id)
        if unit is not None and unit.status in _BUSY:
            change_status(
                session=session, unit_id=order.unit_id, status=UnitStatus.AVAILABLE, reason=STAND_DOWN_REASON, now=now
            )
    session.flush()
    return events


def _devices_of(session: Session, unit_ids: Collection[str]) -> set[str]:
    """Every device of the units, revoked or not (a revoked one may still hold messages)."""
    if not unit_ids:
        return set()
    return set(session.scalars(select(Device.device_id).where(Device.unit_id.in_(unit_ids))))


def _delete_messages(
    session: Session,
    alert_ids: Collection[uuid.UUID],
    dispatch_ids: Collection[uuid.UUID],
    *,
    devices: Collection[str],
    since: datetime,
    keep: set[uuid.UUID],
) -> int:
    """Delete the messages for ``devices`` since ``since`` that carry the alerts' results, sent or not.

    Those are orders (with the face crop as evidence) and review decisions; the ``keep`` ones (the stand-downs just
    queued) stay.
    """
    alerts, orders = set(alert_ids), set(dispatch_ids)
    doomed = []
    for message_id, event_id, payload in session.execute(
        select(DownlinkMessage.id, DownlinkMessage.event_id, DownlinkMessage.payload).where(
            DownlinkMessage.type.in_(_CARRYING),
            DownlinkMessage.device_id.in_(sorted(devices)),
            DownlinkMessage.created_at >= since,
        )
    ):
        if event_id in keep:
            continue
        event = parse_event(payload)
        if (isinstance(event, AlertReviewed) and event.alert_id in alerts) or (
            isinstance(event, DispatchOrder) and event.dispatch_id in orders
        ):
            doomed.append(message_id)
    return deleted_rows(session, delete(DownlinkMessage).where(DownlinkMessage.id.in_(doomed))) if doomed else 0


def _delete_feed_entries(
    session: Session,
    alert_ids: Collection[uuid.UUID],
    incident_ids: Collection[uuid.UUID],
    dispatch_ids: Collection[uuid.UUID],
) -> int:
    """Delete the feed entries that carry the alerts, their incidents or those incidents' orders."""
    if not alert_ids:
        return 0
    conditions: list[ColumnElement[bool]] = [
        FeedEntry.kind.in_(_ALERT_KINDS) & _names(FeedEntry.payload["alert_id"].as_string(), alert_ids)
    ]
    if incident_ids:
        conditions += [
            FeedEntry.kind.in_(_INCIDENT_KINDS)
            & _names(FeedEntry.payload[("incident", "incident_id")].as_string(), incident_ids),
            (FeedEntry.kind == FeedKind.DISPATCH_ESCALATED)
            & _names(FeedEntry.payload["incident_id"].as_string(), incident_ids),
        ]
    if dispatch_ids:
        conditions.append(
            (FeedEntry.kind == FeedKind.DISPATCH_STATUS)
            & _names(FeedEntry.payload["dispatch_id"].as_string(), dispatch_ids)
        )
    return deleted_rows(session, delete(FeedEntry).where(or_(*conditions)))


def _names(field: ColumnElement[str], ids: Collection[uuid.UUID]) -> ColumnElement[bool]:
    """``field`` (a JSON string in a payload) holds one of ``ids`` (as the feed writes them: lower-case, hyphens)."""
    return field.in_(sorted(str(i) for i in ids))
