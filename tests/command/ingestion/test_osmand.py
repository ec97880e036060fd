"""Positions from Traccar Client and other OsmAnd trackers, sent exactly as they send them, with a device's secret."""

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from tests.command.conftest import Register, RunningServer
from tests.support.served import vigil_serve
from vigil.cli.app import create_app as create_cli
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.models import Device
from vigil.command.devices.service import issue_osmand_secret, register_device, revoke_device
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.osmand import emergency_document, ingest_osmand
from vigil.command.ingestion.osmand_json import KNOT_MPS, json_reports
from vigil.command.ingestion.osmand_report import OsmAndReport, read_report
from vigil.command.settings import CommandSettings, IngestionLimits
from vigil.command.units.models import PositionRecord, Unit
from vigil.events import EmergencyTrigger, Location, OfficerEmergency, parse_event, utc_now

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# Exactly what Traccar Client sends: a POST with the fix in the query and an empty body, to the server URL its user
# typed (which ends in the device's secret) with the fix appended.
TRACCAR = (
    "?id=123456&timestamp=1609459200&lat=51.5&lon=-0.12&speed=0.0&bearing=0.0&altitude=11.0&accuracy=5.0&batt=88.0"
)
# The request the finding used: no secret at all, to the old address.
UNAUTHENTICATED = "/osmand?id=123456&lat=48.8566&lon=2.3522&batt=1"

Tracker = Callable[..., str]


@pytest.fixture
def tracker(database: Database) -> Tracker:
    """Register a device with an OsmAnd secret; returns the URL path its Traccar Client is set to."""

    def run(device_id: str = "123456", unit_id: str = "A-12") -> str:
        with database.session() as session:
            registration = register_device(
                session=session,
                device_id=device_id,
                unit_id=unit_id,
                call_sign=None,
                radio_id=None,
                kind=None,
                actor="system",
                address=None,
                now=utc_now(),
                osmand=True,
            )
        assert registration.osmand_secret is not None
        return f"/osmand/{registration.osmand_secret.get_secret_value()}"

    return run


def _rejected(database: Database) -> list[RejectedEvent]:
    with database.session() as session:
        return list(session.scalars(select(RejectedEvent).order_by(RejectedEvent.id)))


def test_traccar_clients_post_moves_the_unit_and_records_the_battery(
    server: RunningServer, tracker: Tracker, database: Database
) -> None:
    url = tracker()
    with server.client() as client:
        response = client.post(url + TRACCAR, content=b"")
    assert (response.status_code, response.content) == (200, b"")
    with database.session() as session:
        unit = session.get_one(Unit, "A-12")
        device = session.get_one(Device, "123456")
    assert (unit.position_lat, unit.position_lon, unit.position_accuracy_m) == (51.5, -0.12, 5.0)
    assert (unit.position_speed_mps, unit.position_heading_deg) == (0.0, 0.0)
    assert unit.position_at == datetime(2021, 1, 1, tzinfo=UTC)
    assert device.battery_pct == 88.0


def test_the_get_form_and_a_form_body_work_too(server: RunningServer, tracker: Tracker, database: Database) -> None:
    url = tracker()
    with server.client() as client:
        got = client.get(
            url,
            params={"id": "123456", "lat": "51.51", "lon": "-0.13", "speed": "10", "timestamp": "2021-01-01T00:00:10Z"},
        )
        posted = client.post(url, data={"id": "123456", "lat": "51.52", "lon": "-0.14", "timestamp": "1609459220"})
    assert (got.status_code, posted.status_code) == (200, 200)
    with database.session() as session:
        track = session.execute(select(PositionRecord.lat, PositionRecord.speed_mps).order_by(PositionRecord.at)).all()
    assert [tuple(row) for row in track] == [(51.51, pytest.approx(10 * KNOT_MPS)), (51.52, None)]


def test_traccar_client_9s_json_moves_the_unit_too(server: RunningServer, tracker: Tracker, database: Database) -> None:
    """The body Traccar Client 9 posts (its location template, with the device id beside it)."""
    url = tracker()
    body = {
        "location": {
            "timestamp": "2021-01-01T00:00:00.000Z",
            "coords": {"latitude": 51.5, "longitude": -0.12, "accuracy": 5.0, "speed": -1, "heading": 90.0},
            "is_moving": True,
            "battery": {"level": 0.88, "is_charging": False},
            "extras": {},
            "_": "&id=123456&lat=51.5&lon=-0.12&timestamp=2021-01-01T00:00:00.000Z&",
        },
        "device_id": "123456",
    }
    with server.client() as client:
        response = client.post(url, json=body)
    assert (response.status_code, response.content) == (200, b"")
    with database.session() as session:
        unit = session.get_one(Unit, "A-12")
        device = session.get_one(Device, "123456")
    assert (unit.position_lat, unit.position_lon, unit.position_accuracy_m) == (51.5, -0.12, 5.0)
    assert (unit.position_speed_mps, unit.position_heading_deg) == (None, 90.0)
    assert unit.position_at == datetime(2021, 1, 1, tzinfo=UTC)
    assert device.battery_pct == pytest.approx(88.0)


def test_a_resent_fix_is_a_duplicate_not_a_second_point(
    server: RunningServer, tracker: Tracker, database: Database
) -> None:
    url = tracker()
    with server.client() as client:
        answers = [client.post(url + TRACCAR).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PositionRecord)) == 1


def test_a_fix_from_an_unauthenticated_device_answers_400_and_is_recorded(
    server: RunningServer, tracker: Tracker, database: Database
) -> None:
    """400: the tracker keeps its reports until its settings are right (old Android: ``TrackingController.kt``)."""
    tracker()
    with server.client() as client:
        response = client.post("/osmand/" + "x" * 43 + "?id=123456&lat=51.5&lon=-0.12")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "fix_rejected"
    assert response.json()["error"]["details"] == {"reason": "not_authenticated"}
    (rejected,) = _rejected(database)
    assert (rejected.reason, rejected.transport) == (RejectReason.NOT_AUTHENTICATED, Transport.OSMAND)


@pytest.mark.parametrize(
    ("query", "reason", "problem"),
    [
        ("id=123456&lon=-0.12", RejectReason.MALFORMED, "lat and lon come together"),
        ("id=123456&lat=north&lon=-0.12", RejectReason.MALFORMED, "lat='north' is not a number"),
        ("id=123456&lat=91&lon=-0.12", RejectReason.MALFORMED, "lat"),
        ("id=123456&lat=51.5&lon=-0.12&timestamp=1999-12-31T23:59:59Z", RejectReason.MALFORMED, "before 2000-01-01"),
        ("id=123456&lat=51.5&lon=-0.12&timestamp=2099-01-01T00:00:00Z", RejectReason.FROM_THE_FUTURE, "clock skew"),
    ],
)
def test_a_fix_refused_for_what_it_says_answers_200_with_why_and_is_recorded(
    server: RunningServer, tracker: Tracker, database: Database, query: str, reason: RejectReason, problem: str
) -> None:
    """200: sent again it would be refused again, and it would hold back every later fix (see osmand's docstring)."""
    url = tracker()
    with server.client() as client:
        response = client.post(f"{url}?{query}")
    assert response.status_code == 200
    (refused,) = response.json()["refused"]
    assert refused["reason"] == reason.value
    assert problem in refused["message"]
    (rejected,) = _rejected(database)
    assert (rejected.reason, rejected.transport, rejected.claimed_device_id) == (reason, Transport.OSMAND, "123456")
    assert url.removeprefix("/osmand/").encode() not in rejected.raw  # the secret is never stored
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PositionRecord)) == 0


def test_an_unauthenticated_fix_moves_no_unit(
    server: RunningServer, tracker: Tracker, register: Register, database: Database
) -> None:
    url = tracker()
    register("cam-1", "B-7")  # a body camera: no OsmAnd secret
    with server.client() as client:
        answers = [
            client.post(UNAUTHENTICATED).status_code,  # the old address, no secret: gone
            client.post("/?id=123456&lat=48.8566&lon=2.3522&batt=1").status_code,
            client.post(f"/osmand/{'A' * 43}?id=123456&lat=48.8566&lon=2.3522&batt=1").status_code,
            client.post(f"{url}?id=cam-1&lat=48.8566&lon=2.3522&batt=1").status_code,  # another device's secret
        ]
    assert answers == [404, 405, 400, 400]
    with database.session() as session:
        units = session.scalars(select(Unit).where(Unit.position_lat.is_not(None))).all()
        batteries = session.scalars(select(Device.battery_pct).where(Device.battery_pct.is_not(None))).all()
    assert (units, batteries) == ([], [])


def test_unknown_ids_wrong_secrets_and_revoked_devices_get_one_answer(
    server: RunningServer, tracker: Tracker, register: Register, database: Database
) -> None:
    url = tracker()
    tracker("gone", "C-3")
    with database.session() as session:
        revoke_device(session=session, device_id="gone", actor="system", address=None, now=utc_now())
    register("cam-1", "B-7")
    wrong = "/osmand/" + "x" * 43
    with server.client() as client:
        answers = [
            client.post(f"{wrong}?id=no-such-device&lat=51.5&lon=-0.12"),
            client.post(f"{wrong}?id=123456&lat=51.5&lon=-0.12"),  # known id, wrong secret
            client.post(f"{url}?id=cam-1&lat=51.5&lon=-0.12"),  # known id, holds no OsmAnd secret
            client.post(f"{url}?id=gone&lat=51.5&lon=-0.12"),  # revoked (with another device's secret)
        ]
    shapes = {(a.status_code, a.content, a.headers["content-type"], a.headers["content-length"]) for a in answers}
    assert len(shapes) == 1
    assert answers[0].json()["error"]["details"] == {"reason": "not_authenticated"}
    assert {r.reason for r in _rejected(database)} == {RejectReason.NOT_AUTHENTICATED}
    assert [r.sender_device_id for r in _rejected(database)] == [None] * 4


def test_an_unknown_id_and_a_wrong_secret_do_the_same_work(tracker: Tracker, database: Database) -> None:
    """The same statements in the same order either way: nothing but noise can tell them apart in time."""
    tracker()
    statements: list[str] = []

    def seen(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    def refused(device_id: str) -> list[str]:
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            with database.session() as session:
                answer = ingest_osmand(
                    session=session,
                    reports=[{"id": device_id, "lat": "51.5", "lon": "-0.12"}],
                    secret="y" * 43,
                    raw=b"",
                    limits=IngestionLimits(),
                    metrics=IngestionMetrics(),
                )
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        assert answer.retry is not None
        assert answer.retry.reason is RejectReason.NOT_AUTHENTICATED
        return list(statements)

    assert refused("123456") == refused("nobody-here")


@pytest.mark.parametrize("device_id", ["x" * 201, "é" * 65, "a" * 65])
def test_an_id_that_cannot_be_a_device_is_refused_400_and_recorded_cut(
    server: RunningServer, database: Database, device_id: str
) -> None:
    with server.client() as client:
        response = client.get("/osmand/anything", params={"id": device_id, "lat": "51.5", "lon": "-0.12"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"reason": "malformed"}
    assert "is not a device id" in response.json()["error"]["message"]
    (rejected,) = _rejected(database)
    assert (rejected.reason, rejected.sender_device_id) == (RejectReason.MALFORMED, None)
    assert rejected.claimed_device_id == device_id[:200]


def test_rejected_fixes_stay_bounded_and_leave_body_cameras_dead_letters_alone(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings, register: Register, database: Database
) -> None:
    limits = settings.limits.model_copy(update={"max_rejected_events": 10, "max_rejected_raw_bytes": 256})
    server = serve(create_app(settings.model_copy(update={"limits": limits})))
    token = register("cam-1", "A-12")
    with server.client(token) as camera:
        assert camera.post("/api/v1/events", content=b"{not json").json()["rejected"] == 1
    with server.client() as client:
        for n in range(25):
            body = {"id": f"dev-{n}", "lat": "51.5", "lon": "-0.12", "padding": "z-" * 2_500}
            assert client.post("/osmand/" + "q" * 43, data=body).status_code == 400
    rejected = _rejected(database)
    osmand = [r for r in rejected if r.transport is Transport.OSMAND]
    assert [r.claimed_device_id for r in osmand] == [f"dev-{n}" for n in range(15, 25)]  # the newest ten
    assert max(len(r.raw) for r in osmand) == 256
    assert [r.transport for r in rejected if r.transport is not Transport.OSMAND] == [Transport.HTTP]


def test_the_endpoint_is_off_unless_configured(
    serve: Callable[[FastAPI], RunningServer], database_url: str, tmp_path: Path, tracker: Tracker
) -> None:
    url = tracker()
    default = CommandSettings(data_dir=tmp_path, database_url=database_url)
    assert default.osmand_enabled is False
    running = serve(create_app(default))
    with running.client() as client:
        assert client.post(url + TRACCAR).status_code == 404
        assert not any(path.startswith("/osmand") for path in client.get("/api/v1/openapi.json").json()["paths"])


def test_a_new_secret_replaces_the_old_one_and_only_its_hash_is_stored(
    server: RunningServer, tracker: Tracker, database: Database
) -> None:
    old = tracker()
    with database.session() as session:
        issued = issue_osmand_secret(session=session, device_id="123456", actor="system", address=None, now=utc_now())
        stored = session.get_one(Device, "123456").osmand_secret_sha256
    secret = issued.osmand_secret.get_secret_value()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    with server.client() as client:
        assert client.post(old + TRACCAR).status_code == 400
        assert client.post(f"/osmand/{secret}{TRACCAR}").status_code == 200


BLANK = OsmAndReport("7", datetime(2021, 1, 1, tzinfo=UTC), None, None, None, None, None, None)
"""Device 7's report at 2021-01-01T00:00:00Z, with nothing in it: each case replaces what it expects."""


def _report(lat: float | None, lon: float | None, **fields: Any) -> OsmAndReport:
    return dataclasses.replace(BLANK, lat=lat, lon=lon, **fields)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "1609459200", "speed": "1", "bearing": "360"},
            _report(1.0, 2.0, speed_mps=KNOT_MPS, heading_deg=0.0),
        ),
        ({"deviceid": "7", "location": "1.5,2.5", "timestamp": "1609459200000"}, _report(1.5, 2.5)),
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "2021-01-01 01:00:00", "bearing": "-1", "batt": "50"},
            _report(1.0, 2.0, at=datetime(2021, 1, 1, 1, tzinfo=UTC), battery_pct=50.0),
        ),
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "2021-01-01T02:00:00+01:00", "accuracy": "12"},
            _report(1.0, 2.0, at=datetime(2021, 1, 1, 1, tzinfo=UTC), accuracy_m=12.0),
        ),
        ({"id": "7", "lat": "1", "lon": "2"}, _report(1.0, 2.0, at=NOW)),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "1609459200", "accuracy": "0.0"}, _report(1.0, 2.0)),
        ({"id": "7", "timestamp": "1609459200", "batt": "40"}, _report(None, None, battery_pct=40.0)),
        ({"id": "7", "lat": "0.0", "lon": "0.0", "timestamp": "1609459200"}, _report(None, None)),
        ({"id": "7", "lat": "", "lon": "", "timestamp": "1609459200"}, _report(None, None)),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "1609459200", "alarm": "sos"}, _report(1.0, 2.0, sos=True)),
        ({"id": "7", "timestamp": "1609459200", "alarm": "SOS"}, _report(None, None, sos=True)),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "1609459200", "alarm": "overspeed"}, _report(1.0, 2.0)),
    ],
    ids=[
        "unix seconds",
        "milliseconds and location",
        "naive ISO is UTC",
        "ISO with offset",
        "no timestamp",
        "accuracy 0 is unknown",
        "no coordinates: no fix",
        "0,0: no fix",
        "empty coordinates: no fix",
        "sos",
        "sos without a fix",
        "another alarm is no sos",
    ],
)
def test_a_report_is_read_in_vigils_units(params: dict[str, str], expected: OsmAndReport) -> None:
    assert read_report(params, now=NOW) == expected


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"lat": "1", "lon": "2"}, "no device id"),
        ({"id": "7", "lat": "1"}, "lat and lon come together"),
        ({"id": "7", "location": "1"}, "is not 'lat,lon'"),
        ({"id": "7", "lat": "x", "lon": "2"}, "lat='x' is not a number"),
        ({"id": "7", "lat": "nan", "lon": "2"}, "not a finite number"),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "yesterday"}, "neither Unix seconds nor ISO 8601"),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "9" * 30}, "out of range"),
    ],
)
def test_parameters_that_are_not_a_report_say_why(params: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_report(params, now=NOW)


def test_vigil_serve_takes_a_traccar_client_and_logs_no_secret(tmp_path: Path) -> None:
    """As docs/deploy.md has it: register the phone with --osmand, turn OsmAnd on, point the client at the URL."""
    registered = CliRunner().invoke(
        create_cli(),
        ["devices", "register", "--device-id", "123456", "--unit-id", "A-12", "--osmand", "--data-dir", str(tmp_path)],
    )
    assert registered.exit_code == 0, registered.output
    secret = registered.stdout.split()[1]
    with vigil_serve("--data-dir", str(tmp_path), env={"VIGIL_OSMAND_ENABLED": "true"}) as served:
        url = served.url
        answers = [httpx.post(f"{url}/osmand/{secret}{TRACCAR}").status_code, httpx.post(url + UNAUTHENTICATED)]
    assert (answers[0], answers[1].status_code) == (200, 404)
    assert "POST /osmand/***?id=123456" in served.output
    assert secret not in served.output


# Every Traccar Client request format, as fixtures built from the clients' and Traccar's server's sources (each
# file under traccar/ names its source). A fixture is an HTTP request: comment lines, "METHOD [?query]", headers,
# a blank line and the body; the query is appended to the device's URL.
SAMPLES = Path(__file__).parent / "traccar"


@dataclasses.dataclass(frozen=True)
class Sample:
    """One request a Traccar client sends, from a fixture file."""

    method: str
    query: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def load(cls, name: str) -> "Sample":
        lines = [line for line in (SAMPLES / name).read_text().splitlines() if not line.startswith("#")]
        request_line, *rest = lines
        method, _, query = request_line.partition(" ")
        blank = rest.index("") if "" in rest else len(rest)
        headers = {name.strip(): value.strip() for name, _, value in (line.partition(":") for line in rest[:blank])}
        return cls(method, query, headers, "\n".join(rest[blank + 1 :]).encode())

    def send(self, client: httpx.Client, url: str) -> httpx.Response:
        return client.request(self.method, url + self.query, headers=self.headers, content=self.body)


def _positions(database: Database) -> list[PositionRecord]:
    with database.session() as session:
        return list(session.scalars(select(PositionRecord).order_by(PositionRecord.at)))


def _battery(database: Database, device_id: str) -> float | None:
    with database.session() as session:
        return session.get_one(Device, device_id).battery_pct


@pytest.mark.parametrize(
    ("name", "device_id", "expected", "battery"),
    [
        (
            "json_decoder_motionchange.http",
            "48241179",
            (37.4219983, -122.084, 5.0, 0.0, None, datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC)),
            100.0,
        ),
        (
            "json_decoder_extras.http",
            "48241179",
            (37.4219983, -122.084, 5.0, 0.0, None, datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC)),
            100.0,
        ),
        (
            "json_decoder_ios_unknowns.http",
            "658765",
            (37.785834, -122.406417, 5.0, None, None, datetime(2025, 5, 9, 4, 11, 30, 579000, tzinfo=UTC)),
            None,
        ),
        (
            "json_decoder_moving.http",
            "8737767034",
            (-6.1148096, 106.6837015, 3.8, 18.67, 63.0, datetime(2021, 7, 21, 8, 6, 34, 444000, tzinfo=UTC)),
            79.0,
        ),
        (
            "json_template.http",
            "phone-7",
            (51.5081, -0.1281, 12.5, 1.4, 270.0, datetime(2024, 5, 1, 11, 58, tzinfo=UTC)),
            62.0,
        ),
        (
            "query_old_android.http",
            "phone-7",
            (51.5071, -0.1271, None, 0.0, 0.0, datetime(2024, 5, 1, 11, 59, tzinfo=UTC)),  # accuracy=0.0: unknown
            73.0,
        ),
    ],
)
def test_each_json_sample_and_the_old_clients_fix_are_stored(
    server: RunningServer,
    tracker: Tracker,
    database: Database,
    name: str,
    device_id: str,
    expected: tuple[object, ...],
    battery: float | None,
) -> None:
    url = tracker(device_id)
    with server.client() as client:
        response = Sample.load(name).send(client, url)
    assert (response.status_code, response.content) == (200, b"")
    (position,) = _positions(database)
    *numbers, at = expected
    stored = (position.lat, position.lon, position.accuracy_m, position.speed_mps, position.heading_deg)
    assert (stored, position.at) == (pytest.approx(tuple(numbers)), at)
    assert _battery(database, device_id) == pytest.approx(battery)
    assert _rejected(database) == []


@pytest.mark.parametrize(
    ("name", "latitudes", "battery"),
    [("json_batch.http", [51.5001, 51.5011, 51.5021], 68.0), ("json_batch_array.http", [51.5031, 51.5041], 66.0)],
)
def test_a_batch_is_stored_whole_and_answered_once_it_is(
    server: RunningServer, tracker: Tracker, database: Database, name: str, latitudes: list[float], battery: float
) -> None:
    url = tracker("phone-7")
    sample = Sample.load(name)
    with server.client() as client:
        first = sample.send(client, url)
        again = sample.send(client, url)  # the answer lost: the same batch again
    assert [(r.status_code, r.content) for r in (first, again)] == [(200, b""), (200, b"")]
    assert [p.lat for p in _positions(database)] == latitudes
    assert _battery(database, "phone-7") == pytest.approx(battery)  # the newest report's
    assert _rejected(database) == []


def test_a_bad_element_of_a_batch_is_refused_and_the_others_stored(
    server: RunningServer, tracker: Tracker, database: Database
) -> None:
    """200 with the refusals: the good ones are stored, and the bad ones would be refused again if resent."""
    url = tracker("phone-7")
    sample = Sample.load("json_batch_bad_element.http")
    with server.client() as client:
        response = sample.send(client, url)
    assert response.status_code == 200
    refused = response.json()["refused"]
    assert [r["reason"] for r in refused] == ["malformed", "malformed"]
    assert "lat='north' is not a number" in refused[0]["message"]
    assert "location is str, not a JSON object" in refused[1]["message"]
    assert [p.lat for p in _positions(database)] == [51.5051, 51.5061]
    assert [(r.reason, r.claimed_device_id) for r in _rejected(database)] == [(RejectReason.MALFORMED, "phone-7")] * 2


@pytest.mark.parametrize(
    ("name", "device_id", "battery"),
    [
        ("json_heartbeat.http", "phone-7", 55.0),
        ("query_cell_wifi.http", "123456", None),
        ("form_push_token.http", "phone-7", None),
    ],
)
def test_a_report_without_a_fix_is_answered_200_and_stores_no_position(
    server: RunningServer, tracker: Tracker, database: Database, name: str, device_id: str, battery: float | None
) -> None:
    """Heartbeats, the push-token upload and cell/Wi-Fi-only reports: the battery level, if any, and nothing else."""
    url = tracker(device_id)
    sample = Sample.load(name)
    with server.client() as client:
        answers = [sample.send(client, url) for _ in range(3)]
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 3
    assert (_positions(database), _rejected(database)) == ([], [])
    assert _battery(database, device_id) == battery


@pytest.mark.parametrize(
    ("name", "reason", "problem"),
    [
        ("query_timestamp_zero.http", RejectReason.MALFORMED, "stamped 1970-01-01T00:00:00+00:00, before 2000-01-01"),
        ("query_year_2100.http", RejectReason.FROM_THE_FUTURE, "stamped 2100-01-01T00:00:00+00:00"),
    ],
)
def test_a_timestamp_outside_the_window_is_refused_once_and_answered_so_it_is_not_resent(
    server: RunningServer, tracker: Tracker, database: Database, name: str, reason: RejectReason, problem: str
) -> None:
    url = tracker("phone-7")
    with server.client() as client:
        response = Sample.load(name).send(client, url)
    assert response.status_code == 200  # any other status: the client keeps it, and sends it before any later fix
    (refused,) = response.json()["refused"]
    assert (refused["reason"], problem in refused["message"]) == (reason.value, True)
    assert [r.reason for r in _rejected(database)] == [reason]
    assert (_positions(database), _battery(database, "phone-7")) == ([], None)


@pytest.fixture
def decoder_samples() -> list[str]:
    text = (SAMPLES / "query_decoder_samples.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_every_query_traccars_decoder_test_stores_is_stored(
    server: RunningServer, tracker: Tracker, database: Database, decoder_samples: list[str]
) -> None:
    urls = {
        device_id: tracker(device_id, f"U-{n}")
        for n, device_id in enumerate(["902064", "353861053849681", "123456", "861001000719969", "123456789012345"])
    }
    with server.client() as client:
        for query in decoder_samples:
            params = dict(httpx.QueryParams(query.removeprefix("/?")))
            device_id = params.get("id") or params["deviceid"]
            response = client.post(urls[device_id] + query.removeprefix("/"))
            assert (response.status_code, response.content) == (200, b""), query
        # Its verifyNull: no device id, so no device to store it for.
        assert client.post(urls["123456"] + "?timestamp=1377177267&lat=60.0&lon=30.0").status_code == 400
    stored = {(p.device_id, p.lat, p.lon) for p in _positions(database)}
    assert stored == {
        ("902064", 42.06288, -88.23412),
        ("353861053849681", 49.60688, 6.15788),
        ("123456", 60.0, 30.0),
        ("861001000719969", 41.666667, -0.883333),
        ("123456789012345", 40.7232948571, -74.0061408571),
    }
    assert [r.reason for r in _rejected(database)] == [RejectReason.MALFORMED]


# The SOS button: alarm=sos from every client becomes an officer's emergency, ingested like any event.
SOS_SAMPLES = ["json_sos.http", "query_old_android_sos.http", "query_ios_sos.http"]


def _sample_reports(sample: Sample) -> list[dict[str, str]]:
    """The reports a request carries, as the OsmAnd endpoint reads them."""
    if sample.headers.get("Content-Type") == "application/json":
        return [r for r in json_reports(sample.body) if isinstance(r, dict)]
    return [dict(httpx.QueryParams(sample.query.removeprefix("?")))]


@pytest.mark.parametrize("name", SOS_SAMPLES)
def test_every_clients_sos_is_read_as_one(name: str) -> None:
    (params,) = _sample_reports(Sample.load(name))
    report = read_report(params, now=NOW)
    assert (report.sos, report.has_fix, report.device_id) == (True, True, "phone-7")
    assert (report.lat, report.lon) == pytest.approx((51.5101, -0.134))


def test_an_sos_is_an_officers_emergency_whose_ids_come_from_the_device_and_the_reports_time() -> None:
    sos = read_report(_sample_reports(Sample.load("query_old_android_sos.http"))[0], now=NOW)

    def emergency(report: OsmAndReport) -> OfficerEmergency:
        event = parse_event(json.dumps(emergency_document(report, unit_id="A-12", at=report.at)).encode())
        assert isinstance(event, OfficerEmergency)
        return event

    raised = emergency(sos)
    assert (raised.trigger, raised.unit_id, raised.device_id) == (EmergencyTrigger.TRACKER_SOS, "A-12", "phone-7")
    assert raised.at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert raised.location == Location(lat=51.5101, lon=-0.134, accuracy_m=8.0)
    resent = emergency(dataclasses.replace(sos, battery_pct=59.0))  # the same press, sent again
    assert (resent.id, resent.emergency_id) == (raised.id, raised.emergency_id)
    pressed_again = emergency(dataclasses.replace(sos, at=sos.at + timedelta(seconds=30)))
    assert pressed_again.emergency_id != raised.emergency_id
    assert emergency(dataclasses.replace(sos, device_id="phone-8")).emergency_id != raised.emergency_id
    assert emergency(dataclasses.replace(sos, lat=None, lon=None)).location is None  # raised all the same
    assert emergency(dataclasses.replace(sos, lat=91.0)).location is None


def _emergencies(server: RunningServer, token: str) -> list[dict[str, Any]]:
    with server.client(token) as client:
        response = client.get("/api/v1/emergencies")
    assert response.status_code == 200, response.text
    emergencies: list[dict[str, Any]] = response.json()["emergencies"]
    return emergencies


@pytest.mark.parametrize("name", SOS_SAMPLES)
def test_an_sos_request_stores_the_fix_and_opens_one_emergency(
    server: RunningServer, tracker: Tracker, database: Database, operator_token: str, name: str
) -> None:
    url = tracker("phone-7")
    sample = Sample.load(name)
    with server.client() as client:
        answers = [sample.send(client, url) for _ in range(2)]  # the answer lost: the same SOS again
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 2
    assert [(p.lat, p.lon) for p in _positions(database)] == [pytest.approx((51.5101, -0.134))]
    (emergency,) = _emergencies(server, operator_token)
    assert (emergency["trigger"], emergency["status"]) == ("tracker_sos", "open")
    assert (emergency["unit_id"], emergency["device_id"]) == ("A-12", "phone-7")
    assert (emergency["position"]["lat"], emergency["position"]["lon"]) == pytest.approx((51.5101, -0.134))


@pytest.mark.parametrize(
    ("change", "problem"),
    [(("timestamp=1714564800", "timestamp=0"), "before 2000-01-01"), (("lat=51.5101", "lat=north"), "not a number")],
    ids=["clock not set", "a value that is not a number"],
)
def test_an_sos_whose_fix_is_refused_is_raised_all_the_same_when_it_arrives(
    server: RunningServer,
    tracker: Tracker,
    database: Database,
    operator_token: str,
    change: tuple[str, str],
    problem: str,
) -> None:
    """The fix is refused (answered 200: it would be refused again); the officer's emergency never is."""
    url = tracker("phone-7")
    sample = Sample.load("query_old_android_sos.http")
    before = utc_now()
    with server.client() as client:
        response = client.post(url + sample.query.replace(*change))
    assert response.status_code == 200
    (refused,) = response.json()["refused"]
    assert (refused["reason"], problem in refused["message"]) == ("malformed", True)
    assert _positions(database) == []
    (emergency,) = _emergencies(server, operator_token)
    assert (emergency["trigger"], emergency["unit_id"]) == ("tracker_sos", "A-12")
    assert datetime.fromisoformat(emergency["raised_at"]) >= before


@pytest.mark.parametrize(
    "fields",
    [{"alarm": "sos"}, {"extras": {"alarm": "sos"}}, {"alarm": "sos", "extras": {"alarm": "lowBattery"}}],
    ids=["in the location", "in its extras", "the location's first"],
)
def test_a_json_alarm_is_read_where_traccars_server_reads_it(fields: dict[str, object]) -> None:
    """``decodeJson`` in OsmAndProtocolDecoder.java: ``location.alarm``, else ``location.extras.alarm``."""
    body = {"location": {"timestamp": "2024-05-01T12:00:00Z", **fields}, "device_id": "phone-7"}
    assert json_reports(json.dumps(body).encode()) == [
        {"id": "phone-7", "timestamp": "2024-05-01T12:00:00Z", "alarm": "sos"}
    ]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"device_id": "phone-7"}', b'"location"', b"[1, 2]"])
def test_json_that_is_not_traccar_clients_holds_no_reports(body: bytes) -> None:
    assert json_reports(body) == []
