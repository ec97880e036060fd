"""Where every unit is, and where one has been."""

from datetime import timedelta

from tests.command.conftest import Register, RunningServer
from tests.command.events import position
from vigil.events import encode_event, utc_now


def test_a_unit_shows_its_latest_position_and_its_track(
    server: RunningServer, register: Register, operator_token: str
) -> None:
    now = utc_now()
    earlier, latest, late_arrival = (
        position(lat=51.50, at=now - timedelta(minutes=2)),
        position(lat=51.52, at=now - timedelta(seconds=30), heading_deg=90, speed_mps=1.4),
        position(lat=51.49, at=now - timedelta(minutes=5)),  # sent late, after a coverage gap
    )
    register("cam-1", "A-12")
    register("cam-9", "Z-1")
    with server.client(register("cam-2", "A-12")) as device, server.client(operator_token) as operator:
        for event in (earlier, latest, late_arrival):
            device.post("/api/v1/events", content=encode_event(event.model_copy(update={"device_id": "cam-2"})))
        units = operator.get("/api/v1/units").json()["units"]
        track = operator.get("/api/v1/units/A-12/track").json()
        since, until = (now - timedelta(minutes=3)).isoformat(), (now - timedelta(minutes=1)).isoformat()
        window = operator.get("/api/v1/units/A-12/track", params={"since": since, "until": until}).json()
    a12, z1 = units
    assert (a12["unit_id"], a12["call_sign"], a12["kind"], a12["status"]) == ("A-12", "A-12", "foot", "available")
    assert a12["device_ids"] == ["cam-1", "cam-2"]
    assert (a12["position"]["lat"], a12["position"]["heading_deg"], a12["position"]["speed_mps"]) == (51.52, 90, 1.4)
    assert 30 <= a12["position"]["age_s"] < 60
    assert z1["position"] is None
    assert [point["lat"] for point in track["points"]] == [51.49, 51.50, 51.52]
    assert {point["device_id"] for point in track["points"]} == {"cam-2"}
    assert [point["lat"] for point in window["points"]] == [51.50]


def test_an_unknown_units_track_is_a_404_in_the_error_shape(server: RunningServer, operator_token: str) -> None:
    with server.client(operator_token) as client:
        response = client.get("/api/v1/units/nobody/track")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "unknown_unit",
            "message": "no unit 'nobody'; `vigil devices register --unit-id nobody` creates it",
            "details": {"unit_id": "nobody"},
        }
    }
