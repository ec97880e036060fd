"""Alerts for the operators: newest first without images; each face crop at its own URL."""

import json
import uuid
from datetime import timedelta

from tests.command.conftest import Register, RunningServer
from tests.command.events import alert, send_watchlist
from vigil.command.database import Database
from vigil.events import encode_event, utc_now


def test_alerts_come_newest_first_without_their_images(
    server: RunningServer, register: Register, database: Database, probe_jpeg: bytes, operator_token: str
) -> None:
    token = register()
    send_watchlist(database, "cam-1", subjects=("older", "newer"))
    now = utc_now()
    older = alert(probe_jpeg, at=now - timedelta(minutes=3), subject_id="older")
    newer = alert(probe_jpeg, at=now - timedelta(minutes=1), subject_id="newer")
    with server.client(token) as device, server.client(operator_token) as operator:
        device.post("/api/v1/events", content=b"[" + encode_event(older) + b"," + encode_event(newer) + b"]")
        listed = operator.get("/api/v1/alerts").text
        page = operator.get("/api/v1/alerts", params={"before": (now - timedelta(minutes=2)).isoformat()}).json()
        image = operator.get(f"/api/v1/alerts/{newer.alert_id}/probe.jpg")
    alerts = json.loads(listed)["alerts"]
    assert [a["subject_id"] for a in alerts] == ["newer", "older"]
    assert alerts[0]["probe_url"] == f"/api/v1/alerts/{newer.alert_id}/probe.jpg"
    assert alerts[0]["has_probe"] is True
    assert (alerts[0]["lat"], alerts[0]["quality_score"], alerts[0]["review_decision"]) == (51.5081, 0.8, None)
    assert "probe_jpeg" not in listed
    assert newer.model_dump(mode="json")["probe_jpeg"][:40] not in listed
    assert [a["subject_id"] for a in page["alerts"]] == ["older"]
    assert image.content == probe_jpeg
    assert (image.headers["content-type"], image.headers["cache-control"]) == ("image/jpeg", "no-store")


def test_an_unknown_alerts_image_is_a_404(server: RunningServer, operator_token: str) -> None:
    with server.client(operator_token) as client:
        response = client.get(f"/api/v1/alerts/{uuid.uuid4()}/probe.jpg")
        invalid = client.get("/api/v1/alerts/not-a-uuid/probe.jpg")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_alert")
    assert (invalid.status_code, invalid.json()["error"]["code"]) == (422, "invalid_request")
