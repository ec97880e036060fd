"""An officer's emergency in the control room, end to end: a real headless Chromium on a large screen against the
real command-centre server (``create_app`` in uvicorn), with the officer's device and the nearby units' radios
reporting as they would.

From a Traccar Client's SOS (``alarm=sos`` on the OsmAnd endpoint): the emergency shows above an alert already
waiting, in red, with the alarm repeating; the map centres on the officer, zoomed in, and follows their next fix;
the nearest units are proposed (never the officer's own); Enter acknowledges it and stops the alarm; one button
sends the proposed units, the orders reach the radios as officer-in-danger orders and their answers show;
resolving stands them down.

From the handset: the officer of a body camera (a real edge agent on the server's bus, its handset page on a
phone-sized Chromium) holds the emergency button; the control room shows it above every alert with the officer
centred and the nearest units proposed; one click sends them, which also acknowledges it; the handset says
control has it, and who. Screenshots go to the session's screenshot folder (``$VIGIL_SCREENSHOTS`` keeps them).
"""

import math
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.command.events import alert, position
from tests.command.web.conftest import (
    CAMERA,
    TIMEOUT_MS,
    ControlRoom,
    OpenWall,
    Radio,
    centre,
    eventually,
    sign_in,
)
from tests.edge.conftest import active_watchlist
from tests.support.browser import WatchedPage, watch
from vigil.command.devices.service import register_device
from vigil.dispatch.unit import UnitKind
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.runner import screen_state
from vigil.edge.screen_server import ScreenServer
from vigil.edge.settings import ScreenSettings
from vigil.events import DispatchCancelled, DispatchOrder, utc_now
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.web.assets import page_dir

# Around St Paul's Cathedral, 2 km east of the fixture's units at Trafalgar Square: the tracker's officer and the
# two units nearest them (distances from the officer in the comments).
OFFICER = (51.5138, -0.0984)
OFFICER_MOVED = (51.5138, -0.0970)  # 100 m east, a second later
NEARBY = {
    "D-1": ((51.5145, -0.0984), "Delta 1", "R-201"),  # 80 m
    "D-2": ((51.5138, -0.1010), "Delta 2", "R-202"),  # 180 m
}


@dataclass
class Tracker:
    """An officer's phone running Traccar Client, registered with an OsmAnd secret."""

    device_id: str
    unit_id: str
    call_sign: str
    path: str

    def report(self, room: ControlRoom, lat: float, lon: float, *, at: float, sos: bool = False) -> None:
        """Send a fix exactly as Traccar Client does (a POST with the fix in the query), with its SOS alarm."""
        query = {
            "id": self.device_id,
            "timestamp": str(int(at)),
            "lat": f"{lat}",
            "lon": f"{lon}",
            "speed": "0.0",
            "bearing": "0.0",
            "accuracy": "6.0",
            "batt": "64.0",
        }
        if sos:
            query["alarm"] = "sos"
        with httpx.Client(base_url=room.server.url, timeout=60) as client:
            response = client.post(self.path, params=query, content=b"")
        assert response.status_code == 200, response.text


def register(room: ControlRoom, device_id: str, unit_id: str, call_sign: str, radio_id: str | None) -> str | None:
    """Register a device and its unit; returns its OsmAnd secret's URL path when it is a tracker (no radio id)."""
    with room.database.session() as session:
        registration = register_device(
            actor="system", address=None, session=session, device_id=device_id, unit_id=unit_id,
            call_sign=call_sign, radio_id=radio_id, kind=UnitKind.FOOT, now=utc_now(), osmand=radio_id is None,
        )  # fmt: skip
    if registration.osmand_secret is None:
        return None
    return f"/osmand/{registration.osmand_secret.get_secret_value()}"


def nearby_radios(room: ControlRoom, units: dict[str, tuple[tuple[float, float], str, str]]) -> dict[str, Radio]:
    """Register the units near the officer; their radios report where they are and answer their orders."""
    radios: dict[str, Radio] = {}
    for unit_id, ((lat, lon), call_sign, radio_id) in units.items():
        register(room, f"radio-{unit_id}", unit_id, call_sign, radio_id)
        radio = Radio(room.bus, f"radio-{unit_id}", answers=True)
        radio.send(position(device_id=radio.device_id, unit_id=unit_id, lat=lat, lon=lon, heading_deg=0.0))
        radios[unit_id] = radio
    return radios


def off_centre_px(page: Page, selector: str) -> float:
    """How far (CSS pixels) an element's centre is from the map's centre."""
    x, y = centre(page.locator(selector))
    mx, my = centre(page.locator("[data-testid=map]"))
    return math.hypot(x - mx, y - my)


def centred_on(page: Page, selector: str) -> None:
    """Wait until the map is centred on an element (within a few pixels)."""
    eventually(lambda: off_centre_px(page, selector) < 8)


def emergency_api(room: ControlRoom, token: str, emergency_id: str) -> dict[str, object]:
    with room.server.client(token) as client:
        response = client.get(f"/api/v1/emergencies/{emergency_id}")
    response.raise_for_status()
    answer: dict[str, object] = response.json()
    return answer


def test_a_trackers_sos_takes_the_top_of_the_queue_and_the_map_and_one_click_sends_the_nearest_units(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    room = control_room
    path = register(room, "734512", "C-5", "Charlie 5", None)
    assert path is not None
    tracker = Tracker(device_id="734512", unit_id="C-5", call_sign="Charlie 5", path=path)
    radios = nearby_radios(room, NEARBY)
    screen = open_wall("/control/")
    page = screen.page
    sign_in(page, room.people["operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=emergencies]")).to_be_hidden()
    waiting = alert(room.probe_jpeg, location=CAMERA, watchlist_version=room.watchlist_version)
    room.camera_sends(waiting)
    queued = page.locator(f"[data-testid=alert-queue] .queue-item[data-alert='{waiting.alert_id}']")
    expect(queued).to_be_visible(timeout=TIMEOUT_MS)
    for unit_id in NEARBY:
        expect(page.locator(f".unit-marker[data-unit='{unit_id}']")).to_have_count(1, timeout=TIMEOUT_MS)

    raised_at = time.time()
    tracker.report(room, *OFFICER, at=raised_at, sos=True)
    card = page.locator("[data-testid=emergency]")
    expect(card).to_have_count(1, timeout=TIMEOUT_MS)
    expect(card).to_have_attribute("data-status", "open")
    expect(card.locator(".emergency-title")).to_have_text("OFFICER IN DANGER: Charlie 5 (C-5)")
    expect(card.locator("[data-testid=emergency-trigger]")).to_have_text("SOS button on the tracker")
    raised = re.compile(r"^Raised \d\d:\d\d:\d\d( [AP]M)? \(\d+ s ago\)$")
    expect(card.locator("[data-testid=emergency-raised]")).to_have_text(raised)
    expect(card.locator("[data-testid=emergency-position]")).to_have_text(re.compile(r"^Position \d+ s old \(±6 m\)$"))
    expect(card.locator("[data-testid=emergency-state]")).to_contain_text("NOT ACKNOWLEDGED")
    expect(page.locator("[data-testid=emergency-count]")).to_have_text("1 OFFICER IN DANGER · 1 not acknowledged")
    emergency_id = card.get_attribute("data-emergency") or ""
    uuid.UUID(emergency_id)

    # Above every alert: first in the side panel, drawn above the waiting alert, and in view while a review is open.
    card_box, alert_box = card.bounding_box(), queued.bounding_box()
    assert card_box is not None
    assert alert_box is not None
    assert card_box["y"] + card_box["height"] <= alert_box["y"]
    # The alarm sounds and repeats until someone acknowledges; Enter acknowledges (the button has the focus).
    expect(page.locator("body")).to_have_attribute("data-alarm", "on")
    expect(page.locator("body")).to_have_attribute("data-alarms", re.compile(r"^([2-9]|\d{2,})$"), timeout=TIMEOUT_MS)
    expect(card.locator("[data-testid=emergency-ack]")).to_be_focused()

    # The map is centred on the officer, at street level (the unit 80 m away is far from them on the screen).
    mark = f".emergency-mark[data-emergency='{emergency_id}']"
    expect(page.locator(mark)).to_be_visible()
    centred_on(page, mark)
    centred_on(page, ".unit-marker[data-unit='C-5']")
    (ox, oy), (dx, dy) = (
        centre(page.locator(".unit-marker[data-unit='C-5']")),
        centre(page.locator(".unit-marker[data-unit='D-1']")),
    )
    assert math.hypot(ox - dx, oy - dy) > 60
    expect(card.locator("[data-testid=emergency-follow]")).to_have_attribute("aria-pressed", "true")

    # The nearest available units, soonest first, never the officer's own; one button sends them all.
    proposed = card.locator("[data-testid=emergency-proposed] li[data-unit]")
    expect(proposed.first).to_have_attribute("data-unit", "D-1", timeout=TIMEOUT_MS)
    units = proposed.evaluate_all("items => items.map(item => item.dataset.unit)")
    assert units[:2] == ["D-1", "D-2"]
    assert "C-5" not in units
    expect(proposed.nth(0)).to_contain_text("Delta 1")
    expect(proposed.nth(0)).to_contain_text(re.compile(r"ETA \d+"))
    send = card.locator("[data-testid=emergency-send]")
    expect(send).to_have_text(f"Send {len(units)} units")
    screen.screenshot(f"emergency-{room.kind}-01-sos-above-the-queue")

    # The officer moves: the map follows them.
    before = off_centre_px(page, ".unit-marker[data-unit='D-1']")
    tracker.report(room, *OFFICER_MOVED, at=raised_at + 1)
    # The map moved under D-1 (which stands still) by the 100 m the officer walked away from it.
    eventually(lambda: off_centre_px(page, ".unit-marker[data-unit='D-1']") > before + 40)
    centred_on(page, mark)
    centred_on(page, ".unit-marker[data-unit='C-5']")

    # Enter acknowledges (the button kept the focus): the alarm stops, the panel says who has it.
    page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-status", "acknowledged", timeout=TIMEOUT_MS)
    expect(card.locator("[data-testid=emergency-state]")).to_have_text(re.compile(r"^Acknowledged by OP-1 at "))
    expect(card.locator("[data-testid=emergency-ack]")).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-alarm", "off")
    expect(page.locator("[data-testid=emergency-count]")).to_have_text("1 OFFICER IN DANGER")
    token = room.server.sign_in(room.people["supervisor"])
    acknowledged = emergency_api(room, token, emergency_id)
    assert (acknowledged["status"], acknowledged["acknowledged_by"], acknowledged["dispatched"]) == (
        "acknowledged",
        "OP-1",
        [],
    )

    send.click()
    orders = card.locator("[data-testid=emergency-orders]")
    for unit_id in NEARBY:
        answered = orders.locator(f"li[data-unit='{unit_id}']")
        expect(answered).to_have_attribute("data-state", "en_route", timeout=TIMEOUT_MS)
    stored = emergency_api(room, token, emergency_id)
    dispatched = stored["dispatched"]
    assert isinstance(dispatched, list)
    assert {order["unit_id"] for order in dispatched} == set(units)
    eventually(lambda: all(len(radios[unit_id].got(DispatchOrder)) == 1 for unit_id in NEARBY))
    for unit_id in NEARBY:
        order = radios[unit_id].got(DispatchOrder)[0]
        assert isinstance(order, DispatchOrder)
        assert order.subject is None
        assert order.emergency is not None
        assert (str(order.emergency.emergency_id), order.emergency.call_sign) == (emergency_id, "Charlie 5")
        # Sent to where the officer is: their latest fix when the order went.
        assert (order.target.lat, order.target.lon) == pytest.approx(OFFICER_MOVED)
    screen.screenshot(f"emergency-{room.kind}-02-units-sent-acknowledged")

    card.locator("[data-testid=emergency-resolve]").click()
    expect(card.locator("[data-testid=emergency-resolve-notes]")).to_be_focused()
    page.keyboard.type("Officer safe; suspect detained by Delta 1.")
    card.locator("[data-testid=emergency-resolve-confirm]").click()
    expect(page.locator("[data-testid=emergency]")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator(mark)).to_have_count(0)
    expect(page.locator("[data-testid=emergencies]")).to_be_hidden()
    expect(page.locator("[data-testid=emergency-count]")).to_be_hidden()
    assert emergency_api(room, token, emergency_id)["status"] == "resolved"
    eventually(lambda: all(len(radios[unit_id].got(DispatchCancelled)) == 1 for unit_id in NEARBY))
    screen.screenshot(f"emergency-{room.kind}-03-resolved")


# Beside the Tower of London, 3 km east of Trafalgar Square: the camera's officer walks east along Tower Hill, and
# the two units nearest them stand by (distances from the officer's start in the comments).
WALK = [(51.5094, -0.0790), (51.5094, -0.0740)]
NEAR_THE_TOWER = {
    "E-1": ((51.5101, -0.0790), "Echo 1", "R-301"),  # 80 m
    "E-2": ((51.5094, -0.0820), "Echo 2", "R-302"),  # 210 m
}


@dataclass
class Handset:
    """The officer's body camera (an edge agent on the control room's bus) and its handset page on a phone."""

    agent: EdgeAgent
    screen: WatchedPage

    @property
    def page(self) -> Page:
        return self.screen.page


@pytest.fixture
def handset(control_room: ControlRoom, browser: Browser, screenshots: Path, tmp_path: Path) -> Iterator[Handset]:
    """Camera cam-9 of unit E-4 ("Echo 4"), registered, walking near the Tower, its handset open on a phone."""
    register(control_room, "cam-9", "E-4", "Echo 4", "R-304")
    state = screen_state(ScreenSettings(port=0), device_id="cam-9", unit_id="E-4")
    agent = EdgeAgent(
        identity=EdgeIdentity(device_id="cam-9", unit_id="E-4"),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=active_watchlist({}, [], version=0),  # no video here: the officer only needs the button
        recognition=RecognitionSettings(),
        outbox=Outbox(tmp_path / "outbox.sqlite"),
        bus=control_room.bus,
        position=SimulatedRoute(WALK, 1.4),
        notifiers=[state],
        position_interval_s=5,
        status_interval_s=60,
    )
    screen = ScreenServer(ScreenSettings(port=0), state=state, device=agent, page=page_dir("handset"))
    screen.start()
    agent.start()
    phone = watch(browser, screen.url, screenshots, origin=screen.url)
    yield Handset(agent=agent, screen=phone)
    problems = phone.problems()
    phone.page.context.close()
    screen.stop()
    agent.stop()
    agent.outbox.close()
    assert not problems, "\n".join(problems)


def test_the_handsets_emergency_button_reaches_the_control_room_which_sends_help_and_the_officer_sees_it(
    control_room: ControlRoom, open_wall: OpenWall, handset: Handset
) -> None:
    room = control_room
    radios = nearby_radios(room, NEAR_THE_TOWER)
    wall = open_wall("/control/")
    page = wall.page
    sign_in(page, room.people["second operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    for _ in range(2):
        raised = alert(room.probe_jpeg, location=CAMERA, watchlist_version=room.watchlist_version)
        room.camera_sends(raised)
        expect(page.locator(f".queue-item[data-alert='{raised.alert_id}']")).to_be_visible(timeout=TIMEOUT_MS)
    queue = page.locator("[data-testid=alert-queue] .queue-item")
    for unit_id in (*NEAR_THE_TOWER, "E-4"):  # the officer's camera reports where they are, as the radios do
        expect(page.locator(f".unit-marker[data-unit='{unit_id}']")).to_have_count(1, timeout=TIMEOUT_MS)

    # The officer holds the emergency button until the handset says it went (letting go early sends nothing).
    phone = handset.page
    button = phone.locator("[data-testid=emergency-button]")
    shown = phone.locator("[data-testid=emergency]")
    expect(button).to_be_visible(timeout=TIMEOUT_MS)
    button.hover()
    phone.mouse.down()
    expect(button).to_have_attribute("data-hold", "holding")
    expect(shown).to_be_visible(timeout=TIMEOUT_MS)
    phone.mouse.up()
    expect(shown).to_have_attribute("data-state", re.compile(r"^(sent|delivered)$"))
    handset.screen.screenshot(f"emergency-{room.kind}-11-handset-sent")

    card = page.locator("[data-testid=emergency]")
    expect(card).to_have_count(1, timeout=TIMEOUT_MS)
    emergency_id = card.get_attribute("data-emergency") or ""
    assert emergency_id == shown.get_attribute("data-emergency-id")
    expect(card.locator(".emergency-title")).to_have_text("OFFICER IN DANGER: Echo 4 (E-4)")
    expect(card.locator("[data-testid=emergency-trigger]")).to_have_text("Emergency button held on the handset")
    expect(card.locator("[data-testid=emergency-position]")).to_have_text(re.compile(r"^Position \d+ s old"))
    expect(page.locator("body")).to_have_attribute("data-alarm", "on")
    top = card.bounding_box()
    assert top is not None
    for item in queue.all():  # above every alert
        box = item.bounding_box()
        assert box is not None
        assert top["y"] + top["height"] <= box["y"]
    # Centred on the officer, who keeps walking (a position every second now): the map keeps them in the middle.
    mark = f".emergency-mark[data-emergency='{emergency_id}']"
    centred_on(page, mark)
    centred_on(page, ".unit-marker[data-unit='E-4']")
    proposed = card.locator("[data-testid=emergency-proposed] li[data-unit]")
    expect(proposed.first).to_have_attribute("data-unit", "E-1", timeout=TIMEOUT_MS)
    units = proposed.evaluate_all("items => items.map(item => item.dataset.unit)")
    assert units[:2] == ["E-1", "E-2"]
    assert "E-4" not in units
    # The handset knows control has the event (the server's ack came back).
    expect(shown).to_have_attribute("data-state", "delivered", timeout=TIMEOUT_MS)
    wall.screenshot(f"emergency-{room.kind}-12-handset-emergency-in-the-control-room")

    # One click sends every proposed unit, and acknowledges the emergency: the alarm stops.
    card.locator("[data-testid=emergency-send]").click()
    orders = card.locator("[data-testid=emergency-orders]")
    for unit_id in NEAR_THE_TOWER:
        expect(orders.locator(f"li[data-unit='{unit_id}']")).to_have_attribute(
            "data-state", "en_route", timeout=TIMEOUT_MS
        )
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.locator("[data-testid=emergency-state]")).to_have_text(re.compile(r"^Acknowledged by OP-2 at "))
    expect(page.locator("body")).to_have_attribute("data-alarm", "off")
    eventually(lambda: all(len(radios[unit_id].got(DispatchOrder)) == 1 for unit_id in NEAR_THE_TOWER))
    for unit_id in NEAR_THE_TOWER:
        order = radios[unit_id].got(DispatchOrder)[0]
        assert isinstance(order, DispatchOrder)
        assert order.emergency is not None
        assert (str(order.emergency.emergency_id), order.emergency.unit_id) == (emergency_id, "E-4")
    centred_on(page, ".unit-marker[data-unit='E-4']")
    wall.screenshot(f"emergency-{room.kind}-13-help-sent")

    # The officer's handset shows who has it, and that help is coming.
    expect(shown).to_have_attribute("data-state", "acknowledged", timeout=TIMEOUT_MS)
    expect(shown).to_contain_text("Control has it — OP-2")
    for call_sign in ("Echo 1", "Echo 2"):
        expect(shown).to_contain_text(call_sign)
    handset.screen.screenshot(f"emergency-{room.kind}-14-handset-acknowledged")

    card.locator("[data-testid=emergency-resolve]").click()
    card.locator("[data-testid=emergency-resolve-confirm]").click()
    expect(card).to_have_count(0, timeout=TIMEOUT_MS)


def test_several_emergencies_stack_newest_first_and_the_alarm_sounds_until_each_is_acknowledged(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    room = control_room
    trackers = []
    for device_id, unit_id, call_sign in (("734521", "C-6", "Charlie 6"), ("734522", "C-7", "Charlie 7")):
        path = register(room, device_id, unit_id, call_sign, None)
        assert path is not None
        trackers.append(Tracker(device_id=device_id, unit_id=unit_id, call_sign=call_sign, path=path))
    screen = open_wall("/control/")
    page = screen.page
    sign_in(page, room.people["second operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    cards = page.locator("[data-testid=emergency]")
    expect(cards).to_have_count(0)

    first, second = trackers
    now = time.time()
    first.report(room, 51.5117, -0.1240, at=now, sos=True)  # Covent Garden
    expect(cards).to_have_count(1, timeout=TIMEOUT_MS)
    second.report(room, 51.5033, -0.1195, at=now + 1, sos=True)  # the London Eye, a second later
    expect(cards).to_have_count(2, timeout=TIMEOUT_MS)
    # Newest first; the newest takes the map and the focus.
    assert cards.evaluate_all("cards => cards.map(card => card.dataset.unit)") == ["C-7", "C-6"]
    newest, older = (
        page.locator("[data-testid=emergency][data-unit='C-7']"),
        page.locator("[data-testid=emergency][data-unit='C-6']"),
    )
    centred_on(page, ".unit-marker[data-unit='C-7']")
    expect(newest.locator("[data-testid=emergency-follow]")).to_have_attribute("aria-pressed", "true")
    expect(older.locator("[data-testid=emergency-follow]")).to_have_attribute("aria-pressed", "false")
    expect(newest.locator("[data-testid=emergency-ack]")).to_be_focused()
    expect(page.locator("[data-testid=emergency-count]")).to_have_text("2 OFFICERS IN DANGER · 2 not acknowledged")
    screen.screenshot(f"emergency-{room.kind}-21-two-emergencies")

    # One acknowledged: the other still sounds the alarm. Following the older one takes the map back to them.
    page.keyboard.press("Enter")
    expect(newest).to_have_attribute("data-status", "acknowledged", timeout=TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-alarm", "on")
    expect(page.locator("[data-testid=emergency-count]")).to_have_text("2 OFFICERS IN DANGER · 1 not acknowledged")
    older.locator("[data-testid=emergency-follow]").click()
    centred_on(page, ".unit-marker[data-unit='C-6']")
    expect(newest.locator("[data-testid=emergency-follow]")).to_have_attribute("aria-pressed", "false")
    older.locator("[data-testid=emergency-ack]").click()
    expect(older).to_have_attribute("data-status", "acknowledged", timeout=TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-alarm", "off")

    for card in (newest, older):
        card.locator("[data-testid=emergency-resolve]").click()
        card.locator("[data-testid=emergency-resolve-confirm]").click()
    expect(cards).to_have_count(0, timeout=TIMEOUT_MS)
