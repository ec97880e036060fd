"""The control-room page as the server serves it: its files with a strict CSP, its configuration, its absence."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from tests.command.conftest import CreateAccount, RunningServer
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.control_room import page
from vigil.command.settings import CommandSettings, MapSettings
from vigil.web.errors import PageNotBuilt

TILES = "https://tiles.force.example/osm/{z}/{x}/{y}.png"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_and_its_assets_load_from_the_server_alone(server: RunningServer) -> None:
    with server.client() as client:
        html = client.get("/control/")
        script = client.get("/control/app.js")
        redirected = client.get("/control")
    assert html.status_code == 200
    assert 'src="app.js"' in html.text
    assert script.headers["content-type"].startswith("text/javascript")
    policy = html.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "https://" not in policy  # no tile server configured: the grid, and nothing from elsewhere
    assert html.headers["x-frame-options"] == "DENY"
    assert redirected.status_code == 307


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("osmand_enabled", [True, False])
def test_the_root_leads_to_the_page_whether_or_not_osmand_trackers_are_taken(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings, osmand_enabled: bool
) -> None:
    server = serve(create_app(settings.model_copy(update={"osmand_enabled": osmand_enabled})))
    with server.client() as client:
        answer = client.get("/")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/control/"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_configuration_names_the_tile_server_and_the_area_limits(
    serve: Callable[[FastAPI], RunningServer], settings: CommandSettings, accounts: CreateAccount
) -> None:
    configured = settings.model_copy(update={"map": MapSettings(tile_url=TILES, tile_attribution="© Force GIS")})
    server = serve(create_app(configured))
    token = server.sign_in(accounts("aud-1", Role.AUDITOR))
    with server.client(token) as client:
        config = client.get("/api/v1/control-room/config").json()
        html = client.get("/control/")
    assert config["map"] == {"tile_url": TILES, "tile_attribution": "© Force GIS", "max_zoom": 19}
    assert (config["default_radius_m"], config["min_radius_m"], config["ack_timeout_s"]) == (1000.0, 10.0, 60.0)
    assert "img-src 'self' data: blob: https://tiles.force.example" in html.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("tile_url", "error"),
    [
        ("ftp://tiles/{z}/{x}/{y}.png", "not an http"),
        ("https://tiles/{z}/{x}.png", r"lacks \{y\}"),
    ],
)
def test_a_tile_url_must_be_an_xyz_template(tile_url: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        MapSettings(tile_url=tile_url)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_built_page_its_address_says_how_to_build_it(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_built(name: str) -> Path:
        raise PageNotBuilt(name, tmp_path / name)

    monkeypatch.setattr(page, "page_dir", not_built)
    server = serve(create_app(settings))
    with server.client() as client:
        answer = client.get("/control/")
        api = client.get("/api/v1/openapi.json")
    assert answer.status_code == 503
    assert "run ./scripts/setup" in answer.json()["error"]["message"]
    assert api.status_code == 200  # the API works without the page
