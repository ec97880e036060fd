"""Units: created when a device is registered to them; their latest position and track follow the devices."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Double, String, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from vigil.command.bulk_insert import bulk_insert
from vigil.command.database import Base
from vigil.command.devices.models import Device
from vigil.command.errors import UnknownUnit
from vigil.command.feed.service import FeedKind, append_entry
from vigil.command.units.models import PositionRecord, Unit, UnitKind, UnitStatus
from vigil.command.units.schemas import (
    PositionReported,
    Track,
    TrackPoint,
    UnitChanged,
    UnitList,
    UnitOut,
    UnitPosition,
)
from vigil.command.value_sets import one_of
from vigil.events import Position


def upsert_unit(
    *,
    session: Session,
    unit_id: str,
    call_sign: str | None,
    radio_id: str | None,
    kind: UnitKind | None,
    now: datetime,
) -> Unit:
    """The unit with this id, created when missing (available, on foot unless told) and updated where told.

    A creation or change is announced on the feed. The caller commits.
    """
    unit = session.get(Unit, unit_id)
    if unit is None:
        unit = Unit(
            unit_id=unit_id,
            call_sign=call_sign or unit_id,
            radio_id=radio_id,
            kind=kind or UnitKind.FOOT,
            status=UnitStatus.AVAILABLE,
            status_changed_at=now,
            created_at=now,
        )
        session.add(unit)
        announce_unit(session=session, unit=unit, reason="registered", now=now)
        return unit
    changed = False
    if call_sign is not None and call_sign != unit.call_sign:
        unit.call_sign, changed = call_sign, True
    if radio_id is not None and radio_id != unit.radio_id:
        unit.radio_id, changed = radio_id, True
    if kind is not None and kind != unit.kind:
        unit.kind, changed = kind, True
    if changed:
        announce_unit(session=session, unit=unit, reason="details changed", now=now)
    return unit


def change_status(*, session: Session, unit_id: str, status: UnitStatus, reason: str, now: datetime) -> UnitChanged:
    """Set what a unit is doing, and announce it on the feed. The caller commits.

    The unit's row is locked first (PostgreSQL), so that two changes of one unit take turns and the feed holds
    them in the order they happened (the live unit index replays them in feed order).

    Raises:
        UnknownUnit: no such unit.
    """
    unit = session.scalar(
        select(Unit).where(Unit.unit_id == unit_id).with_for_update().execution_options(populate_existing=True)
    )
    if unit is None:
        raise UnknownUnit(unit_id)
    if unit.status != status:
        unit.status = status
        unit.status_changed_at = now
    return announce_unit(session=session, unit=unit, reason=reason, now=now)


def announce_unit(*, session: Session, unit: Unit, reason: str, now: datetime) -> UnitChanged:
    """Append the unit as it is now to the feed (in the caller's transaction)."""
    changed = UnitChanged(
        unit_id=unit.unit_id,
        call_sign=unit.call_sign,
        radio_id=unit.radio_id,
        kind=unit.kind,
        status=unit.status,
        status_changed_at=unit.status_changed_at,
        reason=reason,
    )
    append_entry(session=session, kind=FeedKind.UNIT_CHANGED, payload=changed, now=now)
    return changed


_POSITION_COLUMNS = (
    "event_id",
    "unit_id",
    "device_id",
    "at",
    "lat",
    "lon",
    "accuracy_m",
    "heading_deg",
    "speed_mps",
    "source",
)
_UNIT_POSITION_COLUMNS = (
    "position_lat",
    "position_lon",
    "position_accuracy_m",
    "position_heading_deg",
    "position_speed_mps",
    "position_source",
    "position_at",
)
_MOVED_COLUMNS = ("unit_id", *_UNIT_POSITION_COLUMNS)
_MOVED_PARAMETERS = tuple(f"moved_{column}" for column in _MOVED_COLUMNS)
_MOVED_TYPES: tuple[TypeEngine[Any], ...] = (
    String(),
    Double(),
    Double(),
    Double(),
    Double(),
    Double(),
    String(),
    DateTime(timezone=True),
)


def record_positions(
    *, session: Session, events: Sequence[Position], received_at: datetime
) -> dict[str, PositionReported]:
    """Add positions to their units' tracks, and make each unit's newest its latest unless a newer one is known.

    Devices resend old positions after a gap in coverage, so arrival order is not time order. On PostgreSQL the
    units' rows are locked (``FOR NO KEY UPDATE``, in unit order) before anything refers to them, so concurrent
    reports for one unit take turns instead of moving it backwards; taking the locks after inserting the
    positions would deadlock them, as the insert's foreign-key check holds a share lock on the same row. The
    caller has checked that the units exist, and commits.

    Returns:
        For each unit that moved, the position it now has (for the feed): under load a batch holds several
        reports per unit, and only each unit's newest moves it.
    """
    if not events:
        return {}
    known_at: dict[str, datetime | None] = {
        unit_id: at
        for unit_id, at in session.execute(  # plain rows, not ORM objects: only each unit's latest time is needed
            select(Unit.unit_id, Unit.position_at)
            .where(one_of(session, Unit.unit_id, sorted({event.unit_id for event in events})))
            .order_by(Unit.unit_id)
            .with_for_update(key_share=True)
        )
    }
    bulk_insert(
        session=session,
        table=Base.metadata.tables[PositionRecord.__tablename__],
        columns=_POSITION_COLUMNS,
        rows=[(event.id, event.unit_id, event.device_id, event.at, *_fix(event)) for event in events],
        same_for_all={"received_at": received_at},
    )
    newest: dict[str, Position] = {}
    for event in events:
        unit_at = newest[event.unit_id].at if event.unit_id in newest else known_at[event.unit_id]
        if unit_at is None or event.at >= unit_at:
            newest[event.unit_id] = event
    if newest:
        _move_units(session, sorted(newest.items()))
    return {
        unit_id: PositionReported(
            event_id=event.id,
            unit_id=event.unit_id,
            device_id=event.device_id,
            at=event.at,
            lat=event.lat,
            lon=event.lon,
            accuracy_m=event.accuracy_m,
            heading_deg=event.heading_deg,
            speed_mps=event.speed_mps,
            source=event.source.value,
            is_latest=True,
        )
        for unit_id, event in newest.items()
    }


def _move_units(session: Session, moves: Sequence[tuple[str, Position]]) -> None:
    """Make each position its unit's latest (in unit order, the order their rows were locked)."""
    units = Base.metadata.tables[Unit.__tablename__]
    values = [(unit_id, *_fix(event), event.at) for unit_id, event in moves]
    if session.get_bind().dialect.name == "postgresql":
        # One statement joining the units to arrays of their new positions, rather than a statement per unit
        # for the server to run and the driver to send. unnest zips arrays of one length, in order.
        columns = list(zip(*values, strict=True))
        moved = (
            func.unnest(
                *(
                    bindparam(name, list(column), type_=postgresql.ARRAY(sql_type))
                    for name, column, sql_type in zip(_MOVED_PARAMETERS, columns, _MOVED_TYPES, strict=True)
                )
            )
            .table_valued(*_MOVED_COLUMNS)
            .render_derived()
        )
        session.execute(
            units.update()
            .where(units.c.unit_id == moved.c.unit_id)
            .values({column: moved.c[column] for column in _UNIT_POSITION_COLUMNS})
        )
        return
    session.execute(
        units.update()  # Core, one statement for many rows: the ORM's bulk path costs ten times as much
        .where(units.c.unit_id == bindparam("moved_unit_id"))
        .values({column: bindparam(f"moved_{column}") for column in _UNIT_POSITION_COLUMNS}),
        [dict(zip(_MOVED_PARAMETERS, row, strict=True)) for row in values],
    )


def _fix(event: Position) -> tuple[float, float, float | None, float | None, float | None, str]:
    """A position's fix, in the order of a track row's columns and of a unit's latest-position columns."""
    return event.lat, event.lon, event.accuracy_m, event.heading_deg, event.speed_mps, event.source.value


def list_units(*, session: Session, now: datetime) -> UnitList:
    """Every unit with its latest position; ``age_s`` is measured from ``now``."""
    devices: dict[str, list[str]] = {}
    for device_id, unit_id in session.execute(
        select(Device.device_id, Device.unit_id).where(Device.revoked_at.is_(None)).order_by(Device.device_id)
    ):
        devices.setdefault(unit_id, []).append(device_id)
    units = session.scalars(select(Unit).order_by(Unit.unit_id))
    return UnitList(units=[_unit_out(unit, devices.get(unit.unit_id, []), now) for unit in units])


def get_track(*, session: Session, unit_id: str, since: datetime | None, until: datetime | None, limit: int) -> Track:
    """A unit's positions between ``since`` and ``until`` (inclusive), oldest first, at most ``limit``.

    Raises:
        UnknownUnit: no such unit.
    """
    if session.get(Unit, unit_id) is None:
        raise UnknownUnit(unit_id)
    query = select(PositionRecord).where(PositionRecord.unit_id == unit_id)
    if since is not None:
        query = query.where(PositionRecord.at >= since)
    if until is not None:
        query = query.where(PositionRecord.at <= until)
    rows = session.scalars(query.order_by(PositionRecord.at, PositionRecord.id).limit(limit))
    return Track(
        unit_id=unit_id,
        points=[
            TrackPoint(
                at=row.at,
                lat=row.lat,
                lon=row.lon,
                accuracy_m=row.accuracy_m,
                heading_deg=row.heading_deg,
                speed_mps=row.speed_mps,
                source=row.source,
                device_id=row.device_id,
            )
            for row in rows
        ],
    )


def _unit_out(unit: Unit, device_ids: list[str], now: datetime) -> UnitOut:
    position = None
    if unit.position_at is not None and unit.position_lat is not None and unit.position_lon is not None:
        position = UnitPosition(
            lat=unit.position_lat,
            lon=unit.position_lon,
            accuracy_m=unit.position_accuracy_m,
            heading_deg=unit.position_heading_deg,
            speed_mps=unit.position_speed_mps,
            source=unit.position_source or "gps",
            at=unit.position_at,
            age_s=(now - unit.position_at).total_seconds(),
        )
    return UnitOut(
        unit_id=unit.unit_id,
        call_sign=unit.call_sign,
        radio_id=unit.radio_id,
        kind=unit.kind,
        status=unit.status,
        status_changed_at=unit.status_changed_at,
        device_ids=device_ids,
        position=position,
    )
