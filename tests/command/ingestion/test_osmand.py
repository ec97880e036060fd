"""Positions from Traccar Client and other OsmAnd trackers, sent exactly as they send them."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.command.conftest import Register, RunningServer
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.models import Device
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.osmand import KNOT_MPS, OsmAndFix, read_fix
from vigil.command.settings import CommandSettings
from vigil.command.units.models import PositionRecord, Unit

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# Exactly what Traccar Client sends: a POST with the fix in the query and an empty body.
TRACCAR = (
    "/?id=123456&timestamp=1609459200&lat=51.5&lon=-0.12&speed=0.0&bearing=0.0&altitude=11.0&accuracy=5.0&batt=88.0"
)


def test_traccar_clients_post_moves_the_unit_and_records_the_battery(
    server: RunningServer, register: Register, database: Database
) -> None:
    register("123456", "A-12")
    with server.client() as client:
        response = client.post(TRACCAR, content=b"")
    assert (response.status_code, response.content) == (200, b"")
    with database.session() as session:
        unit = session.get_one(Unit, "A-12")
        device = session.get_one(Device, "123456")
    assert (unit.position_lat, unit.position_lon, unit.position_accuracy_m) == (51.5, -0.12, 5.0)
    assert (unit.position_speed_mps, unit.position_heading_deg) == (0.0, 0.0)
    assert unit.position_at == datetime(2021, 1, 1, tzinfo=UTC)
    assert device.battery_pct == 88.0


def test_the_get_form_and_a_form_body_work_too(server: RunningServer, register: Register, database: Database) -> None:
    register("123456", "A-12")
    with server.client() as client:
        got = client.get(
            "/osmand",
            params={"id": "123456", "lat": "51.51", "lon": "-0.13", "speed": "10", "timestamp": "2021-01-01T00:00:10Z"},
        )
        posted = client.post("/", data={"id": "123456", "lat": "51.52", "lon": "-0.14", "timestamp": "1609459220"})
    assert (got.status_code, posted.status_code) == (200, 200)
    with database.session() as session:
        track = session.execute(select(PositionRecord.lat, PositionRecord.speed_mps).order_by(PositionRecord.at)).all()
    assert [tuple(row) for row in track] == [(51.51, pytest.approx(10 * KNOT_MPS)), (51.52, None)]


def test_a_resent_fix_is_a_duplicate_not_a_second_point(
    server: RunningServer, register: Register, database: Database
) -> None:
    register("123456", "A-12")
    with server.client() as client:
        answers = [client.post(TRACCAR).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PositionRecord)) == 1


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("id=999&lat=51.5&lon=-0.12", RejectReason.UNKNOWN_DEVICE),
        ("id=123456&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=north&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=91&lon=-0.12", RejectReason.MALFORMED),
        ("id=123456&lat=51.5&lon=-0.12&timestamp=2099-01-01T00:00:00Z", RejectReason.FROM_THE_FUTURE),
    ],
)
def test_a_rejected_fix_answers_400_and_is_recorded(
    server: RunningServer, register: Register, database: Database, query: str, reason: RejectReason
) -> None:
    register("123456", "A-12")
    with server.client() as client:
        response = client.post(f"/osmand?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "fix_rejected"
    assert response.json()["error"]["details"] == {"reason": reason.value}
    with database.session() as session:
        rejected = session.scalars(select(RejectedEvent)).one()
    assert (rejected.reason, rejected.transport) == (reason, Transport.OSMAND)


def test_a_visit_without_parameters_is_not_recorded(server: RunningServer, database: Database) -> None:
    with server.client() as client:
        response = client.get("/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RejectedEvent)) == 0


def test_the_endpoint_can_be_switched_off(serve: Callable[[FastAPI], RunningServer], settings: CommandSettings) -> None:
    running = serve(create_app(settings.model_copy(update={"osmand_enabled": False})))
    with running.client() as client:
        assert client.post(TRACCAR).status_code == 405  # / only leads to the control-room page then
        assert "/osmand" not in client.get("/api/v1/openapi.json").json()["paths"]


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
