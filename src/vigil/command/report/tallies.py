"""What every report counts the same way: the faces devices processed, and the alerts officers found were wrong.

**Faces processed** come from device statuses: each carries ``faces_processed``, the faces the agent has searched
since it started. A device's faces in a period are the increases between its consecutive statuses, each counted at
the later status's time (and under that status's watchlist version): the baseline is the last status before the
period; a count that goes down means the agent restarted, so the new count is all new faces; a device's very first
status counts in full.

**Wrong person**: an alert whose incident (opened on it, or whose target moved to it) closed with the wrong person
found. A confirmed one is a false alert the review did not catch.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, CompoundSelect, func, select
from sqlalchemy.orm import Session

from vigil.command.devices.models import DeviceStatusRecord
from vigil.command.incidents.models import Incident, IncidentOutcome


@dataclass(frozen=True)
class FaceIncrement:
    """Faces a device reported searching since its previous status.

    Attributes:
        device_id: the device.
        watchlist_version: the version its status named (None: it named none).
        faces: how many faces, > 0.
    """

    device_id: str
    watchlist_version: int | None
    faces: int

    def __post_init__(self) -> None:
        if self.faces <= 0:
            raise ValueError(f"a face increment counts faces: expected > 0, got {self.faces}")


def face_increments(
    *, session: Session, period_from: datetime, period_to: datetime, devices: Collection[str] | None = None
) -> list[FaceIncrement]:
    """Each status in ``[period_from, period_to)`` that added faces, oldest first per device.

    Args:
        session: where to read the statuses.
        period_from: start, inclusive (UTC).
        period_to: end, exclusive (UTC).
        devices: only these devices' statuses; None: every device's.

    Returns:
        The increments, by device then time.
    """
    latest_before = (
        select(DeviceStatusRecord.device_id, func.max(DeviceStatusRecord.at).label("at"))
        .where(DeviceStatusRecord.at < period_from, *_only(devices))
        .group_by(DeviceStatusRecord.device_id)
        .subquery()
    )
    baselines = dict(
        session.execute(
            select(DeviceStatusRecord.device_id, func.max(DeviceStatusRecord.faces_processed))
            .join(
                latest_before,
                (latest_before.c.device_id == DeviceStatusRecord.device_id)
                & (latest_before.c.at == DeviceStatusRecord.at),
            )
            .group_by(DeviceStatusRecord.device_id)
        ).all()
    )
    statuses = session.execute(
        select(DeviceStatusRecord.device_id, DeviceStatusRecord.watchlist_version, DeviceStatusRecord.faces_processed)
        .where(DeviceStatusRecord.at >= period_from, DeviceStatusRecord.at < period_to, *_only(devices))
        .order_by(DeviceStatusRecord.device_id, DeviceStatusRecord.at, DeviceStatusRecord.id)
    )
    increments = []
    previous: dict[str, int | None] = dict(baselines)
    for device_id, version, faces in statuses:
        before = previous.get(device_id)
        added = faces if before is None or faces < before else faces - before
        previous[device_id] = faces
        if added:
            increments.append(FaceIncrement(device_id=device_id, watchlist_version=version, faces=added))
    return increments


def wrong_person_alert_ids() -> CompoundSelect[uuid.UUID | None]:
    """The ids of alerts whose incident closed with the wrong person found (opened on them or moved to them)."""
    wrong = Incident.outcome == IncidentOutcome.WRONG_PERSON
    return select(Incident.alert_id).where(wrong).union(select(Incident.target_alert_id).where(wrong))


def _only(devices: Collection[str] | None) -> list[ColumnElement[bool]]:
    return [] if devices is None else [DeviceStatusRecord.device_id.in_(devices)]
