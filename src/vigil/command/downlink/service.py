"""Events for devices: stored with the decision that made them, then published, at least once.

A review decision, a new watchlist version or a dispatch order is committed together with the event that tells
the device (:func:`enqueue`), so a decision is never lost between the database and the bus.
:func:`deliver_pending` then publishes what is unpublished, oldest first, and marks it published once the bus has
accepted it. A failure leaves the rest for the next attempt; a message published twice (two servers, or a crash
between publishing and marking) is harmless: devices recognise events by id, a review decision is idempotent, an
order's revision that is not newer than the one held is ignored, and so is an announced version that is not newer
than the one held.
"""

import logging
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from vigil.bus.errors import BusError
from vigil.bus.protocol import Bus
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.events import (
    AlertReviewed,
    DeploymentStopped,
    DispatchCancelled,
    DispatchOrder,
    EmergencyAcknowledged,
    WatchlistAvailable,
    encode_event,
    topic_for,
    utc_now,
)

_log = logging.getLogger(__name__)

ENQUEUED = "vigil.downlink.enqueued"
"""``Session.info`` key: set when the session's transaction enqueued a message (to wake the sender on commit)."""

DownEvent = (
    AlertReviewed | WatchlistAvailable | DispatchOrder | DispatchCancelled | DeploymentStopped | EmergencyAcknowledged
)
"""What the command centre sends devices: review decisions, watchlist announcements, orders and stand-downs, a
deployment's stop, and an operator's acknowledgement of an officer's emergency."""


def enqueue(*, session: Session, event: DownEvent, now: datetime) -> None:
    """Store an event for its device; it is published after the caller commits."""
    session.add(
        DownlinkMessage(
            event_id=event.id,
            device_id=event.device_id,
            type=event.type,
            topic=topic_for(event),
            payload=encode_event(event),
            created_at=now,
        )
    )
    session.info[ENQUEUED] = True


def deliver_pending(*, database: Database, bus: Bus, limit: int = 500) -> int:
    """Publish unpublished events, oldest first, and mark each published once the bus accepted it.

    On PostgreSQL the rows being published are locked (``SKIP LOCKED``), so two servers do not publish the same
    ones at once.

    Returns:
        How many were published.

    Raises:
        DatabaseUnavailable: the database cannot be reached.
    """
    with database.read_session() as session:
        if not any_pending(session=session):
            return 0  # without taking SQLite's write lock, which ingestion would wait for
    published = 0
    with database.session() as session:
        query = (
            select(DownlinkMessage)
            .where(DownlinkMessage.published_at.is_(None))
            .order_by(DownlinkMessage.id)
            .limit(limit)
        )
        if database.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for message in session.scalars(query):
            try:
                bus.publish(message.topic, message.payload)
            except BusError as exc:
                _log.warning("downlink.not_published", extra={"type": message.type, "reason": str(exc)})
                break
            message.published_at = utc_now()
            published += 1
        session.commit()
    return published


def any_pending(*, session: Session) -> bool:
    """Whether any event waits to be published."""
    return bool(session.scalar(select(exists().where(DownlinkMessage.published_at.is_(None)))))


def pending_count(*, session: Session) -> int:
    """How many events wait to be published."""
    return int(
        session.scalar(select(func.count(DownlinkMessage.id)).where(DownlinkMessage.published_at.is_(None))) or 0
    )
