"""The OsmAnd protocol: positions from Traccar Client and other OsmAnd-style trackers, with a per-device secret.

A tracker sends ``GET`` or ``POST`` to ``/osmand/<secret>`` with its report as query parameters (or as an
urlencoded form body, or, from Traccar Client 9 on, as JSON: :mod:`.osmand_json`, one report per location of a
batch), for example::

    POST /osmand/<secret>?id=123456&timestamp=1609459200&lat=51.5&lon=-0.12&speed=0.0&bearing=0.0&accuracy=5.0&batt=88.0

``id`` is the device id it was registered under, ``timestamp`` Unix seconds (milliseconds from 10¹¹ on:
Traccar's server reads them from 2³¹ on, which makes 2100 in seconds a 1970 date) or ISO 8601, ``speed`` knots,
``bearing`` degrees, ``accuracy`` metres, ``batt`` percent, ``alarm=sos`` the SOS button. Altitude is read and
dropped: the position contract has none. The fix becomes a :class:`~vigil.events.Position` (the battery level a
:class:`~vigil.events.DeviceStatus`, the SOS an :class:`~vigil.events.OfficerEmergency`) for the device's unit
and goes through :func:`~vigil.command.ingestion.service.ingest_many` like any other event. Traccar's server
takes reports without a fix too (a heartbeat, the push-token upload ``id=…&notificationToken=…``, cell towers and
Wi-Fi access points only, from its ``OsmAndProtocolDecoderTest.java``): here they store the battery level, if
any, and nothing else (a status without it would blank the battery the device last reported; the next fix says
the phone is alive).

What the answer means to a tracker decides what it does with its report. Every Traccar Client forgets a report
on a 2xx answer and keeps it on anything else, sending it again before any later one: the old Android client
every 30 s for as long as it is refused (``TrackingController.kt``: ``RequestManager.sendRequest`` is false on
any status of 400 or more, ``retry()`` reads the same oldest report again); Traccar Client 9's SDK halts its
upload queue at the first failure and tries again at the next location, until ``maxDaysToPersist`` (the "HTTP
Failures" section of transistorsoft's ``HttpEvent.d.ts``). (The old iOS client forgets it on any answer at all:
``handler(data != nil)`` in ``RequestManager.swift``.) So a report refused for what it says (a timestamp
out of the window, a value that is not a number, coordinates out of range) is recorded once and answered 200,
with the reason in the body: sent again it would be refused again, and held back every later position. Only
what the tracker's settings can mend is answered 400 (:class:`OsmAndAnswer` ``retry``): an id that is not a
registered device's, a wrong secret. The reports wait on the phone until the settings are right, and nothing is
lost. An SOS that could not be stored is answered 400 too: it must be sent again.

The protocol has no credentials, and Traccar Client lets its user set only the server URL and the device id; it
keeps the URL's path and appends the fix as query parameters. So the credential is the URL's last segment: the
device's OsmAnd secret (:func:`~vigil.command.devices.service.authenticate_osmand`). An unknown id, a device
without an OsmAnd secret, a wrong secret and a revoked device all get one answer, after the same work, so ids
cannot be told apart from outside. An id that cannot be a device id is refused before the secret is looked at:
that says nothing about which ids are registered. What a report says is read only once its device is
authenticated.

Event ids are derived from the device, the time and the coordinates, so a tracker resending a fix whose answer it
lost makes a duplicate, not a second point on the track; an SOS's emergency id from the device and the report's
time, so a resent SOS is the same emergency.

The secret is in the URL, and servers log URLs: :class:`OsmAndSecretFilter` (installed on uvicorn's access log by
``vigil serve``) writes ``/osmand/***`` in their place, and a rejected fix is stored without its path.
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from vigil.command.database import UNAVAILABLE_ERRORS, unavailable
from vigil.command.devices.models import Device
from vigil.command.devices.service import OSMAND_REFUSED, authenticate_osmand
from vigil.command.errors import NotAuthenticated
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.osmand_json import UnreadableReport
from vigil.command.ingestion.osmand_report import OsmAndReport, is_sos, read_device_id, read_report
from vigil.command.ingestion.rejections import Claim, record_rejection
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.service import Received, ingest_many
from vigil.command.settings import IngestionLimits
from vigil.dispatch.planning import DispatchPlanning
from vigil.events import MAX_ACCURACY_M, EmergencyTrigger, utc_now

OSMAND_PATH = "/osmand/"
"""Where trackers send their fixes; the secret follows."""
EARLIEST_FIX = datetime(2000, 1, 1, tzinfo=UTC)
"""Reports stamped earlier are refused: a phone whose clock was never set, or ``timestamp=0`` (1970)."""
_EMERGENCY = "officer.emergency"


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
class OsmAndAnswer:
    """What became of a request's reports, and whether the tracker must keep them and send them again.

    Attributes:
        results: one per report refused before it made events, then one per event made (a report without a fix
            and without a battery level makes none).
        retry: the refusal that must not make the tracker forget its reports (the device was not authenticated,
            or an SOS could not be stored); None when the tracker may forget them (answer 200).
    """

    results: list[IngestResult]
    retry: IngestResult | None

    @property
    def refused(self) -> list[IngestResult]:
        """The reports and events refused (each is recorded among the rejected events)."""
        return [r for r in self.results if r.outcome is Outcome.REJECTED]


def ingest_osmand(
    *,
    session: Session,
    reports: Sequence[Mapping[str, str] | UnreadableReport],
    secret: str,
    raw: bytes,
    limits: IngestionLimits,
    metrics: IngestionMetrics,
    planning: DispatchPlanning | None = None,
    now: datetime | None = None,
) -> OsmAndAnswer:
    """Ingest a tracker's request: each report's position, battery level and SOS, as events of its device.

    A report is refused (and recorded) on its own, the others stored all the same. Who sent it comes first: a
    report without a readable device id, or whose device the secret does not authenticate, is refused with
    ``retry`` set (the same message whatever was wrong, after the same work). What it says comes next: a value
    that is not a number, a timestamp before 2000 (:data:`EARLIEST_FIX`: a clock never set, ``timestamp=0``) or
    beyond the clock-skew limit, coordinates out of range: refused for good, and the tracker may forget it. A
    report without a fix stores its battery level, if it has one, and nothing else. An SOS raises an
    :class:`~vigil.events.OfficerEmergency` even when its fix is refused: stamped when it arrived if its own time
    is outside the window, and with no location if it has no fix.

    Args:
        session: as for :func:`~vigil.command.ingestion.service.ingest`.
        reports: the request's reports: the query and form parameters, or one set per location of a JSON body.
        secret: the OsmAnd secret from the request's path.
        raw: the request's query string and body (never its path, which holds the secret), an excerpt of which
            is stored with a refusal.
        limits: what is accepted.
        metrics: counted here.
        planning: as for :func:`~vigil.command.ingestion.service.ingest` (an SOS's proposed units).
        now: the time of receipt (UTC); the current time when None.

    Returns:
        The results, and the refusal to answer with when the tracker must keep its reports.

    Raises:
        DatabaseUnavailable: nothing could be stored; the tracker should retry.
    """
    request = _Request(session, secret, raw, limits, metrics, now if now is not None else utc_now())
    try:
        for params in reports:
            request.take(params)
    except UNAVAILABLE_ERRORS as exc:
        session.rollback()
        raise unavailable(exc) from exc
    results = [*request.refused]
    if request.received:
        results += ingest_many(
            session=session,
            received=request.received,
            transport=Transport.OSMAND,
            limits=limits,
            metrics=metrics,
            planning=planning,
            now=request.received_at,
        )
    retry = request.retry or next(
        (r for r in results if r.outcome is Outcome.REJECTED and r.event_id in request.emergencies), None
    )
    return OsmAndAnswer(results=results, retry=retry)


class _Request:
    """A request's reports on their way: refused (each recorded and committed at once), or made events."""

    def __init__(
        self,
        session: Session,
        secret: str,
        raw: bytes,
        limits: IngestionLimits,
        metrics: IngestionMetrics,
        received_at: datetime,
    ) -> None:
        self._session, self._secret, self._raw, self._limits, self._metrics = session, secret, raw, limits, metrics
        self.received_at = received_at
        self._devices: dict[str, Device | None] = {}
        self.refused: list[IngestResult] = []
        self.retry: IngestResult | None = None
        self.received: list[Received] = []
        self.emergencies: set[uuid.UUID] = set()
        """The event ids of the SOS emergencies among :attr:`received`."""

    def take(self, params: Mapping[str, str] | UnreadableReport) -> None:
        """Check one report: refuse it, or add its events to :attr:`received`."""
        if isinstance(params, UnreadableReport):
            claimed = params.device_id
        else:
            claimed = params.get("id") or params.get("deviceid")
        try:
            device_id = read_device_id({"id": claimed or ""})
        except ValueError as exc:
            self._refuse(claimed, None, RejectReason.MALFORMED, str(exc), retry=True)
            return
        device = self._device(device_id)
        if device is None:
            return
        if isinstance(params, UnreadableReport):
            self._refuse(device_id, device_id, RejectReason.MALFORMED, params.problem, retry=False)
            return
        try:
            report = read_report(params, now=self.received_at)
        except ValueError as exc:
            self._refuse(device_id, device_id, RejectReason.MALFORMED, str(exc), retry=False)
            if is_sos(params):  # never lost for a bad value: raised now, where and when unknown
                report = OsmAndReport(device_id, self.received_at, None, None, None, None, None, None, sos=True)
                self._add(emergency_document(report, unit_id=device.unit_id, at=self.received_at))
            return
        for document in self._documents(report, unit_id=device.unit_id):
            self._add(document)

    def _device(self, device_id: str) -> Device | None:
        """The device, authenticated by the secret once per request; None (refused once) when it is not."""
        if device_id not in self._devices:
            try:
                self._devices[device_id] = authenticate_osmand(
                    session=self._session, device_id=device_id, secret=self._secret
                )
            except NotAuthenticated:
                self._devices[device_id] = None
                self._refuse(device_id, None, RejectReason.NOT_AUTHENTICATED, OSMAND_REFUSED, retry=True)
        return self._devices[device_id]

    def _documents(self, report: OsmAndReport, *, unit_id: str) -> list[dict[str, object]]:
        """The events a report makes: its position, battery level and SOS (what the time window refuses left out)."""
        documents: list[dict[str, object]] = []
        ahead_s = (report.at - self.received_at).total_seconds()
        in_window = False
        if report.at < EARLIEST_FIX:
            message = (
                f"the report is stamped {report.at.isoformat()}, before {EARLIEST_FIX.date().isoformat()}: the "
                "tracker's clock is not set, or it sent timestamp=0 (check the phone's date and time)"
            )
            self._refuse(report.device_id, report.device_id, RejectReason.MALFORMED, message, retry=False)
        elif ahead_s > self._limits.max_clock_skew_s:
            message = (
                f"the report is stamped {report.at.isoformat()}, {ahead_s:,.0f} s after it arrived; the allowed "
                f"clock skew is {self._limits.max_clock_skew_s:g} s (check the phone's date and time)"
            )
            self._refuse(report.device_id, report.device_id, RejectReason.FROM_THE_FUTURE, message, retry=False)
        else:
            in_window = True
        if in_window and report.has_fix:
            documents.append(_position(report, unit_id=unit_id))
        # Some trackers report nonsense levels; a good position must not be refused for its battery reading.
        if in_window and report.battery_pct is not None and 0 <= report.battery_pct <= 100:
            documents.append(_status(report))
        if report.sos:
            raised_at = report.at if in_window else self.received_at
            documents.append(emergency_document(report, unit_id=unit_id, at=raised_at))
        return documents

    def _add(self, document: dict[str, object]) -> None:
        if document["type"] == _EMERGENCY:
            self.emergencies.add(uuid.UUID(str(document["id"])))
        sender = str(document["device_id"])
        self.received.append(Received(raw=json.dumps(document).encode("utf-8"), sender=sender))

    def _refuse(
        self, claimed: str | None, sender: str | None, reason: RejectReason, message: str, *, retry: bool
    ) -> None:
        """Record a refusal: the claimed id cut to its column, the sender only once the secret authenticated it."""
        result = record_rejection(
            session=self._session,
            raw=self._raw,
            claim=Claim(device_id=claimed),
            transport=Transport.OSMAND,
            sender_device_id=sender,
            reason=reason,
            message=message,
            limits=self._limits,
            now=self.received_at,
        )
        self._metrics.count(transport=Transport.OSMAND, results=[result])
        self.refused.append(result)
        if retry and self.retry is None:
            self.retry = result


def _position(report: OsmAndReport, *, unit_id: str) -> dict[str, object]:
    return {
        "id": str(
            _derived_id(report.at, f"position|{report.device_id}|{report.at.isoformat()}|{report.lat!r}|{report.lon!r}")
        ),
        "type": "position",
        "at": report.at.isoformat(),
        "device_id": report.device_id,
        "unit_id": unit_id,
        "lat": report.lat,
        "lon": report.lon,
        "accuracy_m": report.accuracy_m,
        "heading_deg": report.heading_deg,
        "speed_mps": report.speed_mps,
        "source": "gps",
    }


def _status(report: OsmAndReport) -> dict[str, object]:
    key = f"device.status|{report.device_id}|{report.at.isoformat()}|{report.lat!r}|{report.lon!r}"
    return {
        "id": str(_derived_id(report.at, key)),
        "type": "device.status",
        "at": report.at.isoformat(),
        "device_id": report.device_id,
        "battery_pct": report.battery_pct,
    }


def emergency_document(report: OsmAndReport, *, unit_id: str, at: datetime) -> dict[str, object]:
    """An SOS as an :class:`~vigil.events.OfficerEmergency` (JSON): the ids from the device and the report's time.

    A resent SOS is then the same event and the same emergency, and two presses of the button are two. Its location
    is the report's fix, or none when it has no fix or one out of range: an SOS is never refused for its fix.

    Args:
        report: the report that carried ``alarm=sos``.
        unit_id: the device's unit.
        at: when it was raised (UTC): the report's time, or the time it arrived when the report's is refused.

    Returns:
        The event, for :func:`~vigil.command.ingestion.service.ingest_many` to check and store.
    """
    reported = f"{report.device_id}|{report.at.isoformat()}"
    located = report.lat is not None and report.lon is not None and abs(report.lat) <= 90 and abs(report.lon) <= 180
    accuracy = report.accuracy_m if report.accuracy_m is not None and report.accuracy_m <= MAX_ACCURACY_M else None
    return {
        "id": str(_derived_id(report.at, f"{_EMERGENCY}|{reported}")),
        "type": _EMERGENCY,
        "at": at.isoformat(),
        "device_id": report.device_id,
        "unit_id": unit_id,
        "emergency_id": str(_derived_id(report.at, f"emergency|{reported}")),
        "trigger": EmergencyTrigger.TRACKER_SOS.value,
        "location": {"lat": report.lat, "lon": report.lon, "accuracy_m": accuracy} if located else None,
    }


def _derived_id(at: datetime, key: str) -> uuid.UUID:
    """A UUIDv7 for what ``key`` identifies: ``at`` in the time bits, a hash of ``key`` in the random bits."""
    milliseconds = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = hashlib.sha256(key.encode()).digest()
    value = milliseconds << 80 | int.from_bytes(digest[:10], "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)
