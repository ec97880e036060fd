"""The officer's emergency on the handset, end to end on the device: a real Chromium on a phone-sized screen holds
the page's emergency button, against a running edge agent whose link to "control" is the in-process bus.

Control is played by the test: it keeps what the device sends, acks it, and sends what an operator would (the
acknowledgement, an officer-in-danger order). The scenario runs in order on one agent and one page. Screenshots
are saved in the session's screenshot folder (printed).
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Request

from tests.support.acking_control_room import AckingControlRoom
from tests.support.browser import WatchedPage, watch
from vigil.bus.memory import MemoryBus
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.runner import screen_state
from vigil.edge.screen_server import ScreenServer
from vigil.edge.settings import ScreenSettings
from vigil.events import (
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    EmergencyAcknowledged,
    EmergencyBrief,
    EmergencyTrigger,
    Location,
    OfficerEmergency,
    utc_now,
)
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.gallery import Gallery
from vigil.web.assets import page_dir

DEVICE, UNIT = "cam-7", "Bravo-2"
ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493)]
AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-0.1262, 51.5088], [-0.1236, 51.5088], [-0.1236, 51.5100], [-0.1262, 51.5100], [-0.1262, 51.5088]]
    ],
}
HOLD_S = 1.5  # HOLD_MS in web/src/handset/emergency.ts
TIMEOUT_MS = 20_000


@dataclass
class Handset:
    agent: EdgeAgent
    bus: MemoryBus
    room: AckingControlRoom
    screen: WatchedPage
    posted: list[str]

    @property
    def page(self) -> Page:
        return self.screen.page

    @property
    def button(self) -> Locator:
        return self.page.locator("[data-testid=emergency-button]")

    @property
    def panel(self) -> Locator:
        return self.page.locator("[data-testid=emergency]")

    def shot(self, name: str) -> Path:
        return self.screen.screenshot(f"handset-emergency-{name}")


@pytest.fixture(scope="module")
def handset(tmp_path_factory: pytest.TempPathFactory, browser: Browser, screenshots: Path) -> Iterator[Handset]:
    directory = tmp_path_factory.mktemp("handset-emergency")
    bus = MemoryBus()
    room = AckingControlRoom(bus, DEVICE)
    state = screen_state(ScreenSettings(port=0), device_id=DEVICE, unit_id=UNIT)
    empty = LoadedWatchlist(
        gallery=Gallery([], threshold=0.5, model=DLIB_MODEL_ID), version=1, valid_until=None, package=None
    )
    agent = EdgeAgent(
        identity=EdgeIdentity(device_id=DEVICE, unit_id=UNIT),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=ActiveWatchlist(empty),
        recognition=RecognitionSettings(),
        outbox=Outbox(directory / "outbox.sqlite"),
        bus=bus,
        position=SimulatedRoute(ROUTE, 1.4),
        notifiers=[state],
        position_interval_s=5,
        status_interval_s=60,
    )
    screen = ScreenServer(ScreenSettings(port=0), state=state, device=agent, page=page_dir("handset"))
    screen.start()
    agent.start()
    page = watch(browser, screen.url, screenshots, origin=screen.url)
    posted: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/api/emergency"):
            posted.append(request.method)

    page.page.on("request", on_request)
    page.page.locator("#screen-link").wait_for(state="hidden", timeout=TIMEOUT_MS)
    yield Handset(agent=agent, bus=bus, room=room, screen=page, posted=posted)
    page.page.context.close()
    screen.stop()
    agent.stop()
    agent.outbox.close()
    bus.stop()
    problems = page.problems()
    assert not problems, "\n".join(problems)


def _wait(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _press_with_the_mouse(handset: Handset) -> float:
    box = handset.button.bounding_box()
    assert box is not None
    handset.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pressed = time.monotonic()
    handset.page.mouse.down()
    handset.page.locator("[data-testid=emergency-button][data-hold=holding]").wait_for(timeout=TIMEOUT_MS)
    return pressed


def _let_the_hold_time_pass(since: float) -> None:
    """What is tested is that nothing happens when the hold's time is up after an early release: let it pass."""
    time.sleep(max(0.0, since + HOLD_S + 0.5 - time.monotonic()))


def test_the_button_is_red_and_says_to_hold_it(handset: Handset) -> None:
    button = handset.button
    assert button.is_visible()
    assert "EMERGENCY — hold" in button.inner_text()
    colour = button.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(192, 0, 0)"
    assert handset.panel.is_hidden()


def test_letting_go_early_sends_nothing(handset: Handset) -> None:
    pressed = _press_with_the_mouse(handset)
    assert "Keep holding" in handset.button.inner_text()
    handset.shot("holding")
    handset.page.mouse.up()  # well before the hold's 1.5 s: the screenshot above took a fraction of it
    handset.page.locator("[data-testid=emergency-button][data-hold=idle]").wait_for(timeout=TIMEOUT_MS)
    released = time.monotonic() - pressed
    assert released < HOLD_S, f"the release came {released:.2f} s after the press; the test needs it earlier"

    # A finger whose press the browser took over (to scroll): pointercancel.
    pressed_again = time.monotonic()
    handset.button.dispatch_event("pointerdown", {"pointerType": "touch", "isPrimary": True, "button": 0})
    assert handset.button.get_attribute("data-hold") == "holding"
    handset.button.dispatch_event("pointercancel", {"pointerType": "touch", "isPrimary": True})
    assert handset.button.get_attribute("data-hold") == "idle"

    # The keyboard: Space pressed and let go at once.
    handset.button.focus()
    handset.page.keyboard.down(" ")
    assert handset.button.get_attribute("data-hold") == "holding"
    handset.page.keyboard.up(" ")
    assert handset.button.get_attribute("data-hold") == "idle"

    _let_the_hold_time_pass(max(pressed, pressed_again))
    handset.page.evaluate("0")  # Playwright hands the test the page's events (requests) during its own calls
    assert handset.posted == []
    assert not handset.agent.emergency.open
    assert handset.room.received(OfficerEmergency) == []
    assert handset.panel.is_hidden()


def test_holding_the_button_sends_the_emergency_and_shows_it_delivered(handset: Handset) -> None:
    handset.bus.set_link(up=False)  # a dead zone: the emergency waits in the outbox
    try:
        pressed = _press_with_the_mouse(handset)
        handset.page.locator("[data-testid=emergency][data-state=sent]").wait_for(timeout=TIMEOUT_MS)
        held = time.monotonic() - pressed
        handset.page.mouse.up()
        assert held >= HOLD_S
        assert "EMERGENCY SENT — waiting for control" in handset.panel.inner_text()
        assert handset.posted == ["POST"]
        handset.shot("sent")
        assert handset.room.received(OfficerEmergency) == []
    finally:
        handset.bus.set_link(up=True)
    handset.page.locator("[data-testid=emergency][data-state=delivered]").wait_for(timeout=TIMEOUT_MS)
    assert "Delivered to control" in handset.panel.inner_text()
    [event] = handset.room.received(OfficerEmergency)
    assert (event.trigger, event.unit_id) == (EmergencyTrigger.HANDSET, UNIT)
    assert event.location is not None
    assert handset.panel.get_attribute("data-emergency-id") == str(event.emergency_id)
    handset.shot("delivered")


def test_a_second_hold_while_it_is_open_raises_no_second_emergency(handset: Handset) -> None:
    handset.button.focus()
    with handset.page.expect_request("**/api/emergency", timeout=TIMEOUT_MS):
        handset.page.keyboard.down("Enter")  # held until the page sent it
    handset.page.keyboard.up("Enter")
    handset.page.locator("[data-testid=emergency-button][data-hold=idle]").wait_for(timeout=TIMEOUT_MS)
    assert handset.posted == ["POST", "POST"]
    _wait(lambda: handset.agent.outbox.backlog() == 0)
    assert len(handset.room.received(OfficerEmergency)) == 1


def test_control_acknowledges_and_the_handset_shows_who(handset: Handset) -> None:
    [event] = handset.room.received(OfficerEmergency)
    handset.room.send(
        EmergencyAcknowledged(
            device_id=DEVICE, emergency_id=event.emergency_id, by="Op. Ahmed", message="2 units on their way: B-7, C-3"
        )
    )
    handset.page.locator("[data-testid=emergency][data-state=acknowledged]").wait_for(timeout=TIMEOUT_MS)
    text = handset.panel.inner_text()
    assert "Control has it — Op. Ahmed, " in text
    assert ": 2 units on their way: B-7, C-3" in text
    handset.shot("acknowledged")


def test_an_officer_in_danger_order_is_red_and_names_the_officer(handset: Handset) -> None:
    order = DispatchOrder(
        device_id=DEVICE,
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id=UNIT,
        target=Location(lat=51.5094, lon=-0.1249),
        area=AREA,
        emergency=EmergencyBrief(
            emergency_id=uuid.uuid4(), unit_id="Alpha-12", call_sign="Alpha 12", raised_at=utc_now()
        ),
        instructions="Alpha 12 pressed the emergency button at the market.",
    )
    handset.room.send(order)
    card = handset.page.locator(f"[data-dispatch-id='{order.dispatch_id}']")
    card.wait_for(timeout=TIMEOUT_MS)
    assert card.get_attribute("data-kind") == "emergency"
    text = card.inner_text()
    assert "OFFICER IN DANGER" in text
    assert "Officer in danger: Alpha 12" in text
    assert "Alpha 12 pressed the emergency button" in text
    assert card.locator(".name").evaluate("e => getComputedStyle(e).color") == "rgb(192, 0, 0)"
    assert card.locator(".leaflet-interactive.target").count() == 1
    assert card.locator(".faces").is_hidden()
    assert card.locator(".evidence").is_hidden()
    enabled = [b.get_attribute("data-answer") for b in card.locator(".buttons button:enabled").all()]
    assert enabled == ["accepted", "declined"]
    card.locator("button[data-answer=accepted]").click()
    card.locator(".answers li[data-status=accepted][data-delivery=delivered]").wait_for(timeout=TIMEOUT_MS)
    assert [a.status for a in handset.room.received(DispatchStatus)] == [DispatchState.ACCEPTED]

    # The emergency button stays reachable over the order: nothing covers its middle.
    box = handset.button.bounding_box()
    assert box is not None
    covered = handset.page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid=emergency-button]') === null",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert not covered
    card.locator(".map").scroll_into_view_if_needed()
    handset.shot("officer-in-danger-order")


def test_the_officer_dismisses_the_acknowledged_emergency(handset: Handset) -> None:
    handset.panel.locator("button.dismiss").click()
    handset.panel.wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert not handset.agent.emergency.open
