"""Events as a device would send them, for the command-centre tests."""

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.watchlists.models import VersionReason, Watchlist, WatchlistVersion
from vigil.events import (
    AlertEvidence,
    AlertRaised,
    DeviceStatus,
    DispatchState,
    DispatchStatus,
    Location,
    Position,
    QualitySummary,
    WatchlistAvailable,
    encode_event,
    topic_for,
    utc_now,
)
from vigil.vision.face_model import DLIB_MODEL_ID


def position(**changes: Any) -> Position:
    fields: dict[str, Any] = {"device_id": "cam-1", "unit_id": "A-12", "lat": 51.5081, "lon": -0.1281}
    return Position(**(fields | changes))


def alert(probe_jpeg: bytes, **changes: Any) -> AlertRaised:
    fields: dict[str, Any] = {
        "device_id": "cam-1",
        "unit_id": "A-12",
        "alert_id": uuid.uuid4(),
        "subject_id": "obama",
        "watchlist_version": 3,
        "distance": 0.41,
        "threshold": 0.5,
        "quality": QualitySummary(score=0.8, parts={"sharpness": 0.9}),
        "frames": 4,
        "first_seen_at": utc_now() - timedelta(seconds=3),
        "location": Location(lat=51.5081, lon=-0.1281, accuracy_m=8),
        "probe_jpeg": probe_jpeg,
    }
    return AlertRaised(**(fields | changes))


def evidence() -> AlertEvidence:
    """Two of seven faces of the track matched: what a device says backed its alert."""
    return AlertEvidence(
        faces_searched=7,
        matched_qualities=[0.62, 0.48],
        best_frame=41,
        best_video_s=1.64,
        first_seen_frame=12,
        decided_frame=47,
        decided_video_s=1.88,
    )


def device_status(**changes: Any) -> DeviceStatus:
    fields: dict[str, Any] = {"device_id": "cam-1", "battery_pct": 71.0, "watchlist_version": 3, "faces_processed": 9}
    return DeviceStatus(**(fields | changes))


def dispatch_status(**changes: Any) -> DispatchStatus:
    fields: dict[str, Any] = {"device_id": "cam-1", "dispatch_id": uuid.uuid4(), "status": DispatchState.EN_ROUTE}
    return DispatchStatus(**(fields | changes))


def with_fields(event: Any, **fields: Any) -> bytes:
    """The event's JSON with some fields replaced, bypassing the model's own checks (as a broken device would)."""
    document = json.loads(encode_event(event))
    for name, value in fields.items():
        document[name] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return json.dumps(document).encode()


def send_watchlist(
    database: Database,
    *device_ids: str,
    version: int = 3,
    subjects: tuple[str, ...] = ("obama",),
    model: str = DLIB_MODEL_ID,
) -> None:
    """Record that the devices were sent watchlist ``version`` (made with ``subjects`` and face ``model`` unless it
    exists), as the centre's package sync would: their alerts naming it are accepted. The announcements are marked
    published, so nothing is sent to the devices.
    """
    now = utc_now()
    with database.session() as session:
        if session.get(WatchlistVersion, version) is None:
            watchlist = Watchlist(
                watchlist_id=uuid.uuid4(),
                name="Test",
                model=model,
                created_by="u-test",
                created_at=now,
                current_version=version,
            )
            session.add(watchlist)
            session.flush()
            session.add(
                WatchlistVersion(
                    version=version,
                    watchlist_id=watchlist.watchlist_id,
                    reason=VersionReason.APPROVAL,
                    made_by="u-test",
                    created_at=now,
                    valid_until=now + timedelta(days=30),
                    subject_ids=sorted(subjects),
                    threshold=0.5,
                    model=model,
                )
            )
        for device_id in device_ids or ("cam-1",):
            announcement = WatchlistAvailable(
                device_id=device_id,
                version=version,
                sha256=hashlib.sha256(b"package").hexdigest(),
                url=f"http://vigil.test/api/v1/device/watchlist/{version}",
            )
            session.add(
                DownlinkMessage(
                    event_id=announcement.id,
                    device_id=device_id,
                    type=announcement.type,
                    topic=topic_for(announcement),
                    payload=encode_event(announcement),
                    created_at=now,
                    published_at=now,
                )
            )
        session.commit()
