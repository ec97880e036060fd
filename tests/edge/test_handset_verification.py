"""The officer's second verification on the handset, in a real Chromium on a phone-sized screen.

A running edge agent (its real order book, outbox and uplink) serves the page; "control" is played by the test on
the in-process bus: it sends the orders, keeps what the device sends and acks it. A subject order whose identity
two people have not verified opens with the banner, the two faces and the three verdict buttons, all on the first
screen; a tap reaches control as ``alert.verified``; control's next revision names the second verifier.
Screenshots are saved in the session's screenshot folder (printed).
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.edge.test_verification import DEVICE, UNIT, make_agent, officer_in_danger_order, subject_order
from tests.support.acking_control_room import AckingControlRoom
from tests.support.browser import WatchedPage, watch
from vigil.bus.memory import MemoryBus
from vigil.edge.agent import EdgeAgent
from vigil.edge.runner import screen_state
from vigil.edge.screen_server import ScreenServer
from vigil.edge.settings import ScreenSettings
from vigil.events import (
    AlertVerified,
    DispatchOrder,
    IdentityVerdict,
)
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.image import encode_jpeg, load_image
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.web.assets import page_dir

TIMEOUT_MS = 20_000
BANNER = "IDENTITY NOT YET VERIFIED BY A SECOND PERSON — compare before any stop"


def _face_jpeg(photo: Path) -> bytes:
    """The face in a test photo, cropped with a margin, as the camera's crop or the watchlist's chip would be."""
    image = load_image(photo)
    box = BlazeFaceDetector().detect(image)[0].box
    margin = 0.3 * max(box.width, box.height)
    height, width = image.shape[:2]
    top, bottom = max(0, int(box.top - margin)), min(height, int(box.bottom + margin))
    left, right = max(0, int(box.left - margin)), min(width, int(box.right + margin))
    return encode_jpeg(image[top:bottom, left:right], quality=85)


@dataclass
class Handset:
    agent: EdgeAgent
    room: AckingControlRoom
    screen: WatchedPage
    url: str

    @property
    def page(self) -> Page:
        return self.screen.page

    def card(self, order: DispatchOrder) -> Locator:
        return self.page.locator(f"[data-testid=order-card][data-dispatch-id='{order.dispatch_id}']")

    def shot(self, name: str) -> Path:
        return self.screen.screenshot(f"handset-verify-{name}")


@pytest.fixture
def handset(tmp_path: Path, browser: Browser, screenshots: Path) -> Iterator[Handset]:
    bus = MemoryBus()
    room = AckingControlRoom(bus, DEVICE)
    state = screen_state(ScreenSettings(port=0), device_id=DEVICE, unit_id=UNIT)
    agent = make_agent(tmp_path, embedder=build_embedder(OnnxEmbedderSettings()), screen=state, bus=bus)
    screen = ScreenServer(ScreenSettings(port=0), state=state, device=agent, page=page_dir("handset"))
    screen.start()
    agent.start()
    page = watch(browser, screen.url, screenshots, origin=screen.url)
    page.page.locator("#screen-link").wait_for(state="hidden", timeout=TIMEOUT_MS)
    yield Handset(agent=agent, room=room, screen=page, url=screen.url)
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


def _on_the_first_screen(page: Page, target: Locator) -> None:
    """``target`` is visible without scrolling: below the status bar, above the emergency bar, page not scrolled."""
    assert page.evaluate("window.scrollY") == 0
    box, top, bottom = (
        target.bounding_box(),
        page.locator(".status-bar").bounding_box(),
        page.locator(".emergency-bar").bounding_box(),
    )
    assert box is not None
    assert top is not None
    assert bottom is not None
    assert box["y"] >= top["y"] + top["height"] - 1, f"{target} is under the status bar"
    assert box["y"] + box["height"] <= bottom["y"] + 1, f"{target} is below the first screen (under the emergency bar)"


def test_the_officer_compares_the_faces_taps_a_verdict_and_sees_who_verified(handset: Handset, testdata: Path) -> None:
    page = handset.page
    order = subject_order(
        probe_jpeg=_face_jpeg(testdata / "identities" / "test" / "obama1.jpg"),
        enrolled_jpeg=_face_jpeg(testdata / "identities" / "train" / "obama" / "obama.jpg"),
    )
    assert order.evidence is not None
    handset.room.send(order)
    card = handset.card(order)
    card.wait_for(timeout=TIMEOUT_MS)
    assert card.get_attribute("data-verification") == "unverified"
    banner = card.locator("[data-testid=unverified]")
    assert banner.inner_text() == f"{BANNER} (confirmed by op.ahmed)"
    buttons = card.locator("[data-testid=verdicts] button")
    assert [b.inner_text() for b in buttons.all()] == ["Same person", "Not the person", "Cannot tell"]
    for role in ("probe", "enrolled"):  # both faces loaded from the device's own server, and big enough to compare
        face = card.locator(f".face.{role} img")
        assert face.evaluate("img => img.naturalWidth") > 0
        size = face.bounding_box()
        assert size is not None
        assert size["width"] >= 150
        _on_the_first_screen(page, face)
    _on_the_first_screen(page, banner)
    for button in buttons.all():
        _on_the_first_screen(page, button)
        size = button.bounding_box()
        assert size is not None
        assert size["height"] >= 56
    handset.shot("unverified")

    # Cannot tell: sent, and the officer may still decide once they have had a better look.
    card.locator("button[data-verdict=cannot_tell]").click()
    yours = card.locator("[data-testid=your-verdict]")
    card.locator("[data-testid=your-verdict][data-verdict=cannot_tell][data-delivery=delivered]").wait_for(
        timeout=TIMEOUT_MS
    )
    assert yours.inner_text() == "You verified: cannot tell — waiting for control"
    assert [b.get_attribute("data-verdict") for b in card.locator("[data-testid=verdicts] button:enabled").all()] == [
        "same_person",
        "not_the_person",
    ]

    card.locator("button[data-verdict=same_person]").click()
    card.locator("[data-testid=your-verdict][data-verdict=same_person][data-delivery=delivered]").wait_for(
        timeout=TIMEOUT_MS
    )
    assert yours.inner_text() == "You verified: same person — waiting for control"
    assert card.locator("[data-testid=verdicts]").is_hidden()  # one firm verdict per order
    assert banner.is_visible()  # still not verified by a second person: control has not said so yet
    _wait(lambda: len(handset.room.received(AlertVerified)) == 2)
    sent = handset.room.received(AlertVerified)
    assert [v.verdict for v in sent] == [IdentityVerdict.CANNOT_TELL, IdentityVerdict.SAME_PERSON]
    assert {(v.alert_id, v.dispatch_id, v.unit_id, v.device_id) for v in sent} == {
        (order.evidence.alert_id, order.dispatch_id, UNIT, DEVICE)
    }
    handset.shot("sent")

    # A different verdict from anywhere (another tab, a stale page) is refused with the reason.
    refused = httpx.post(
        f"{handset.url}api/orders/{order.dispatch_id}/verification", json={"verdict": "not_the_person"}, timeout=30
    )
    assert refused.status_code == 409
    assert "you already verified this match: same person; a verdict cannot be changed" in refused.json()["detail"]
    assert len(handset.room.received(AlertVerified)) == 2

    page.reload()  # the verdict is the device's, not the page's
    card.locator("[data-testid=your-verdict][data-verdict=same_person]").wait_for(timeout=TIMEOUT_MS)
    assert card.locator("[data-testid=verdicts]").is_hidden()

    handset.room.send(
        subject_order(
            dispatch_id=order.dispatch_id,
            alert_id=order.evidence.alert_id,
            revision=2,
            verified_by="PC Jones (Bravo-2)",
            probe_jpeg=order.evidence.probe_jpeg,
            enrolled_jpeg=order.evidence.enrolled_jpeg,
        )
    )
    page.locator(f"[data-dispatch-id='{order.dispatch_id}'][data-verification=verified]").wait_for(timeout=TIMEOUT_MS)
    verified = card.locator("[data-testid=verified]")
    assert verified.inner_text() == "Identity verified by PC Jones (Bravo-2) and confirmed by op.ahmed"
    assert banner.is_hidden()
    assert card.locator(".moved").is_hidden()  # the revision only names the second verifier: no move to report
    assert yours.inner_text() == "You verified: same person"
    _on_the_first_screen(page, verified)
    handset.shot("verified")


def test_an_officer_in_danger_order_shows_no_verification(handset: Handset) -> None:
    order = officer_in_danger_order()
    handset.room.send(order)
    card = handset.card(order)
    card.wait_for(timeout=TIMEOUT_MS)
    assert card.get_attribute("data-verification") == "none"
    for part in ("unverified", "verdicts", "your-verdict", "verified"):
        assert card.locator(f"[data-testid={part}]").is_hidden()
    assert card.locator(".face").count() == 0
    assert "Officer in danger: Alpha 12" in card.inner_text()
