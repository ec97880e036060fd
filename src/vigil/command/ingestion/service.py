"""Ingestion: turn the bytes a device sent into stored facts, exactly once, or into a recorded rejection.

:func:`ingest` never raises for a bad event: it stores it in ``rejected_events`` with a reason code and an
excerpt of what arrived, never a face crop (the dead letters, for diagnosis: :mod:`.rejections`), and returns.
The checks, in order:

1. readable (JSON, an event, fields in range), not a type only the centre sends, a probe crop that is a JPEG
   within the limits;
2. sent by a registered device that is not revoked, about itself (``device_id`` is the sender);
3. new: an id in ``ingested_events`` is a duplicate, acknowledged and otherwise ignored;
4. not stamped in the future (beyond the clock-skew limit), about the device's own unit; an alert naming a
   watchlist version the device was sent and a subject that version held, made with that version's face model
   (:mod:`.sent_watchlists`), not contradicting a stored alert; an officer's emergency stored already (a resend
   under a new event id) is a duplicate, one stored for another unit a conflict;
5. an alert on a watchlist a deployment governs comes from inside the area and window of a running deployment of
   that watchlist, and names no other deployment (:mod:`vigil.command.deployments.coverage`): refused
   ``deployment_not_running`` when all of them are refused, lapsed or ended, ``outside_deployment`` otherwise.
   The alert is stored with its deployment; a silent deployment's alert is stored for later review, with no feed
   entry (the control room's live queue and map never show it);
6. an officer's ``alert.verified`` (the second verification of a match, from the handset) names a confirmed alert
   of no silent trial, whose identity no second person settled yet, and an order the device's unit was sent for an
   incident on that alert (:func:`~vigil.command.verifications.service.check_officer_verification`): refused
   ``verification_refused`` otherwise. A ``same_person`` verdict sends the incident's units the new revision of
   their orders (:func:`~vigil.command.incidents.service.send_verified_identity`).

Positions of a unit whose officer raised an emergency move the emergency's incident to the officer
(:func:`~vigil.command.emergencies.service.follow_officers`). The units proposed on an emergency's
``emergency.raised`` entry, and the incident it moves, are planned with the server's dispatch settings and
arrival-time model (``planning``), as the API plans them.

An accepted event is stored in one transaction with its ``ingested_events`` row and a feed entry, and the
function returns after the commit. Two copies racing each other (an MQTT resend and an HTTP retry, or two
servers) both pass step 3; the primary key lets only one commit, and the other becomes a duplicate.

:func:`ingest_many` does the same for several events in one transaction (the bus subscriber hands it every
message waiting): the checks read what they need for the whole batch in one query each, positions and feed
entries are inserted in bulk, and one commit makes them all durable. Each event still gets its own result, in
order; a copy of an event earlier in the same batch is a duplicate. If the commit fails because a racing copy
committed first, the batch is ingested again one event per transaction, where that copy becomes a duplicate.

Only an unavailable database raises (:class:`DatabaseUnavailable`): nothing can be stored, so the transport
must retry (HTTP 503, the bus redelivers).
"""

import base64
import binascii
import logging
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, assert_never

from pydantic import BaseModel
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.command.alerts.service import event_model, record_alert, stored_alerts
from vigil.command.bulk_insert import bulk_insert
from vigil.command.database import UNAVAILABLE_ERRORS, Base, unavailable
from vigil.command.deployments.coverage import (
    DeploymentCoverage,
    GoverningDeployment,
    NotCovered,
    Uncovered,
    deployment_coverage,
)
from vigil.command.devices.models import Device
from vigil.command.devices.service import record_status as record_device_status
from vigil.command.dispatches.service import record_status as record_dispatch_status
from vigil.command.emergencies.service import follow_officers, known_emergencies, record_emergency
from vigil.command.errors import UnknownAlert
from vigil.command.feed.service import FeedKind, append_entries, open_feed_for_writing
from vigil.command.incidents.service import record_answer, send_verified_identity
from vigil.command.ingestion.metrics import IngestionMetrics, StageTimes
from vigil.command.ingestion.models import IngestedEvent, RejectReason, Transport
from vigil.command.ingestion.rejections import Claim, add_rejection, record_rejection, trim_rejections
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.sent_watchlists import SentWatchlists, sent_watchlists
from vigil.command.reviews.errors import ReviewError
from vigil.command.settings import IngestionLimits
from vigil.command.units.service import record_positions
from vigil.command.value_sets import one_of, stored
from vigil.command.verifications.errors import VerificationError
from vigil.command.verifications.service import SETTLING, check_officer_verification, record_officer_verification
from vigil.dispatch.planning import DispatchPlanning
from vigil.dispatch.settings import DispatchSettings
from vigil.events import (
    AlertRaised,
    AlertVerified,
    DeploymentMode,
    DeviceStatus,
    DispatchStatus,
    IdentityVerdict,
    MalformedEvent,
    OfficerEmergency,
    Position,
    is_from_the_future,
    parse_event,
    utc_now,
)
from vigil.vision.errors import ImageError, ImageTooLarge
from vigil.vision.image import verify_jpeg

_log = logging.getLogger(__name__)


UpEvent = Position | AlertRaised | DeviceStatus | DispatchStatus | OfficerEmergency | AlertVerified
"""The events devices send (``events.DIRECTIONS`` says "up")."""


class _Rejection(Exception):
    """Internal: why an event is turned away. It never leaves this module."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Received:
    """One event as it arrived: its bytes and the device the transport authenticated as its sender.

    Attributes:
        raw: the event's JSON, as received.
        sender: the device that sent it (the MQTT topic, which the broker's ACL ties to the client; the HTTP
            token).
    """

    raw: bytes
    sender: str


def ingest(
    *,
    session: Session,
    raw: bytes,
    transport: Transport,
    authenticated_device_id: str,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    planning: DispatchPlanning | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Store one event sent by a device, or record why not; returns after the commit.

    Args:
        session: a session with no changes pending; this function commits it (or rolls it back).
        raw: the event's JSON, as received.
        transport: how it arrived.
        authenticated_device_id: the device that sent it, as the transport established (the MQTT topic, which
            the broker's ACL ties to the client; the HTTP token).
        limits: what is accepted.
        metrics: counted here.
        planning: the server's dispatch settings and arrival-time model, for an officer's emergency; None: the
            default settings, arrival times in a straight line (tools and tests that ingest without a server).
        now: the time of receipt (UTC); the current time when None.

    Returns:
        Accepted, duplicate or rejected with its reason.

    Raises:
        DatabaseUnavailable: nothing could be stored; retry later.
    """
    (result,) = ingest_many(
        session=session,
        received=[Received(raw=raw, sender=authenticated_device_id)],
        transport=transport,
        limits=limits,
        metrics=metrics,
        planning=planning,
        now=now,
    )
    return result


def ingest_many(
    *,
    session: Session,
    received: Sequence[Received],
    transport: Transport,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    planning: DispatchPlanning | None = None,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Store several events in one transaction, each checked as :func:`ingest` checks it; returns after the commit.

    Args:
        session: a session with no changes pending; this function commits it (or rolls it back).
        received: the events, in arrival order.
        transport: how they arrived.
        limits: what is accepted.
        metrics: counted here.
        planning: as for :func:`ingest`.
        now: the time of receipt (UTC); the current time when None.

    Returns:
        Each event's result, in order: accepted, duplicate or rejected with its reason.

    Raises:
        DatabaseUnavailable: nothing could be stored; retry later.
    """
    received_at = now if now is not None else utc_now()
    planning = planning if planning is not None else DispatchPlanning.of(DispatchSettings())
    stages = StageTimes()
    started = time.perf_counter()
    readable = [_read(item.raw, limits) for item in received]
    stages.read_s = time.perf_counter() - started
    try:
        try:
            results = _ingest_together(session, received, readable, transport, limits, received_at, planning, stages)
        except IntegrityError:
            session.rollback()
            results = [
                _ingest_alone(session, item, event, transport, limits, received_at, planning, stages)
                for item, event in zip(received, readable, strict=True)
            ]
    except UNAVAILABLE_ERRORS as exc:
        session.rollback()
        raise unavailable(exc) from exc
    metrics.count(transport=transport, results=results, stages=stages)
    return results


def _read(raw: bytes, limits: IngestionLimits) -> "UpEvent | _Rejection":
    """The event parsed and checked on its own, or why not (nothing here needs the database)."""
    try:
        return _readable(raw, limits)
    except _Rejection as rejection:
        return rejection


def _ingest_together(
    session: Session,
    received: Sequence[Received],
    readable: Sequence["UpEvent | _Rejection"],
    transport: Transport,
    limits: IngestionLimits,
    received_at: datetime,
    planning: DispatchPlanning,
    stages: StageTimes,
) -> list[IngestResult]:
    """Check every event, store the accepted ones and the rejections, and commit once.

    ``readable`` holds each event parsed, or why it could not be. The time each stage takes is added to
    ``stages``.

    Raises:
        IntegrityError: a racing copy of an event committed first (nothing was committed here).
    """
    started = time.perf_counter()
    events = [e for e in readable if not isinstance(e, _Rejection)]
    devices = {
        sender.device_id: sender
        for sender in map(
            _Sender._make,
            session.execute(  # plain rows: what the checks need, not whole devices
                select(Device.device_id, Device.unit_id, Device.revoked_at).where(
                    one_of(session, Device.device_id, {item.sender for item in received})
                )
            ),
        )
    }
    ids = [e.id for e in events]
    known = stored(session, IngestedEvent.event_id, ids)
    alerts = stored_alerts(session=session, alert_ids=[e.alert_id for e in events if isinstance(e, AlertRaised)])
    emergencies = known_emergencies(
        session=session, emergency_ids=[e.emergency_id for e in events if isinstance(e, OfficerEmergency)]
    )
    sent = sent_watchlists(
        session=session,
        device_ids={item.sender for item, e in zip(received, readable, strict=True) if isinstance(e, AlertRaised)},
    )
    coverage = deployment_coverage(
        session=session, versions={e.watchlist_version for e in events if isinstance(e, AlertRaised)}
    )
    results: list[IngestResult] = []
    accepted: list[tuple[UpEvent, _Sender]] = []
    deployments: dict[uuid.UUID, GoverningDeployment] = {}
    settled: set[uuid.UUID] = set()  # alerts whose identity an officer's verification of this batch settles
    for item, event in zip(received, readable, strict=True):
        try:
            if isinstance(event, _Rejection):
                raise event
            device = _sender(devices.get(item.sender), event, item.sender)
            if event.id in known:
                results.append(_duplicate(event))
                continue
            _plausible(event, device, limits, received_at, taken_alert_ids=alerts, sent=sent, emergencies=emergencies)
            if isinstance(event, OfficerEmergency) and event.emergency_id in emergencies:
                results.append(_duplicate(event))  # a resend of the emergency under another event id
                continue
            deployment = _covered(event, coverage) if isinstance(event, AlertRaised) else None
            if isinstance(event, AlertVerified):
                _verifiable(session, event, device, settled)
        except _Rejection as rejection:
            results.append(
                add_rejection(
                    session=session,
                    raw=item.raw,
                    claim=Claim.read(item.raw),
                    transport=transport,
                    sender_device_id=item.sender,
                    reason=rejection.reason,
                    message=rejection.message,
                    limits=limits,
                    now=received_at,
                )
            )
            continue
        # A later copy in this batch is a duplicate, and a later alert with this id a conflict.
        known.add(event.id)
        if isinstance(event, AlertRaised):
            alerts.add(event.alert_id)
        if isinstance(event, OfficerEmergency):
            emergencies[event.emergency_id] = event.unit_id
        if isinstance(event, AlertVerified) and event.verdict in SETTLING:
            settled.add(event.alert_id)
        accepted.append((event, device))
        if deployment is not None:
            deployments[event.id] = deployment
        results.append(IngestResult.accepted(event.id, event.type))
    checked = time.perf_counter()
    stages.check_s += checked - started
    feed_before = stages.feed_s
    if accepted:
        _store(session, accepted, deployments, transport, received_at, planning, stages)
    if any(result.outcome is Outcome.REJECTED for result in results):
        trim_rejections(session=session, transport=transport, keep=limits.max_rejected_events)
    written = time.perf_counter()
    stages.store_s += written - checked - (stages.feed_s - feed_before)
    session.commit()
    stages.commit_s += time.perf_counter() - written
    _log.debug("ingestion.committed", extra={"accepted": len(accepted), "events": len(received)})
    return results


def _ingest_alone(
    session: Session,
    item: Received,
    event: "UpEvent | _Rejection",
    transport: Transport,
    limits: IngestionLimits,
    received_at: datetime,
    planning: DispatchPlanning,
    stages: StageTimes,
) -> IngestResult:
    """Ingest one event in its own transaction; a copy that committed first makes it a duplicate."""
    try:
        (result,) = _ingest_together(session, [item], [event], transport, limits, received_at, planning, stages)
    except IntegrityError as exc:
        session.rollback()
        claim = Claim.read(item.raw)
        if claim.event_id is not None and session.get(IngestedEvent, claim.event_id) is not None:
            return IngestResult(outcome=Outcome.DUPLICATE, event_id=claim.event_id, type=claim.type)
        return record_rejection(
            session=session,
            raw=item.raw,
            claim=claim,
            transport=transport,
            sender_device_id=item.sender,
            reason=RejectReason.CONFLICT,
            message=f"it contradicts a stored event ({exc.orig})",
            limits=limits,
            now=received_at,
        )
    return result


def _readable(raw: bytes, limits: IngestionLimits) -> UpEvent:
    try:
        event = parse_event(raw)
    except MalformedEvent as exc:
        # When the crop is what is wrong (too large for the schema, not a JPEG), say so rather than "malformed".
        claim = Claim.read(raw)
        if claim.type == "alert.raised" and claim.probe_base64 is not None:
            _check_probe(claim.probe_base64, limits)
        raise _Rejection(RejectReason.MALFORMED, exc.reason) from exc
    if isinstance(event, AlertRaised):
        _check_probe_bytes(event.probe_jpeg, limits)
    if not isinstance(event, UpEvent):
        raise _Rejection(
            RejectReason.DOWN_ONLY_TYPE,
            f"{event.type!r} events travel from the command centre to devices, never to the centre",
        )
    return event


def _check_probe(encoded: str, limits: IngestionLimits) -> None:
    """Reject a probe crop over the byte or pixel limits, or one that does not decode as a JPEG.

    Text that is not base64 is left to the event schema, which calls it malformed.
    """
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return
    _check_probe_bytes(data, limits)


def _check_probe_bytes(data: bytes, limits: IngestionLimits) -> None:
    if len(data) > limits.max_probe_bytes:
        raise _Rejection(
            RejectReason.PROBE_TOO_LARGE,
            f"the probe crop is {len(data):,} bytes; the limit is {limits.max_probe_bytes:,}",
        )
    # The crop is stored and shown to reviewers byte for byte: it must be one whole JPEG and nothing else (no
    # scan cut short, nothing after its end), within the size limit, which is checked before it is decoded.
    try:
        verify_jpeg(data, max_side_px=limits.max_probe_side_px, source="the probe crop")
    except ImageTooLarge as exc:
        raise _Rejection(RejectReason.PROBE_TOO_LARGE, str(exc)) from exc
    except ImageError as exc:
        raise _Rejection(RejectReason.PROBE_NOT_JPEG, str(exc)) from exc


class _Sender(NamedTuple):
    """What the checks need of the device that sent an event."""

    device_id: str
    unit_id: str
    revoked_at: datetime | None


def _sender(device: _Sender | None, event: UpEvent, sender: str) -> _Sender:
    if device is None:
        raise _Rejection(RejectReason.UNKNOWN_DEVICE, f"no device {sender!r} is registered")
    if device.revoked_at is not None:
        raise _Rejection(RejectReason.REVOKED_DEVICE, f"device {sender!r} was revoked")
    if event.device_id != sender:
        raise _Rejection(
            RejectReason.DEVICE_MISMATCH, f"device {sender!r} sent an event for device {event.device_id!r}"
        )
    return device


def _plausible(
    event: UpEvent,
    device: _Sender,
    limits: IngestionLimits,
    received_at: datetime,
    *,
    taken_alert_ids: Collection[uuid.UUID],
    sent: SentWatchlists,
    emergencies: Mapping[uuid.UUID, str],
) -> None:
    skew = timedelta(seconds=limits.max_clock_skew_s)
    if is_from_the_future(event, now=received_at, tolerance=skew):
        raise _Rejection(
            RejectReason.FROM_THE_FUTURE,
            f"the event is stamped {event.at.isoformat()}, {(event.at - received_at).total_seconds():,.0f} s after "
            f"it arrived; the allowed clock skew is {limits.max_clock_skew_s:g} s (check the device's clock)",
        )
    if isinstance(event, Position | AlertRaised | OfficerEmergency | AlertVerified) and event.unit_id != device.unit_id:
        raise _Rejection(
            RejectReason.UNIT_MISMATCH,
            f"device {device.device_id!r} serves unit {device.unit_id!r}, not {event.unit_id!r}",
        )
    if isinstance(event, AlertRaised):
        _sent_to_device(event, sent)
    if isinstance(event, AlertRaised) and event.alert_id in taken_alert_ids:
        raise _Rejection(RejectReason.CONFLICT, f"alert {event.alert_id} is already stored under another event")
    if isinstance(event, OfficerEmergency) and emergencies.get(event.emergency_id, event.unit_id) != event.unit_id:
        raise _Rejection(
            RejectReason.CONFLICT,
            f"emergency {event.emergency_id} is stored for unit {emergencies[event.emergency_id]!r}, "
            f"not {event.unit_id!r}",
        )


def _sent_to_device(event: AlertRaised, sent: SentWatchlists) -> None:
    """Reject an alert naming a watchlist version, or a subject, its device was never sent, or of another model."""
    subjects = sent.subjects(event.device_id, event.watchlist_version)
    if subjects is None:
        newest = sent.newest(event.device_id)
        held = f"its newest is version {newest}" if newest is not None else "it was sent none"
        raise _Rejection(
            RejectReason.VERSION_NOT_SENT,
            f"device {event.device_id!r} was never sent watchlist version {event.watchlist_version} ({held}); "
            "an alert must name a version the device was sent",
        )
    if event.subject_id not in subjects:
        raise _Rejection(
            RejectReason.SUBJECT_NOT_SENT,
            f"watchlist version {event.watchlist_version}, as sent to device {event.device_id!r}, does not hold "
            f"subject {event.subject_id!r}",
        )
    model, expected = event_model(event), sent.model(event.watchlist_version)
    if model != expected:
        raise _Rejection(
            RejectReason.MODEL_MISMATCH,
            f"the alert was made with face model {model}, but watchlist version {event.watchlist_version} is made "
            f"with {expected}: distances between two models' embeddings mean nothing (the device runs another "
            "model than its package's)",
        )


def _verifiable(session: Session, event: AlertVerified, device: _Sender, settled: Collection[uuid.UUID]) -> None:
    """Reject an officer's verification of a match their unit was not sent, or that cannot be verified now."""
    try:
        check_officer_verification(session=session, event=event, unit_id=device.unit_id, settled=settled)
    except (VerificationError, ReviewError, UnknownAlert) as exc:
        raise _Rejection(RejectReason.VERIFICATION_REFUSED, str(exc)) from exc


def _covered(event: AlertRaised, coverage: DeploymentCoverage) -> GoverningDeployment | None:
    """The deployment covering an alert; None when its watchlist is governed by none."""
    found = coverage.cover(event)
    if not isinstance(found, NotCovered):
        return found
    match found.why:
        case Uncovered.NOT_RUNNING:
            raise _Rejection(RejectReason.DEPLOYMENT_NOT_RUNNING, found.message)
        case Uncovered.OUTSIDE:
            raise _Rejection(RejectReason.OUTSIDE_DEPLOYMENT, found.message)
        case _:
            assert_never(found.why)


def _store(
    session: Session,
    accepted: Sequence[tuple[UpEvent, _Sender]],
    deployments: Mapping[uuid.UUID, GoverningDeployment],
    transport: Transport,
    received_at: datetime,
    planning: DispatchPlanning,
    stages: StageTimes,
) -> None:
    """Add the accepted events' rows and feed entries, in order; the caller commits.

    ``deployments`` holds the deployment covering each alert a deployment governs, by event id. The time the feed
    entries take is added to ``stages.feed_s``.
    """
    # Before any row lock: a feed reader may be waiting for the writers' lock (see vigil.command.feed.service).
    open_feed_for_writing(session=session)
    # The idempotency rows go first: the other rows refer to them, and a racing copy fails here.
    bulk_insert(
        session=session,
        table=Base.metadata.tables[IngestedEvent.__tablename__],
        columns=("event_id", "type", "device_id", "at"),
        rows=[(event.id, event.type, event.device_id, event.at) for event, _ in accepted],
        same_for_all={"transport": transport, "received_at": received_at},
    )
    positions = [event for event, _ in accepted if isinstance(event, Position)]
    # The feed shows where units are now: each unit's newest position of the batch, and none that arrived late.
    moved = record_positions(session=session, events=positions, received_at=received_at)
    follow_officers(session=session, moved=moved, now=received_at, settings=planning.settings)
    entries: list[tuple[FeedKind, BaseModel]] = []
    for event, device in accepted:
        match event:
            case Position():
                report = moved.get(event.unit_id)
                if report is not None and report.event_id == event.id:
                    entries.append((FeedKind.UNIT_POSITION, report))
            case AlertRaised():
                deployment = deployments.get(event.id)
                summary = record_alert(
                    session=session,
                    event=event,
                    received_at=received_at,
                    deployment_id=deployment.deployment_id if deployment is not None else None,
                    silent=deployment is not None and deployment.mode is DeploymentMode.SILENT,
                )
                if not summary.silent:  # a silent trial's alert waits for later review, unseen live
                    entries.append((FeedKind.ALERT_RAISED, summary))
            case DeviceStatus():
                status = record_device_status(
                    session=session, event=event, device=_device(session, device), received_at=received_at
                )
                entries.append((FeedKind.DEVICE_STATUS, status))
            case DispatchStatus():
                answer = record_dispatch_status(
                    session=session, event=event, device=_device(session, device), received_at=received_at
                )
                entries.append((FeedKind.DISPATCH_STATUS, answer))
                record_answer(session=session, answer=event, unit_id=device.unit_id, now=received_at)
            case OfficerEmergency():
                raised = record_emergency(
                    session=session,
                    event=event,
                    received_at=received_at,
                    planning=planning,
                )
                entries.append((FeedKind.EMERGENCY_RAISED, raised))
            case AlertVerified():
                verified = record_officer_verification(session=session, event=event, received_at=received_at)
                entries.append((FeedKind.ALERT_VERIFIED, verified))
                if event.verdict is IdentityVerdict.SAME_PERSON:
                    send_verified_identity(
                        session=session, alert_id=event.alert_id, now=received_at, settings=planning.settings
                    )
            case _:
                assert_never(event)
    feed_from = time.perf_counter()
    append_entries(session=session, entries=entries, now=received_at)
    stages.feed_s += time.perf_counter() - feed_from
    session.execute(
        update(Device)
        .where(one_of(session, Device.device_id, sorted({event.device_id for event, _ in accepted})))
        .where(or_(Device.last_seen_at.is_(None), Device.last_seen_at < received_at))
        .values(last_seen_at=received_at)
        .execution_options(synchronize_session=False)
    )


def _device(session: Session, sender: _Sender) -> Device:
    """The whole device, for the events that change it (status reports, a few a minute; positions need none)."""
    return session.get_one(Device, sender.device_id)  # read moments ago, and devices are never deleted


def _duplicate(event: UpEvent) -> IngestResult:
    return IngestResult(outcome=Outcome.DUPLICATE, event_id=event.id, type=event.type)
