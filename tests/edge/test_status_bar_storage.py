"""The handset's status bar warns the officer, in a real Chromium, when the outbox's storage fails.

The device behind the screen is a real :class:`~vigil.edge.outbox.Outbox` on a broken file: its events are only
in memory until the file is moved aside, and the status bar says so, then stops saying so.
"""

import uuid
from pathlib import Path

from tests.support.browser import OpenPhonePage
from vigil.edge.device_health import DeviceHealth, LinkState, WatchlistHealth
from vigil.edge.outbox import Outbox
from vigil.edge.screen_server import ScreenServer
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView
from vigil.edge.settings import ScreenSettings
from vigil.events import DispatchState, DispatchStatus, OfficerEmergency, Position
from vigil.web.assets import page_dir


class OutboxDevice:
    """A device whose health is its real outbox's; it takes no answers or emergencies (none are made here)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def health(self) -> DeviceHealth:
        state = self.outbox.state()
        return DeviceHealth(
            link=LinkState.OFFLINE,
            outbox_backlog=state.backlog,
            fix=None,
            battery_pct=None,
            watchlist=WatchlistHealth(version=2, valid_until=None, announced_version=None, install_problem=None),
            outbox_in_memory=state.in_memory,
            storage_warning=state.warning(),
        )

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        raise AssertionError("no answers in this test")

    def raise_emergency(self) -> OfficerEmergency:
        raise AssertionError("no emergencies in this test")

    def dismiss_emergency(self) -> None:
        raise AssertionError("no emergencies in this test")


def test_the_status_bar_warns_while_events_are_only_in_memory(tmp_path: Path, open_phone_page: OpenPhonePage) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"not a database" * 300)
    outbox = Outbox(path, retry_interval_s=0)
    for number in range(3):
        outbox.put(Position(device_id="cam-7", unit_id="Bravo-2", lat=51.5, lon=-0.12 + number * 1e-5))
    state = ScreenState(
        device_id="cam-7", unit_id="Bravo-2", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
    )
    server = ScreenServer(ScreenSettings(port=0), state=state, device=OutboxDevice(outbox), page=page_dir("handset"))
    server.start()
    try:
        page = open_phone_page(server.url)
        banner = page.page.locator("[data-testid=storage-banner]")
        banner.wait_for(state="visible", timeout=15_000)
        assert banner.inner_text().startswith(
            "Storage broken (not a readable outbox) — 3 events only in memory, not yet sent"
        )
        outbox_chip = page.page.locator("[data-testid=status-outbox]")
        assert outbox_chip.inner_text() == "Outbox 3 waiting (3 only in memory)"
        assert outbox_chip.get_attribute("data-state") == "stale"
        page.screenshot("handset-storage-broken")

        path.rename(tmp_path / "outbox.broken")  # moved aside: the outbox writes its memory to a new file
        outbox.retry()
        banner.wait_for(state="hidden", timeout=15_000)
        assert outbox_chip.inner_text() == "Outbox 3 waiting"
        assert outbox_chip.get_attribute("data-state") == "waiting"
    finally:
        server.stop()
        outbox.close()
