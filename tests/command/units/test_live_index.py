"""The live unit index follows the database through the feed, and answers operators' area questions."""

import time
from collections.abc import Callable
from datetime import timedelta

from tests.command.conftest import Register, RunningServer
from tests.command.events import position
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.runtime import ServerRuntime
from vigil.command.settings import CommandSettings
from vigil.command.units.service import change_status
from vigil.dispatch.area import CircleArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.unit import UnitStatus
from vigil.events import encode_event, utc_now

TRAFALGAR = GeoPoint(lat=51.5080, lon=-0.1281)


def _in_circle(runtime: ServerRuntime, radius_m: float = 2000) -> dict[str, UnitStatus]:
    answer = runtime.unit_index().units_in_area(
        CircleArea(centre=TRAFALGAR, radius_m=radius_m), target=TRAFALGAR, now=utc_now()
    )
    return {row.unit_id: row.status for row in answer.rows()}


def _eventually(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_the_index_loads_at_start_and_follows_positions_and_status_changes(
    serve: Callable[..., RunningServer], settings: CommandSettings, register: Register, database: Database
) -> None:
    a12, b7 = register("cam-1", "A-12"), register("cam-2", "B-7")
    early = serve(create_app(settings))
    with early.client(a12) as device:
        device.post("/api/v1/events", content=encode_event(position(lat=51.5085, lon=-0.1290)))
    runtime: ServerRuntime = early.app.state.runtime
    _eventually(lambda: _in_circle(runtime) == {"A-12": UnitStatus.AVAILABLE})

    # A second server process starts later: it loads what the first stored, then follows what either commits.
    later = serve(create_app(settings))
    second: ServerRuntime = later.app.state.runtime
    assert _in_circle(second) == {"A-12": UnitStatus.AVAILABLE}
    with early.client(b7) as device:
        device.post(
            "/api/v1/events",
            content=encode_event(position(device_id="cam-2", unit_id="B-7", lat=51.5075, lon=-0.1270)),
        )
        far = position(lat=51.60, lon=-0.1281, at=utc_now() + timedelta(seconds=1))  # A-12 leaves the area
    with early.client(a12) as device:
        device.post("/api/v1/events", content=encode_event(far))
    for each in (runtime, second):
        _eventually(lambda each=each: _in_circle(each) == {"B-7": UnitStatus.AVAILABLE})
    with database.session() as session:
        change_status(session=session, unit_id="B-7", status=UnitStatus.OFF_DUTY, reason="end of shift", now=utc_now())
        session.commit()
    for each in (runtime, second):
        _eventually(lambda each=each: _in_circle(each) == {})


def test_operators_ask_which_units_are_in_an_area_ranked_for_the_target(
    server: RunningServer, register: Register, operator_token: str
) -> None:
    tokens = {unit: register(f"cam-{unit}", unit) for unit in ("A-1", "A-2", "A-3")}
    spots = {"A-1": (51.5090, -0.1281), "A-2": (51.5080, -0.1330), "A-3": (51.5200, -0.1281)}
    for unit, (lat, lon) in spots.items():
        with server.client(tokens[unit]) as device:
            device.post(
                "/api/v1/events",
                content=encode_event(position(device_id=f"cam-{unit}", unit_id=unit, lat=lat, lon=lon)),
            )
    runtime: ServerRuntime = server.app.state.runtime
    _eventually(lambda: len(runtime.unit_index()) == 3)
    with server.client(operator_token) as operator:
        default = operator.post("/api/v1/units/in-area", json={"target": {"lat": 51.5080, "lon": -0.1281}}).json()
        assert operator.patch("/api/v1/units/A-1", json={"status": "busy", "reason": "on a call"}).status_code == 200
        _eventually(lambda: _in_circle(runtime)["A-1"] is UnitStatus.BUSY)
        after = operator.post("/api/v1/units/in-area", json={"target": {"lat": 51.5080, "lon": -0.1281}}).json()
        crossing = operator.post(
            "/api/v1/units/in-area",
            json={
                "target": {"lat": 0, "lon": 179.99},
                "area": {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [179.99, 0]},
                    "properties": {"radius_m": 5000},
                },
            },
        )
    # The default circle (1 km) holds A-1 (111 m away) and A-2 (340 m), not A-3 (1.3 km); nearest first.
    assert [u["unit_id"] for u in default["units"]] == ["A-1", "A-2"]
    assert default["area"]["properties"]["radius_m"] == 1000
    assert default["units"][0]["distance_m"] < default["units"][1]["distance_m"]
    assert all(u["suggested"] and u["eta_s"] > 0 and not u["stale"] for u in default["units"])
    assert [(u["unit_id"], u["status"], u["suggested"]) for u in after["units"]] == [
        ("A-1", "busy", False),
        ("A-2", "available", True),
    ]
    assert crossing.status_code == 422
    assert crossing.json()["error"]["code"] == "area_crosses_antimeridian"
