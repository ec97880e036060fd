"""The JSON bodies of Traccar Client 9: its reports turned into OsmAnd parameters, one set per location.

Traccar Client 9 records locations with a background-geolocation SDK and posts them as JSON: the SDK's location
object, shaped by the app's location template, under ``location``, with the app's ``device_id`` beside it (the
template is ``Preferences._locationTemplate`` in traccar/traccar-client ``lib/preferences.dart``)::

    {"location": {"timestamp": ISO 8601, "coords": {"latitude", "longitude", "accuracy", "speed" (m/s),
                  "heading", "altitude"}, "is_moving", "odometer", "event", "battery": {"level": 0-1,
                  "is_charging"}, "activity": {"type"}, "extras": {…}, "_": "&id=…&lat=…&lon=…&timestamp=…&"},
     "device_id": "48241179"}

What each shape means, as Traccar's own server reads it (``decodeJson`` in its ``OsmAndProtocolDecoder.java``):

- a ``location`` without ``coords``: a report without a fix (the server keeps the device's last position);
- ``-1`` for an unknown speed, heading, accuracy or battery level;
- ``alarm`` in the location or in its ``extras``: the app's SOS quick action records a location with
  ``extras: {"alarm": "sos"}`` (``lib/quick_actions.dart``).

The SDK posts several locations in one request when batching: ``location`` is then an array (and a proxy or a
relay may send an array of whole documents); each element is a report of its own. An element that is not a
location is an :class:`UnreadableReport`, refused on its own without losing the others.
"""

import json
from dataclasses import dataclass

KNOT_MPS = 1852 / 3600
"""One knot in metres per second: OsmAnd speeds are in knots, the SDK's in metres per second."""


@dataclass(frozen=True)
class UnreadableReport:
    """An element of a JSON batch that is not a location.

    Attributes:
        device_id: the device the batch names, if it names one.
        problem: what is wrong, for a person.
    """

    device_id: str | None
    problem: str


JsonReport = dict[str, str] | UnreadableReport
"""One report of a JSON body: its OsmAnd parameters (as text, for the OsmAnd reader to check), or why not."""


def json_reports(body: bytes) -> list[JsonReport]:
    """The reports in a JSON body, in order; none when the body is not Traccar Client's JSON.

    Args:
        body: the request's body.

    Returns:
        One entry per location: a single ``location`` object, a ``location`` array, or an array of documents.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    documents = document if isinstance(document, list) else [document]
    if not any(isinstance(d, dict) and "location" in d for d in documents):
        return []
    reports: list[JsonReport] = []
    for index, item in enumerate(documents):
        if not isinstance(item, dict):
            reports.append(UnreadableReport(None, f"element {index} of the batch is not a JSON object"))
            continue
        device_id = item.get("device_id")
        claimed = device_id if isinstance(device_id, str | int) and not isinstance(device_id, bool) else None
        locations = item.get("location")
        for location in locations if isinstance(locations, list) else [locations]:
            reports.append(_report(location, None if claimed is None else str(claimed)))
    return reports


def _report(location: object, device_id: str | None) -> JsonReport:
    if not isinstance(location, dict):
        return UnreadableReport(device_id, f"location is {type(location).__name__}, not a JSON object")
    coords = _object(location.get("coords"))
    battery = _object(location.get("battery"))
    extras = _object(location.get("extras"))
    speed_mps, heading, level, accuracy = (
        _known(coords.get("speed")),
        _known(coords.get("heading")),
        _known(battery.get("level")),
        _known(coords.get("accuracy")),
    )
    found: dict[str, object] = {
        "id": device_id,
        "timestamp": location.get("timestamp"),
        "lat": coords.get("latitude"),
        "lon": coords.get("longitude"),
        "accuracy": accuracy,
        "speed": speed_mps / KNOT_MPS if speed_mps is not None else None,
        "bearing": heading,
        "batt": round(level * 100, 1) if level is not None else None,  # 0.55 * 100 is 55.00000000000001
        "alarm": location.get("alarm", extras.get("alarm")),
    }
    return {
        name: str(value)
        for name, value in found.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def _object(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _known(value: object) -> float | None:
    """A JSON number that is 0 or more (the SDK writes -1 for unknown), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
