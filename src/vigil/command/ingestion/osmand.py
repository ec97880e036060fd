"""The OsmAnd protocol: positions from Traccar Client and other OsmAnd-style trackers, with a per-device secret.

A tracker sends ``GET`` or ``POST`` to ``/osmand/<secret>`` with its fix as query parameters (or as an
urlencoded form body, or, from Traccar Client 9 on, as a JSON body: :func:`json_params`), for example::

    POST /osmand/<secret>?id=123456&timestamp=1609459200&lat=51.5&lon=-0.12&speed=0.0&bearing=0.0&accuracy=5.0&batt=88.0

``id`` is the device id it was registered under, ``timestamp`` Unix seconds (milliseconds above 2³¹, as Traccar
reads them) or ISO 8601, ``speed`` knots, ``bearing`` degrees, ``accuracy`` metres, ``batt`` percent. Altitude
is read and dropped: the position contract has none. The fix becomes a :class:`~vigil.events.Position` (and the
battery level a :class:`~vigil.events.DeviceStatus`) for the device's unit and goes through
:func:`~vigil.command.ingestion.service.ingest` like any other event.

The protocol has no credentials, and Traccar Client lets its user set only the server URL and the device id; it
keeps the URL's path and appends the fix as query parameters. So the credential is the URL's last segment: the
device's OsmAnd secret (:func:`~vigil.command.devices.service.authenticate_osmand`). An unknown id, a device
without an OsmAnd secret, a wrong secret and a revoked device all get one answer, after the same work, so ids
cannot be told apart from outside. A fix that is not readable (an id that cannot be a device id included) is
refused before the secret is looked at: that says nothing about which ids are registered.

Their event ids are derived from the device, the time and the coordinates, so a tracker resending a fix whose
answer it lost makes a duplicate, not a second point on the track.

The secret is in the URL, and servers log URLs: :class:`OsmAndSecretFilter` (installed on uvicorn's access log by
``vigil serve``) writes ``/osmand/***`` in their place, and a rejected fix is stored without its path.
"""

import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from vigil.command.database import UNAVAILABLE_ERRORS, unavailable
from vigil.command.devices.service import OSMAND_REFUSED, authenticate_osmand
from vigil.command.errors import NotAuthenticated
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.rejections import Claim, record_rejection
from vigil.command.ingestion.schemas import IngestResult
from vigil.command.ingestion.service import ingest
from vigil.command.settings import IngestionLimits
from vigil.events import DEVICE_ID_PATTERN, utc_now

OSMAND_PATH = "/osmand/"
"""Where trackers send their fixes; the secret follows."""
KNOT_MPS = 1852 / 3600
"""One knot in metres per second."""
_MILLISECONDS_ABOVE = 2**31
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


_SECRET_IN_PATH = re.compile(r"(?<=/osmand/)[^/?#\s]+")


def redact_secret(text: str) -> str:
    """``text`` with the secret of every OsmAnd URL path in it replaced by ``***``."""
    return _SECRET_IN_PATH.sub("***", text)


class OsmAndSecretFilter(logging.Filter):
    """Keeps OsmAnd secrets out of a log (for a handler: it then sees every logger's records).

    Rewrites a record's string arguments (uvicorn's access log passes the URL as one), its message when it has
    none, and a ``path`` field (the API's error log carries the request's path).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record; keep it."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secret(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_secret(record.msg)
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = redact_secret(path)
        return True


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


def json_params(body: bytes) -> dict[str, str]:
    """The OsmAnd parameters of a JSON fix, as Traccar Client 9 posts it; nothing when it is not one.

    The client (its background-location library) posts ``{"device_id": …, "location": {"timestamp": ISO 8601,
    "coords": {"latitude", "longitude", "accuracy", "speed" (m/s), "heading", …}, "battery": {"level": 0-1}}}``.
    Values are handed on as text, for :func:`read_fix` to check like any other; unknown values (negative speed or
    heading) are left out.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("location"), dict):
        return {}
    location: dict[str, object] = document["location"]
    coords = _object(location.get("coords"))
    battery = _object(location.get("battery"))
    speed_mps, heading, level = (
        _non_negative(coords.get("speed")),
        _non_negative(coords.get("heading")),
        _non_negative(battery.get("level")),
    )
    found: dict[str, object] = {
        "id": document.get("device_id"),
        "timestamp": location.get("timestamp"),
        "lat": coords.get("latitude"),
        "lon": coords.get("longitude"),
        "accuracy": coords.get("accuracy"),
        "speed": speed_mps / KNOT_MPS if speed_mps is not None else None,
        "bearing": heading,
        "batt": level * 100 if level is not None else None,
    }
    return {
        name: str(value)
        for name, value in found.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def _object(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _non_negative(value: object) -> float | None:
    """A JSON number that is 0 or more (the client writes -1 for unknown), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def read_fix(params: Mapping[str, str], *, now: datetime) -> OsmAndFix:
    """The fix in a tracker's parameters (``now`` stands in for a missing timestamp).

    Raises:
        ValueError: no device id, no coordinates, or a value that is not a number or a time.
    """
    device_id = params.get("id") or params.get("deviceid")
    if not device_id:
        raise ValueError("no device id (parameter id)")
    if not re.fullmatch(DEVICE_ID_PATTERN, device_id):
        shown = f"{device_id[:40]!r}…" if len(device_id) > 40 else repr(device_id)
        raise ValueError(
            f"id={shown} ({len(device_id):,} characters) is not a device id: 1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
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
    secret: str,
    raw: bytes,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Ingest a tracker's fix: its position, then its battery level when it sent one.

    Args:
        session: as for :func:`~vigil.command.ingestion.service.ingest`.
        params: the request's query and form parameters.
        secret: the OsmAnd secret from the request's path.
        raw: the request's query string and body (never its path, which holds the secret), an excerpt of which
            is stored if the fix is rejected.
        limits: what is accepted.
        metrics: counted here.
        now: the time of receipt (UTC); the current time when None.

    Returns:
        One result per event made from the fix; one rejected result when the parameters are not a fix or the
        secret does not authenticate the device (reason ``not_authenticated``, with the same message whatever
        was wrong).

    Raises:
        DatabaseUnavailable: nothing could be stored; the tracker should retry.
    """
    received_at = now if now is not None else utc_now()
    try:
        fix = read_fix(params, now=received_at)
        device = authenticate_osmand(session=session, device_id=fix.device_id, secret=secret)
    except ValueError as exc:
        return [_reject(session, raw, params, RejectReason.MALFORMED, str(exc), limits, metrics, received_at)]
    except NotAuthenticated:
        return [
            _reject(session, raw, params, RejectReason.NOT_AUTHENTICATED, OSMAND_REFUSED, limits, metrics, received_at)
        ]
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
    """Record a fix refused before its device was authenticated: no sender, the claimed id cut to its column."""
    try:
        result = record_rejection(
            session=session,
            raw=raw,
            claim=Claim(device_id=params.get("id") or params.get("deviceid")),
            transport=Transport.OSMAND,
            sender_device_id=None,
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
