"""The devices list, with what each device last reported."""

from tests.command.conftest import Register, RunningServer
from tests.command.events import device_status
from vigil.events import encode_event


def test_devices_show_when_they_were_last_seen_and_their_status(
    server: RunningServer, register: Register, operator_token: str
) -> None:
    register("cam-2", "B-7")
    with server.client(register("cam-1", "A-12")) as device, server.client(operator_token) as operator:
        device.post("/api/v1/events", content=encode_event(device_status(battery_pct=42.0, last_error="lens fogged")))
        devices = operator.get("/api/v1/devices").json()["devices"]
    cam1, cam2 = devices
    assert (cam1["device_id"], cam1["unit_id"], cam1["battery_pct"], cam1["last_error"]) == (
        "cam-1",
        "A-12",
        42.0,
        "lens fogged",
    )
    assert (cam1["last_seen_at"] is None, cam2["last_seen_at"] is None) == (False, True)
    assert not {"token", "token_sha256"} & set(cam1)
