"""Dispatch answers from units' devices (what they change in a dispatch arrives with the dispatch part)."""

from datetime import datetime

from sqlalchemy.orm import Session

from vigil.command.devices.models import Device
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.dispatches.schemas import DispatchStatusReported
from vigil.events import DispatchStatus


def record_status(
    *, session: Session, event: DispatchStatus, device: Device, received_at: datetime
) -> DispatchStatusReported:
    """Store a unit's answer to a dispatch order, under the unit the device serves. The caller commits."""
    session.add(
        DispatchStatusRecord(
            event_id=event.id,
            dispatch_id=event.dispatch_id,
            device_id=event.device_id,
            unit_id=device.unit_id,
            status=event.status,
            reason=event.reason,
            at=event.at,
            received_at=received_at,
        )
    )
    return DispatchStatusReported(
        event_id=event.id,
        dispatch_id=event.dispatch_id,
        device_id=event.device_id,
        unit_id=device.unit_id,
        status=event.status,
        reason=event.reason,
        at=event.at,
    )
