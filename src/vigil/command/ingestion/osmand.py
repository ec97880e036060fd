"""The OsmAnd protocol: positions from Traccar Client and other OsmAnd-style trackers.

A tracker sends ``GET`` or ``POST`` to ``/`` (or ``/osmand``) with its fix as query parameters (or as an
urlencoded form body), for example::

    POST /?id=123456&timestamp=1609459200&lat=51.5&lon=-0.12&speed=0.0&bearing=0.0&altitude=11.0&accuracy=5.0&batt=88.0

``id`` is the device id it was registered under, ``timestamp`` Unix seconds (milliseconds above 2³¹, as Traccar
reads them) or ISO 8601, ``speed`` knots, ``bearing`` degrees, ``accuracy`` metres, ``batt`` percent. Altitude
is read and dropped: the position contract has none. The fix becomes a :class:`~vigil.events.Position` (and the
battery level a :class:`~vigil.events.DeviceStatus`) for the device's unit and goes through
:func:`~vigil.command.ingestion.service.ingest` like any other event. The protocol carries no credentials.

Their event ids are derived from the device, the time and the coordinates, so a tracker resending a fix whose
answer it lost makes a duplicate, not a second point on the track.
"""

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from vigil.command.database import UNAVAILABLE_ERRORS, unavailable
from vigil.command.devices.models import Device
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.schemas import IngestResult
from vigil.command.ingestion.service import Claim, ingest, record_rejection
from vigil.command.settings import IngestionLimits
from vigil.events import utc_now

KNOT_MPS = 1852 / 3600
"""One knot in metres per second."""
_MILLISECONDS_ABOVE = 2**31
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


class _Unregistered(Exception):
    """Internal: the fix names a device nobody registered. It never leaves this module."""


@dataclass(frozen=True)
class OsmAndFix:
    """One fix as a tracker reported it, in Vigil's units."""

    device_id: str
    at: datetime
    lat: float
    lon: float
    speed_mps: float | None
    heading_deg: float | None
    accuracy_m: float | None
    battery_pct: float | None


def read_fix(params: Mapping[str, str], *, now: datetime) -> OsmAndFix:
    """The fix in a tracker's parameters (``now`` stands in for a missing timestamp).

    Raises:
        ValueError: no device id, no coordinates, or a value that is not a number or a time.
    """
    device_id = params.get("id") or params.get("deviceid")
    if not device_id:
        raise ValueError("no device id (parameter id)")
    if "lat" in params and "lon" in params:
        lat, lon = _number(params, "lat"), _number(params, "lon")
    elif "location" in params:
        lat_text, _, lon_text = params["location"].partition(",")
        lat, lon = _number({"lat": lat_text}, "lat"), _number({"lon": lon_text}, "lon")
    else:
        raise ValueError("no coordinates (parameters lat and lon)")
    if lat is None or lon is None:
        raise ValueError("empty coordinates")
    speed_knots = _number(params, "speed")
    bearing = _number(params, "bearing", "heading")
    return OsmAndFix(
        device_id=device_id,
        at=_timestamp(params.get("timestamp"), now=now),
        lat=lat,
        lon=lon,
        speed_mps=speed_knots * KNOT_MPS if speed_knots is not None and speed_knots >= 0 else None,
        heading_deg=bearing % 360 if bearing is not None and bearing >= 0 else None,
        accuracy_m=_number(params, "accuracy"),
        battery_pct=_number(params, "batt"),
    )


def ingest_osmand(
    *,
    session: Session,
    params: Mapping[str, str],
    raw: bytes,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Ingest a tracker's fix: its position, then its battery level when it sent one.

    Args:
        session: as for :func:`~vigil.command.ingestion.service.ingest`.
        params: the request's query and form parameters.
        raw: the request as received (query string and body), stored if the fix is rejected.
        limits: what is accepted.
        metrics: counted here.
        now: the time of receipt (UTC); the current time when None.

    Returns:
        One result per event made from the fix; one rejected result when the parameters are not a fix or the
        device is not registered.

    Raises:
        DatabaseUnavailable: nothing could be stored; the tracker should retry.
    """
    received_at = now if now is not None else utc_now()
    try:
        fix = read_fix(params, now=received_at)
        device = session.get(Device, fix.device_id)
        if device is None:
            raise _Unregistered(f"no device {fix.device_id!r} is registered")
    except ValueError as exc:
        return [_reject(session, raw, params, RejectReason.MALFORMED, str(exc), limits, metrics, received_at)]
    except _Unregistered as exc:
        return [_reject(session, raw, params, RejectReason.UNKNOWN_DEVICE, str(exc), limits, metrics, received_at)]
    except UNAVAILABLE_ERRORS as exc:
        session.rollback()
        raise unavailable(exc) from exc
    documents = [_position(fix, unit_id=device.unit_id)]
    # Some trackers report nonsense levels; a good position must not be refused for its battery reading.
    if fix.battery_pct is not None and 0 <= fix.battery_pct <= 100:
        documents.append(_status(fix))
    return [
        ingest(
            session=session,
            raw=json.dumps(document).encode("utf-8"),
            transport=Transport.OSMAND,
            authenticated_device_id=fix.device_id,
            limits=limits,
            metrics=metrics,
            now=received_at,
        )
        for document in documents
    ]


def _reject(
    session: Session,
    raw: bytes,
    params: Mapping[str, str],
    reason: RejectReason,
    message: str,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    now: datetime,
) -> IngestResult:
    sender = params.get("id") or params.get("deviceid")
    try:
        result = record_rejection(
            session=session,
            raw=raw,
            claim=Claim(device_id=sender),
            transport=Transport.OSMAND,
            sender_device_id=sender,
            reason=reason,
            message=message,
            limits=limits,
            now=now,
        )
    except UNAVAILABLE_ERRORS as exc:
        session.rollback()
        raise unavailable(exc) from exc
    metrics.count(transport=Transport.OSMAND, results=[result])
    return result


def _position(fix: OsmAndFix, *, unit_id: str) -> dict[str, object]:
    return {
        "id": str(_fix_event_id(fix, "position")),
        "type": "position",
        "at": fix.at.isoformat(),
        "device_id": fix.device_id,
        "unit_id": unit_id,
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
        "heading_deg": fix.heading_deg,
        "speed_mps": fix.speed_mps,
        "source": "gps",
    }


def _status(fix: OsmAndFix) -> dict[str, object]:
    return {
        "id": str(_fix_event_id(fix, "device.status")),
        "type": "device.status",
        "at": fix.at.isoformat(),
        "device_id": fix.device_id,
        "battery_pct": fix.battery_pct,
    }


def _fix_event_id(fix: OsmAndFix, kind: str) -> uuid.UUID:
    """A UUIDv7 for the fix: its time in the time bits, a hash of what identifies it in the random bits."""
    milliseconds = int(fix.at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = hashlib.sha256(f"{kind}|{fix.device_id}|{fix.at.isoformat()}|{fix.lat!r}|{fix.lon!r}".encode()).digest()
    value = milliseconds << 80 | int.from_bytes(digest[:10], "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def _number(params: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        text = params.get(name, "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}={text[:40]!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{name}={text[:40]!r} is not a finite number")
        return value
    return None


def _timestamp(text: str | None, *, now: datetime) -> datetime:
    if text is None or not text.strip():
        return now
    text = text.strip()
    if _NUMBER.match(text):
        seconds = float(text)
        if seconds >= _MILLISECONDS_ABOVE:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp={text[:40]!r} is out of range") from None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise ValueError(f"timestamp={text[:40]!r} is neither Unix seconds nor ISO 8601") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
