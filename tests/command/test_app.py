"""The app factory: the published API, and startup steps that undo themselves when one fails."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tests.command.conftest import RunningServer
from vigil.bus.errors import BusUnavailable
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.command.app import create_app, start_server, stop_server
from vigil.command.settings import CommandSettings, MemoryBusSettings


def test_the_openapi_document_lists_the_api(server: RunningServer) -> None:
    with server.client() as client:
        document = client.get("/api/v1/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/auth/second-factor",
        "/api/v1/users",
        "/api/v1/users/{username}/roles",
        "/api/v1/users/{username}/second-factor",
        "/api/v1/users/{username}/password",
        "/api/v1/users/{username}/unlock",
        "/api/v1/users/{username}/disable",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/events",
        "/api/v1/metrics",
        "/api/v1/units",
        "/api/v1/units/{unit_id}/track",
        "/api/v1/units/in-area",
        "/api/v1/units/{unit_id}",
        "/api/v1/devices",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}/probe.jpg",
        "/api/v1/feed",
        "/osmand/{secret}",
        "/api/v1/reviews",
        "/api/v1/reviews/trial",
        "/api/v1/deployments",
        "/api/v1/deployments/{deployment_id}",
        "/api/v1/deployments/{deployment_id}/decision",
        "/api/v1/deployments/{deployment_id}/end",
        "/api/v1/deployments/{deployment_id}/report",
        "/api/v1/reviews/{alert_id}",
        "/api/v1/reviews/{alert_id}/probe.jpg",
        "/api/v1/reviews/{alert_id}/enrolled.jpg",
        "/api/v1/reviews/{alert_id}/decision",
        "/api/v1/reviews/{alert_id}/verification",
        "/api/v1/watchlists",
        "/api/v1/watchlists/{watchlist_id}",
        "/api/v1/watchlists/{watchlist_id}/threshold",
        "/api/v1/watchlists/{watchlist_id}/expectation",
        "/api/v1/watchlists/{watchlist_id}/reembed",
        "/api/v1/watchlists/{watchlist_id}/subjects",
        "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/approve",
        "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/remove",
        "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/templates/{template_id}/chip.jpg",
        "/api/v1/watchlists/{watchlist_id}/devices/{device_id}",
        "/api/v1/device/watchlist/{version}",
        "/api/v1/retention/run",
        "/api/v1/report",
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/area",
        "/api/v1/incidents/{incident_id}/dispatches",
        "/api/v1/incidents/{incident_id}/close",
        "/api/v1/emergencies",
        "/api/v1/emergencies/{emergency_id}",
        "/api/v1/emergencies/{emergency_id}/acknowledge",
        "/api/v1/emergencies/{emergency_id}/dispatch",
        "/api/v1/emergencies/{emergency_id}/resolve",
        "/api/v1/control-room/config",
    }
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/events"]["post"]["responses"]["413"]["content"]["application/json"]


def test_a_bus_passed_in_stays_the_callers(settings: CommandSettings) -> None:
    bus = MemoryBus()
    runtime = start_server(settings, bus)
    assert (runtime.bus, runtime.owns_bus, runtime.subscriber is not None) == (bus, False, True)
    stop_server(runtime)
    bus.publish("vigil/v1/devices/cam-1/up/position", b"{}")  # still open: the caller stops it
    bus.stop()


def test_the_bus_named_in_the_settings_belongs_to_the_server(settings: CommandSettings) -> None:
    runtime = start_server(settings.model_copy(update={"bus": MemoryBusSettings()}), None)
    assert (isinstance(runtime.bus, MemoryBus), runtime.owns_bus) == (True, True)
    stop_server(runtime)


def test_a_failing_step_stops_startup_with_its_error(settings: CommandSettings) -> None:
    unreachable = MqttSettings(host="127.0.0.1", port=1, connect_timeout_s=1)
    with pytest.raises(BusUnavailable, match="cannot reach the MQTT broker"):
        start_server(settings.model_copy(update={"bus": unreachable}), None)


def test_building_the_app_touches_nothing(settings: CommandSettings) -> None:
    create_app(settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"}))


def test_after_startup_is_called_once_every_step_has_run_and_before_any_request(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings
) -> None:
    started: list[bool] = []
    app = create_app(
        settings,
        bus=MemoryBus(),
        after_startup=lambda: started.append(app.state.runtime.units.index is not None),
    )
    server = serve(app)
    assert started == [True]  # the last step, the live unit index, had loaded
    with server.client() as client:
        assert client.get("/api/v1/openapi.json").status_code == 200
    assert started == [True]
