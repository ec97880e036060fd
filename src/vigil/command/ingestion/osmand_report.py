"""One report of an OsmAnd tracker, read from its parameters into Vigil's units.

What the parameters mean is :mod:`.osmand`'s docstring; this module reads them and says what is wrong with them.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.command.ingestion.osmand_json import KNOT_MPS
from vigil.events import DEVICE_ID_PATTERN

SOS_ALARM = "sos"
"""The ``alarm`` a tracker's SOS button sends."""
_MILLISECONDS_ABOVE = 10**11
"""Numbers from here on are milliseconds: in seconds they would be past the year 5000, in milliseconds they are
after March 1973. Traccar's server reads milliseconds from 2³¹ on, so that 2100 in seconds reads as 1970."""
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class OsmAndReport:
    """One report as a tracker sent it, in Vigil's units: a fix, or (``lat`` and ``lon`` None) a report without one.

    Attributes:
        accuracy_m: None when unknown (trackers write 0 for unknown: see :func:`read_report`).
        sos: the tracker's SOS button sent it (``alarm=sos``).
    """

    device_id: str
    at: datetime
    lat: float | None
    lon: float | None
    speed_mps: float | None
    heading_deg: float | None
    accuracy_m: float | None
    battery_pct: float | None
    sos: bool = False

    @property
    def has_fix(self) -> bool:
        """Whether it holds a position."""
        return self.lat is not None and self.lon is not None


def read_device_id(params: Mapping[str, str]) -> str:
    """The device id a tracker's report claims (``id``, or ``deviceid`` as some trackers write it).

    Raises:
        ValueError: none, or one that cannot be a device id.
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
    return device_id


def read_report(params: Mapping[str, str], *, now: datetime) -> OsmAndReport:
    """The report in a tracker's parameters (``now`` stands in for a missing timestamp).

    No coordinates, or ``0,0`` (what trackers send without a fix: Traccar's server reads it as "no position"), is a
    report without a fix: a heartbeat, the push-token upload (``notificationToken``), cell towers or Wi-Fi access
    points only. An accuracy of 0 is unknown: the old Android Traccar Client sends Android's ``getAccuracy()``,
    0.0 for a fix without one, with every fix.

    Raises:
        ValueError: no device id, one coordinate without the other, or a value that is not a number or a time.
    """
    device_id = read_device_id(params)
    if params.get("lat", "").strip() or params.get("lon", "").strip():
        lat, lon = _number(params, "lat"), _number(params, "lon")
        if lat is None or lon is None:
            raise ValueError("lat and lon come together: one of them is missing or empty")
    elif params.get("location", "").strip():
        lat_text, comma, lon_text = params["location"].partition(",")
        if not comma:
            raise ValueError(f"location={params['location'][:40]!r} is not 'lat,lon'")
        lat, lon = _number({"lat": lat_text}, "lat"), _number({"lon": lon_text}, "lon")
    else:
        lat = lon = None
    if lat == 0 and lon == 0:
        lat = lon = None
    speed_knots = _number(params, "speed")
    bearing = _number(params, "bearing", "heading")
    accuracy = _number(params, "accuracy")
    return OsmAndReport(
        device_id=device_id,
        at=_timestamp(params.get("timestamp"), now=now),
        lat=lat,
        lon=lon,
        speed_mps=speed_knots * KNOT_MPS if speed_knots is not None and speed_knots >= 0 else None,
        heading_deg=bearing % 360 if bearing is not None and bearing >= 0 else None,
        accuracy_m=accuracy if accuracy is not None and accuracy > 0 else None,
        battery_pct=_number(params, "batt"),
        sos=is_sos(params),
    )


def is_sos(params: Mapping[str, str]) -> bool:
    """Whether the tracker's SOS button sent these parameters (``alarm=sos``, in any case)."""
    return params.get("alarm", "").strip().lower() == SOS_ALARM


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
