"""What is kept of a rejected event (never a face crop), and how many are kept (per transport, the newest)."""

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.command.events import alert, position, with_fields
from vigil.command.database import Database
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.rejections import Claim, excerpt, record_rejection
from vigil.command.settings import IngestionLimits
from vigil.events import encode_event, utc_now


@pytest.mark.parametrize(
    "make",
    [
        lambda crop: encode_event(alert(crop)),
        lambda crop: encode_event(alert(crop))[:-40],  # cut short: not JSON any more
        lambda crop: encode_event(alert(crop)).replace(b'"probe_jpeg"', b'"probe\\u005fjpeg"'),  # the key escaped
        lambda crop: with_fields(position(), note=crop),  # a crop smuggled in another field
    ],
    ids=["alert", "truncated alert", "escaped key", "another field"],
)
def test_an_excerpt_never_holds_a_face_crop(probe_jpeg: bytes, make: object) -> None:
    raw = make(probe_jpeg)  # type: ignore[operator]
    kept = excerpt(raw, limit_bytes=16 * 1024)
    encoded = base64.b64encode(probe_jpeg)
    assert len(raw) > len(encoded)
    assert not any(encoded[i : i + 64] in kept for i in range(0, len(encoded) - 64, 64))
    assert b"removed" in kept


def test_an_excerpt_keeps_what_diagnoses_the_event(probe_jpeg: bytes) -> None:
    raised = alert(probe_jpeg, unit_id="B-7")
    kept = json.loads(excerpt(encode_event(raised), limit_bytes=16 * 1024))
    assert (kept["id"], kept["unit_id"], kept["subject_id"]) == (str(raised.id), "B-7", "obama")
    assert kept["probe_jpeg"].startswith("<face crop removed: ")
    assert len(excerpt(b"x-" * 5000, limit_bytes=300)) == 300


def test_each_transport_keeps_its_newest_rejections_whoever_floods_another(
    register: object, database: Database
) -> None:
    limits = IngestionLimits(max_rejected_events=10)
    now = utc_now()

    def reject(transport: Transport, label: str, n: int) -> None:
        with database.session() as session:
            record_rejection(
                session=session,
                raw=label.encode(),
                claim=Claim(device_id="x" * 300),  # claimed ids are cut to their column
                transport=transport,
                sender_device_id=None,
                reason=RejectReason.MALFORMED,
                message=f"{label} {n}",
                limits=limits,
                now=now + timedelta(milliseconds=n),
            )

    for n in range(4):
        reject(Transport.MQTT, "camera", n)
    for n in range(30):
        reject(Transport.OSMAND, "flood", n)
    with database.session() as session:
        kept = session.execute(
            select(RejectedEvent.transport, RejectedEvent.message, RejectedEvent.claimed_device_id).order_by(
                RejectedEvent.id
            )
        ).all()
    assert [m for t, m, _ in kept if t is Transport.MQTT] == [f"camera {n}" for n in range(4)]
    assert [m for t, m, _ in kept if t is Transport.OSMAND] == [f"flood {n}" for n in range(20, 30)]
    assert {len(claimed) for _, _, claimed in kept} == {200}
