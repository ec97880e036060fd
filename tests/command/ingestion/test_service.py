"""Ingestion stores each event once, with its feed entry, or records why it did not."""

import io
import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.command.conftest import Register
from tests.command.events import alert, device_status, dispatch_status, position, send_watchlist, with_fields
from tests.command.governance import OTHER_MODEL
from vigil.command.alerts.models import Alert
from vigil.command.database import Database
from vigil.command.devices.models import Device, DeviceStatusRecord
from vigil.command.devices.service import revoke_device
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.errors import DatabaseUnavailable
from vigil.command.feed.models import FeedEntry
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import IngestedEvent, RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.service import Received, ingest, ingest_many
from vigil.command.settings import IngestionLimits
from vigil.command.units.models import PositionRecord, Unit
from vigil.events import Ack, AlertReviewed, ReviewDecision, encode_event, utc_now


@pytest.fixture
def devices(register: Register, database: Database) -> None:
    """cam-1 serves A-12 and was sent watchlist version 3, cam-2 serves B-7, cam-old was revoked."""
    register("cam-1", "A-12")
    register("cam-2", "B-7")
    register("cam-old", "A-12")
    send_watchlist(database, "cam-1")
    with database.session() as session:
        revoke_device(actor="system", address=None, session=session, device_id="cam-old", now=utc_now())


def _ingest(database: Database, limits: IngestionLimits, raw: bytes, sender: str = "cam-1") -> IngestResult:
    with database.session() as session:
        return ingest(
            session=session,
            raw=raw,
            transport=Transport.MQTT,
            authenticated_device_id=sender,
            limits=limits,
            metrics=IngestionMetrics(),
        )


def _count(session: Session, table: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def _event_entries(session: Session) -> list[FeedEntry]:
    """The feed's entries for events (registering a device adds its unit's, which these tests do not count)."""
    return list(session.scalars(select(FeedEntry).where(FeedEntry.kind != "unit.changed").order_by(FeedEntry.seq)))


def _jpeg(width: int, height: int, *, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 64).convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _png(probe: bytes) -> bytes:
    out = io.BytesIO()
    with Image.open(io.BytesIO(probe)) as image:
        image.save(out, format="PNG")
    return out.getvalue()


STORED: list[tuple[str, Callable[[bytes], Any], type[Any], str]] = [
    ("position", lambda probe: position(), PositionRecord, "unit.position"),
    ("alert", lambda probe: alert(probe), Alert, "alert.raised"),
    ("device status", lambda probe: device_status(), DeviceStatusRecord, "device.status"),
    ("dispatch status", lambda probe: dispatch_status(), DispatchStatusRecord, "dispatch.status"),
]


@pytest.mark.usefixtures("devices")
@pytest.mark.parametrize(("make", "table", "feed_kind"), [case[1:] for case in STORED], ids=[c[0] for c in STORED])
def test_an_accepted_event_is_stored_with_its_idempotency_row_and_feed_entry(
    database: Database,
    limits: IngestionLimits,
    probe_jpeg: bytes,
    make: Callable[[bytes], Any],
    table: type[Any],
    feed_kind: str,
) -> None:
    event = make(probe_jpeg)
    result = _ingest(database, limits, encode_event(event))
    assert result == IngestResult(outcome=Outcome.ACCEPTED, event_id=event.id, type=event.type)
    with database.session() as session:
        assert _count(session, table) == 1
        assert session.get_one(IngestedEvent, event.id).transport is Transport.MQTT
        (entry,) = _event_entries(session)
        assert (entry.kind, entry.payload["event_id"]) == (feed_kind, str(event.id))
        assert session.get_one(Device, "cam-1").last_seen_at is not None


@pytest.mark.usefixtures("devices")
def test_a_copy_is_a_duplicate_and_changes_nothing(database: Database, limits: IngestionLimits) -> None:
    raw = encode_event(position())
    first, second = _ingest(database, limits, raw), _ingest(database, limits, raw)
    assert (first.outcome, second.outcome) == (Outcome.ACCEPTED, Outcome.DUPLICATE)
    assert second.event_id == first.event_id
    with database.session() as session:
        assert (_count(session, PositionRecord), len(_event_entries(session))) == (1, 1)


@pytest.mark.usefixtures("devices")
def test_copies_racing_each_other_are_stored_once(database: Database, limits: IngestionLimits) -> None:
    raw = encode_event(position())
    start = threading.Barrier(4)
    results: list[IngestResult] = []

    def send() -> None:
        start.wait()
        results.append(_ingest(database, limits, raw))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.outcome for r in results) == [Outcome.ACCEPTED] + [Outcome.DUPLICATE] * 3
    with database.session() as session:
        assert (_count(session, PositionRecord), len(_event_entries(session))) == (1, 1)


def _big_probe(limits: IngestionLimits) -> bytes:
    data = _jpeg(900, 900, quality=95)
    assert len(data) > limits.max_probe_bytes
    return data


# name, the bytes sent (given a real probe crop), the sending device, the expected reason
REJECTED: list[tuple[str, Callable[[bytes], bytes], str, RejectReason]] = [
    ("not JSON", lambda probe: b"{not json", "cam-1", RejectReason.MALFORMED),
    ("not an event", lambda probe: b'{"type": "selfie"}', "cam-1", RejectReason.MALFORMED),
    ("latitude out of range", lambda probe: with_fields(position(), lat=91.5), "cam-1", RejectReason.MALFORMED),
    ("longitude out of range", lambda probe: with_fields(position(), lon=-181), "cam-1", RejectReason.MALFORMED),
    (
        "an hour in the future",
        lambda probe: encode_event(position(at=utc_now() + timedelta(hours=1))),
        "cam-1",
        RejectReason.FROM_THE_FUTURE,
    ),
    ("unknown device", lambda probe: encode_event(position(device_id="ghost")), "ghost", RejectReason.UNKNOWN_DEVICE),
    (
        "revoked device",
        lambda probe: encode_event(position(device_id="cam-old")),
        "cam-old",
        RejectReason.REVOKED_DEVICE,
    ),
    (
        "speaking as another device",
        lambda probe: encode_event(position(device_id="cam-2", unit_id="B-7")),
        "cam-1",
        RejectReason.DEVICE_MISMATCH,
    ),
    (
        "speaking for another unit",
        lambda probe: encode_event(position(unit_id="B-7")),
        "cam-1",
        RejectReason.UNIT_MISMATCH,
    ),
    (
        "alert for another unit",
        lambda probe: encode_event(alert(probe, unit_id="B-7")),
        "cam-1",
        RejectReason.UNIT_MISMATCH,
    ),
    (
        "alert of another face model than its version's",
        lambda probe: encode_event(alert(probe, model=OTHER_MODEL.model_id)),
        "cam-1",
        RejectReason.MODEL_MISMATCH,
    ),
    (
        "probe over the byte limit",
        lambda probe: with_fields(alert(probe), probe_jpeg=_jpeg(900, 900, quality=95)),
        "cam-1",
        RejectReason.PROBE_TOO_LARGE,
    ),
    (
        "probe over the pixel limit",
        lambda probe: with_fields(alert(probe), probe_jpeg=_jpeg(2100, 8)),
        "cam-1",
        RejectReason.PROBE_TOO_LARGE,
    ),
    (
        "probe is a PNG",
        lambda probe: with_fields(alert(probe), probe_jpeg=_png(probe)),
        "cam-1",
        RejectReason.PROBE_NOT_JPEG,
    ),
    (
        "probe is a cut-off JPEG",
        lambda probe: with_fields(alert(probe), probe_jpeg=probe[: len(probe) // 2]),
        "cam-1",
        RejectReason.PROBE_NOT_JPEG,
    ),
    (
        "an ack sent up",
        lambda probe: encode_event(Ack(device_id="cam-1", ids=[uuid.uuid4()])),
        "cam-1",
        RejectReason.DOWN_ONLY_TYPE,
    ),
    (
        "a review sent up",
        lambda probe: encode_event(
            AlertReviewed(device_id="cam-1", alert_id=uuid.uuid4(), decision=ReviewDecision.CONFIRMED, reviewer="x")
        ),
        "cam-1",
        RejectReason.DOWN_ONLY_TYPE,
    ),
]


@pytest.mark.usefixtures("devices")
@pytest.mark.parametrize(("make", "sender", "reason"), [case[1:] for case in REJECTED], ids=[c[0] for c in REJECTED])
def test_a_rejected_event_is_recorded_with_its_reason_and_an_excerpt_without_its_crop(
    database: Database,
    probe_jpeg: bytes,
    make: Callable[[bytes], bytes],
    sender: str,
    reason: RejectReason,
) -> None:
    limits = IngestionLimits(max_probe_bytes=64 * 1024, max_rejected_raw_bytes=1024)
    raw = make(probe_jpeg)
    result = _ingest(database, limits, raw, sender=sender)
    assert (result.outcome, result.reason) == (Outcome.REJECTED, reason)
    with database.session() as session:
        rejected = session.scalars(select(RejectedEvent)).one()
        assert (rejected.reason, rejected.sender_device_id, rejected.transport) == (reason, sender, Transport.MQTT)
        if b'"probe_jpeg"' in raw:
            assert b"face crop removed" in rejected.raw
            assert json.loads(raw)["probe_jpeg"][:100].encode() not in rejected.raw
        else:
            assert rejected.raw == raw[:1024]
        assert len(rejected.raw) <= 1024
        assert rejected.raw_size == len(raw)
        assert rejected.message == result.message
        assert (_count(session, IngestedEvent), len(_event_entries(session))) == (0, 0)


@pytest.mark.usefixtures("devices")
def test_the_kept_bytes_are_capped(database: Database, limits: IngestionLimits) -> None:
    raw = with_fields(position(), lat=95.0, padding="x " * 2500)
    _ingest(database, limits, raw)
    with database.session() as session:
        rejected = session.scalars(select(RejectedEvent)).one()
    assert (len(rejected.raw), rejected.raw_size) == (limits.max_rejected_raw_bytes, len(raw))
    assert rejected.claimed_type == "position"


@pytest.mark.usefixtures("devices")
def test_an_alert_id_stored_under_another_event_is_a_conflict(
    database: Database, limits: IngestionLimits, probe_jpeg: bytes
) -> None:
    first = alert(probe_jpeg)
    again = first.model_copy(update={"id": uuid.uuid4()})
    assert _ingest(database, limits, encode_event(first)).outcome is Outcome.ACCEPTED
    result = _ingest(database, limits, encode_event(again))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, RejectReason.CONFLICT)
    with database.session() as session:
        assert session.get(IngestedEvent, again.id) is None
        assert (_count(session, Alert), len(_event_entries(session))) == (1, 1)


def test_an_unreachable_database_raises_so_the_transport_retries(limits: IngestionLimits) -> None:
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/vigil", connect_timeout_s=2)
    with pytest.raises(DatabaseUnavailable, match="try again"):
        _ingest(database, limits, encode_event(position()))
    database.dispose()


def test_devices_of_one_unit_reporting_at_once_all_get_through(
    register: Register, database: Database, limits: IngestionLimits
) -> None:
    register("cam-1", "A-12")
    register("cam-2", "A-12")
    events = [position(device_id=f"cam-{1 + n % 2}", lat=51.5 + n / 1000) for n in range(16)]
    start = threading.Barrier(len(events))
    results: list[IngestResult] = []

    def send(event: Any) -> None:
        start.wait()
        results.append(_ingest(database, limits, encode_event(event), sender=event.device_id))

    threads = [threading.Thread(target=send, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * len(events)


def test_a_batch_moves_each_unit_to_its_newest_position_and_the_feed_shows_only_that(
    devices: None, database: Database, limits: IngestionLimits
) -> None:
    start = utc_now() - timedelta(minutes=1)
    a_12 = [position(lat=51.5 + n / 1000, at=start + timedelta(seconds=n)) for n in (1, 3, 2)]  # the last is late
    b_7 = [position(device_id="cam-2", unit_id="B-7", lat=51.6, at=start)]
    received = [Received(raw=encode_event(e), sender=e.device_id) for e in (a_12[0], b_7[0], a_12[1], a_12[2])]
    with database.session() as session:
        results = ingest_many(
            session=session, received=received, transport=Transport.MQTT, limits=limits, metrics=IngestionMetrics()
        )
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4
    with database.session() as session:
        assert _count(session, PositionRecord) == 4  # every report is in the tracks
        feed = [(e.kind, e.payload["event_id"]) for e in _event_entries(session)]
        units = {u.unit_id: (u.position_lat, u.position_at) for u in session.scalars(select(Unit))}
    assert feed == [("unit.position", str(b_7[0].id)), ("unit.position", str(a_12[1].id))]
    assert units["A-12"] == (a_12[1].lat, a_12[1].at)
    assert units["B-7"] == (51.6, start)
