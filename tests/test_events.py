import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from vigil import events
from vigil.events import (
    DIRECTIONS,
    EVENT_TYPES,
    Ack,
    AlertRaised,
    AlertReviewed,
    AlertVerified,
    DeploymentMode,
    DeploymentScope,
    DeploymentStopped,
    DeploymentStopReason,
    DeviceStatus,
    DispatchCancelled,
    DispatchOrder,
    DispatchStatus,
    EmergencyAcknowledged,
    EmergencyBrief,
    EmergencyTrigger,
    IdentityVerdict,
    Location,
    MalformedEvent,
    MatchEvidence,
    OfficerEmergency,
    Position,
    QualitySummary,
    SubjectBrief,
    WatchlistAvailable,
    encode_event,
    is_from_the_future,
    new_event_id,
    parse_event,
    topic_for,
)
from vigil.vision import face_model
from vigil.vision.face_model import DLIB_MODEL_ID

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
AREA = {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]}

SAMPLES = {
    "position": Position(
        device_id="cam-1", unit_id="u1", lat=51.5, lon=-0.12, accuracy_m=5, heading_deg=90, speed_mps=1.4
    ),
    "alert.raised": AlertRaised(
        device_id="cam-1",
        alert_id=uuid.uuid4(),
        unit_id="u1",
        subject_id="s1",
        watchlist_version=3,
        model=DLIB_MODEL_ID,
        distance=0.41,
        threshold=0.5,
        quality=QualitySummary(score=0.8, parts={"sharpness": 120.0}),
        frames=4,
        first_seen_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        location=Location(lat=51.5, lon=-0.12, accuracy_m=8),
        probe_jpeg=JPEG,
    ),
    "alert.reviewed": AlertReviewed(device_id="cam-1", alert_id=uuid.uuid4(), decision="confirmed", reviewer="op.a"),
    "dispatch.order": DispatchOrder(
        device_id="cam-1",
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="u1",
        target=Location(lat=51.5, lon=-0.12),
        area=AREA,
        subject=SubjectBrief(subject_id="s1", name="A Person", category="wanted_on_warrant", photo_jpeg=JPEG),
        evidence=MatchEvidence(
            alert_id=uuid.uuid4(),
            seen_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
            distance=0.41,
            threshold=0.5,
            probe_jpeg=JPEG,
            enrolled_jpeg=JPEG,
        ),
        revision=2,
    ),
    "dispatch.cancelled": DispatchCancelled(device_id="cam-1", dispatch_id=uuid.uuid4(), reason="incident closed"),
    "dispatch.status": DispatchStatus(device_id="cam-1", dispatch_id=uuid.uuid4(), status="en_route"),
    "alert.verified": AlertVerified(
        device_id="cam-1",
        alert_id=uuid.uuid4(),
        dispatch_id=uuid.uuid4(),
        unit_id="u1",
        verdict=IdentityVerdict.SAME_PERSON,
    ),
    "watchlist.available": WatchlistAvailable(
        device_id="cam-1",
        version=4,
        sha256="a" * 64,
        url="https://cc/pkg/4",
        scope=DeploymentScope(
            deployment_id=uuid.uuid4(),
            area={
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-0.12, 51.5]},
                "properties": {"radius_m": 500},
            },
            starts_at=datetime(2026, 12, 7, 8, tzinfo=UTC),
            ends_at=datetime(2026, 12, 7, 20, tzinfo=UTC),
            mode=DeploymentMode.SILENT,
        ),
    ),
    "deployment.stopped": DeploymentStopped(
        device_id="cam-1", deployment_id=uuid.uuid4(), reason=DeploymentStopReason.REFUSED, delete_results=True
    ),
    "device.status": DeviceStatus(device_id="cam-1", battery_pct=80, watchlist_version=4, faces_processed=120),
    "officer.emergency": OfficerEmergency(
        device_id="cam-1",
        emergency_id=uuid.uuid4(),
        unit_id="u1",
        trigger=EmergencyTrigger.HANDSET,
        location=Location(lat=51.5, lon=-0.12, accuracy_m=8),
    ),
    "emergency.acknowledged": EmergencyAcknowledged(
        device_id="cam-1", emergency_id=uuid.uuid4(), by="Operator One", message="2 units on their way"
    ),
    "ack": Ack(device_id="cam-1", ids=[uuid.uuid4()]),
}

_EMERGENCY = EmergencyBrief(
    emergency_id=uuid.uuid4(), unit_id="A-12", call_sign="Alpha 12", raised_at=datetime(2026, 12, 7, tzinfo=UTC)
)


def test_an_officer_in_danger_order_carries_the_officer_and_no_subject() -> None:
    order = DispatchOrder(
        device_id="cam-1",
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="u2",
        target=Location(lat=51.5, lon=-0.12),
        area=AREA,
        emergency=_EMERGENCY,
    )
    assert parse_event(encode_event(order)) == order
    sample = SAMPLES["dispatch.order"]
    assert isinstance(sample, DispatchOrder)
    with pytest.raises(ValidationError, match="or for an officer in danger"):
        DispatchOrder.model_validate(sample.model_dump() | {"evidence": None})
    with pytest.raises(ValidationError, match="carries no subject"):
        DispatchOrder.model_validate(sample.model_dump() | {"emergency": _EMERGENCY.model_dump()})


def test_every_event_type_has_a_sample_a_direction_and_a_topic() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES) == set(DIRECTIONS)


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_every_event_round_trips_through_json(kind: str) -> None:
    event = SAMPLES[kind]
    assert isinstance(event, EVENT_TYPES[kind])
    assert parse_event(encode_event(event)) == event
    assert topic_for(event) == f"vigil/v1/devices/cam-1/{DIRECTIONS[kind].value}/{kind}"


def test_images_travel_as_base64() -> None:
    document = json.loads(encode_event(SAMPLES["alert.raised"]))
    assert base64.b64decode(document["probe_jpeg"]) == JPEG


def test_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(50)]
    assert {i.version for i in ids} == {7}
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)


def test_times_are_normalised_to_utc() -> None:
    local = datetime(2026, 11, 25, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    event = Position(device_id="cam-1", unit_id="u1", lat=0, lon=0, at=local)
    assert event.at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert event.at.tzinfo == UTC


def _alert(**changes: object) -> bytes:
    document = json.loads(encode_event(SAMPLES["alert.raised"]))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"type": "teleport", "device_id": "cam-1"}', "does not match any of the expected tags"),
        (
            b'{"type": "position", "device_id": "cam-1", "unit_id": "u1", "lat": 91, "lon": 0}',
            "lat: Input should be less than or equal to 90",
        ),
        (b'{"type": "position", "device_id": "cam-1", "unit_id": "u1", "lat": 1, "lon": -180.5}', "lon"),
        (b'{"type": "position", "device_id": "cam 1!", "unit_id": "u1", "lat": 1, "lon": 1}', "device_id"),
        (
            b'{"type": "position", "device_id": "cam-1", "unit_id": "u1", "lat": 1, "lon": 1, '
            b'"at": "2026-11-25T12:00:00"}',
            "timezone",
        ),
        (
            b'{"type": "position", "device_id": "cam-1", "unit_id": "u1", "lat": 1, "lon": 1, "extra": 1}',
            "Extra inputs",
        ),
        (_alert(probe_jpeg=base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()), "not a JPEG image"),
        (_alert(probe_jpeg=base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 300_000).decode()), "the limit is 262,144"),
        (_alert(probe_jpeg="!!!not base64"), "not valid base64"),
        (_alert(model="dlib"), "model"),
        (_alert(model=DLIB_MODEL_ID.upper()), "model"),
        (b" " * 1_100_000, "the limit is 1,048,576"),
    ],
    ids=[
        "not-json",
        "unknown-type",
        "lat",
        "lon",
        "device-id",
        "naive-time",
        "extra",
        "png-crop",
        "huge-crop",
        "bad-b64",
        "model-not-an-id",
        "model-upper-case-digest",
        "huge",
    ],
)
def test_malformed_events_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        parse_event(data)


def test_future_timestamps_are_detected() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    event = Position(device_id="cam-1", unit_id="u1", lat=0, lon=0, at=now + timedelta(hours=1))
    assert is_from_the_future(event, now=now)
    assert not is_from_the_future(event, now=now + timedelta(minutes=56))


def test_the_contracts_model_id_pattern_is_the_vision_one() -> None:
    # events.py imports nothing of Vigil's, so it repeats the pattern; the two must never drift apart.
    assert events.MODEL_ID_PATTERN == face_model.MODEL_ID_PATTERN


def test_an_alert_names_its_model_and_an_older_device_alert_has_none() -> None:
    parsed = parse_event(encode_event(SAMPLES["alert.raised"]))
    assert isinstance(parsed, AlertRaised)
    assert parsed.model == DLIB_MODEL_ID
    document = json.loads(encode_event(SAMPLES["alert.raised"]))
    del document["model"]
    older = parse_event(json.dumps(document).encode())
    assert isinstance(older, AlertRaised)
    assert older.model is None
