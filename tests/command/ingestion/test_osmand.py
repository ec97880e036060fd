"""Positions from Traccar Client and other OsmAnd trackers, sent exactly as they send them, with a device's secret."""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

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
from vigil.command.ingestion.osmand import KNOT_MPS, OsmAndFix, ingest_osmand, read_fix
from vigil.command.settings import CommandSettings, IngestionLimits
from vigil.command.units.models import PositionRecord, Unit
from vigil.events import utc_now

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


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("id=999&lat=51.5&lon=-0.12", RejectReason.NOT_AUTHENTICATED),
        ("id=123456&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=north&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=91&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=51.5&lon=-0.12&timestamp=2099-01-01T00:00:00Z", RejectReason.FROM_THE_FUTURE),
    ],
)
def test_a_rejected_fix_answers_400_and_is_recorded(
    server: RunningServer, tracker: Tracker, database: Database, query: str, reason: RejectReason
) -> None:
    url = tracker()
    with server.client() as client:
        response = client.post(f"{url}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "fix_rejected"
    assert response.json()["error"]["details"] == {"reason": reason.value}
    (rejected,) = _rejected(database)
    assert (rejected.reason, rejected.transport) == (reason, Transport.OSMAND)
    assert url.removeprefix("/osmand/").encode() not in rejected.raw  # the secret is never stored


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
                (result,) = ingest_osmand(
                    session=session,
                    params={"id": device_id, "lat": "51.5", "lon": "-0.12"},
                    secret="y" * 43,
                    raw=b"",
                    limits=IngestionLimits(),
                    metrics=IngestionMetrics(),
                )
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        assert result.reason is RejectReason.NOT_AUTHENTICATED
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


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "1609459200", "speed": "1", "bearing": "360"},
            OsmAndFix("7", datetime(2021, 1, 1, tzinfo=UTC), 1.0, 2.0, KNOT_MPS, 0.0, None, None),
        ),
        (
            {"deviceid": "7", "location": "1.5,2.5", "timestamp": "1609459200000"},
            OsmAndFix("7", datetime(2021, 1, 1, tzinfo=UTC), 1.5, 2.5, None, None, None, None),
        ),
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "2021-01-01 01:00:00", "bearing": "-1", "batt": "50"},
            OsmAndFix("7", datetime(2021, 1, 1, 1, tzinfo=UTC), 1.0, 2.0, None, None, None, 50.0),
        ),
        (
            {"id": "7", "lat": "1", "lon": "2", "timestamp": "2021-01-01T02:00:00+01:00", "accuracy": "12"},
            OsmAndFix("7", datetime(2021, 1, 1, 1, tzinfo=UTC), 1.0, 2.0, None, None, 12.0, None),
        ),
        ({"id": "7", "lat": "1", "lon": "2"}, OsmAndFix("7", NOW, 1.0, 2.0, None, None, None, None)),
    ],
    ids=["unix seconds", "milliseconds and location", "naive ISO is UTC", "ISO with offset", "no timestamp"],
)
def test_a_fix_is_read_in_vigils_units(params: dict[str, str], expected: OsmAndFix) -> None:
    assert read_fix(params, now=NOW) == expected


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"lat": "1", "lon": "2"}, "no device id"),
        ({"id": "7", "lat": "1"}, "no coordinates"),
        ({"id": "7", "lat": "x", "lon": "2"}, "lat='x' is not a number"),
        ({"id": "7", "lat": "nan", "lon": "2"}, "not a finite number"),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "yesterday"}, "neither Unix seconds nor ISO 8601"),
        ({"id": "7", "lat": "1", "lon": "2", "timestamp": "9" * 30}, "out of range"),
    ],
)
def test_parameters_that_are_not_a_fix_say_why(params: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_fix(params, now=NOW)


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
