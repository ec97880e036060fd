"""The handset's status bar tells the officer, in a real Chromium, when the camera does not search and why.

The device behind the screen holds a real deployment scope (:class:`~vigil.edge.deployment.HeldScope`) and a
position fix the test moves: outside the deployment's area the banner says searching is paused; inside a silent
trial it says matches go to control only; inside a live deployment it is hidden.
"""

import uuid
from datetime import UTC, datetime, timedelta

from tests.support.browser import OpenPhonePage
from vigil.edge.deployment import HeldScope
from vigil.edge.device_health import DeviceHealth, LinkState, WatchlistHealth
from vigil.edge.position import PositionFix
from vigil.edge.screen_server import ScreenServer
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView
from vigil.edge.settings import ScreenSettings
from vigil.events import DeploymentMode, DeploymentScope, DispatchState, DispatchStatus, OfficerEmergency
from vigil.web.assets import page_dir

NOW = datetime.now(UTC)
CENTRE = (60.1699, 24.9384)  # lat, lon
AREA = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [CENTRE[1], CENTRE[0]]},
    "properties": {"radius_m": 500},
}


def _scope(mode: DeploymentMode) -> HeldScope:
    return HeldScope.of(
        DeploymentScope(
            deployment_id=uuid.uuid4(),
            area=AREA,
            starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(hours=8),
            mode=mode,
        )
    )


class ScopedDevice:
    """A device holding a deployment scope at a position the test sets; it takes no answers or emergencies."""

    def __init__(self, scope: HeldScope, lat: float, lon: float) -> None:
        self.scope = scope
        self.fix = PositionFix(lat=lat, lon=lon, accuracy_m=5, heading_deg=None, speed_mps=None, at=NOW, source="sim")

    def move(self, lat: float, lon: float) -> None:
        self.fix = PositionFix(lat=lat, lon=lon, accuracy_m=5, heading_deg=None, speed_mps=None, at=NOW, source="sim")

    def health(self) -> DeviceHealth:
        pause = self.scope.pause(fix=self.fix, now=datetime.now(UTC))
        return DeviceHealth(
            link=LinkState.UP,
            outbox_backlog=0,
            fix=self.fix,
            battery_pct=90,
            watchlist=WatchlistHealth(version=3, valid_until=None, announced_version=None, install_problem=None),
            search_paused=pause.message if pause is not None else None,
            silent_trial=self.scope.silent,
        )

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        raise AssertionError("no answers in this test")

    def raise_emergency(self) -> OfficerEmergency:
        raise AssertionError("no emergencies in this test")

    def dismiss_emergency(self) -> None:
        raise AssertionError("no emergencies in this test")


def test_the_banner_says_when_searching_is_paused_and_when_a_silent_trial_runs(open_phone_page: OpenPhonePage) -> None:
    device = ScopedDevice(_scope(DeploymentMode.SILENT), lat=CENTRE[0] + 0.02, lon=CENTRE[1])  # 2.2 km north
    state = ScreenState(
        device_id="cam-7", unit_id="Bravo-2", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
    )
    server = ScreenServer(ScreenSettings(port=0), state=state, device=device, page=page_dir("handset"))
    server.start()
    try:
        page = open_phone_page(server.url)
        banner = page.page.locator("[data-testid=search-banner]")
        banner.wait_for(state="visible", timeout=15_000)
        assert banner.inner_text() == "Searching paused: outside the deployment's area"
        assert banner.get_attribute("data-state") == "paused"
        page.screenshot("handset-search-paused")

        device.move(*CENTRE)
        page.page.locator("[data-testid=search-banner][data-state=silent]").wait_for(timeout=15_000)
        assert banner.inner_text() == "Silent trial in progress: matches go to control for review only"

        device.scope = _scope(DeploymentMode.LIVE)
        banner.wait_for(state="hidden", timeout=15_000)
    finally:
        server.stop()
