"""Two people verify a match under an authorised deployment, end to end: the operator on the control-room page, the
officer on the handset, and the deployment's report shows both (issue 22).

The real command-centre server (``create_app`` in uvicorn, SQLite and PostgreSQL) on the in-process bus, its
control-room page on a large screen in Chromium; a real edge agent for one officer (Bravo 2, standing by the
camera) on the same bus, with its handset page open in a phone-sized Chromium page. A supervisor records the
deployment (with the court's decision) through the API before the camera's alert arrives; the operator confirms
the alert on the page and sends Bravo 2; the officer accepts on the handset, compares the faces and taps "Same
person"; the control room's identity line turns green naming the officer, the arrest can be recorded and is; the
report, as JSON and as the printable page, counts one alert, confirmed, verified by the officer, no false alert,
one arrest, under the authorisation's reference. Every page fails the test on a console error, an uncaught error
or a request that left its server. Screenshots go to the session's screenshot folder (``$VIGIL_SCREENSHOTS``
keeps them).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.command.events import alert
from tests.command.web.conftest import CAMERA, TIMEOUT_MS, ControlRoom, OpenWall, sign_in
from tests.edge.test_verification import DEVICE, UNIT, make_agent
from tests.support.browser import WatchedPage, watch
from vigil.command.alerts.models import Alert
from vigil.command.devices.service import register_device
from vigil.dispatch.unit import UnitKind
from vigil.edge.agent import EdgeAgent
from vigil.edge.runner import screen_state
from vigil.edge.screen_server import ScreenServer
from vigil.edge.settings import ScreenSettings
from vigil.events import utc_now
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.web.assets import page_dir

CALL_SIGN = "Bravo 2"
"""The officer's unit (``UNIT``) as the control room names it: the agent's route starts 5 m from the camera."""
REFERENCE = "WMC 2026/912"
"""The court's reference for its decision authorising the deployment."""
AREA = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [CAMERA.lon, CAMERA.lat]},
    "properties": {"radius_m": 500},
}
"""The deployment's area: 500 m around the camera (Trafalgar Square)."""
AWAITING = "Identity: Confirmed by OP-1 — NOT YET VERIFIED BY A SECOND PERSON"
BANNER = "IDENTITY NOT YET VERIFIED BY A SECOND PERSON — compare before any stop (confirmed by OP-1)"


@dataclass
class Handset:
    """The officer's device: the running agent, and its handset page in a phone-sized Chromium page."""

    agent: EdgeAgent
    screen: WatchedPage

    @property
    def page(self) -> Page:
        return self.screen.page


@pytest.fixture
def handset(control_room: ControlRoom, tmp_path: Path, browser: Browser, screenshots: Path) -> Iterator[Handset]:
    """Bravo 2's body camera, registered on the server and on the control room's bus; not running video (an
    empty watchlist raises nothing): the alert comes from another camera."""
    with control_room.database.session() as session:
        register_device(
            actor="system", address=None, session=session, device_id=DEVICE, unit_id=UNIT, call_sign=CALL_SIGN,
            radio_id=None, kind=UnitKind.FOOT, now=utc_now(),
        )  # fmt: skip
    state = screen_state(ScreenSettings(port=0), device_id=DEVICE, unit_id=UNIT)
    embedder = build_embedder(OnnxEmbedderSettings())
    agent = make_agent(tmp_path, embedder=embedder, screen=state, bus=control_room.bus)
    server = ScreenServer(ScreenSettings(port=0), state=state, device=agent, page=page_dir("handset"))
    server.start()
    agent.start()  # its first position reaches the server at once
    screen = watch(browser, server.url, screenshots, origin=server.url)
    screen.page.locator("#screen-link").wait_for(state="hidden", timeout=TIMEOUT_MS)
    yield Handset(agent=agent, screen=screen)
    screen.page.context.close()
    server.stop()
    agent.stop()
    agent.outbox.close()
    problems = screen.problems()
    assert not problems, "\n".join(problems)


def record_deployment(room: ControlRoom) -> dict[str, Any]:
    """The supervisor records the deployment through the API, with the court's decision; returns its record."""
    now = utc_now()
    body = {
        "name": "Op Kestrel",
        "purpose": "suspect_localisation",
        "purpose_detail": "Suspect in the Strand robbery of 3 December",
        "mode": "live",
        "area": AREA,
        "starts_at": (now - timedelta(minutes=30)).isoformat(),
        "ends_at": (now + timedelta(hours=4)).isoformat(),
        "watchlist_ids": [str(room.watchlist_id)],
        "authorisation": {
            "authority": "Westminster Magistrates' Court",
            "reference": REFERENCE,
            "authorised_by_name": "DJ Harris",
            "decided_at": (now - timedelta(hours=1)).isoformat(),
        },
    }
    with room.server.client(room.server.sign_in(room.people["supervisor"])) as supervisor:
        created = supervisor.post("/api/v1/deployments", json=body)
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    assert (record["state"], record["searching"]) == ("authorised", True)
    return record


def reported(page: Page, section: str, label: str) -> Locator:
    """The value beside ``label`` in one of the printable report's sections."""
    row = page.locator(f"section#{section} tr").filter(
        has=page.locator("th", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return row.locator("td")


def test_an_operator_confirms_the_officer_verifies_on_the_handset_and_the_report_shows_both(
    control_room: ControlRoom, open_wall: OpenWall, handset: Handset
) -> None:
    kind = control_room.kind
    deployment = record_deployment(control_room)
    deployment_id = deployment["deployment_id"]

    wall = open_wall("/control/")
    page = wall.page
    sign_in(page, control_room.people["operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    # The officer's device placed itself by the camera.
    expect(page.locator(f".unit-marker[data-unit='{UNIT}']")).to_contain_text(CALL_SIGN, timeout=TIMEOUT_MS)
    raised = alert(control_room.probe_jpeg, location=CAMERA, watchlist_version=control_room.watchlist_version)
    control_room.camera_sends(raised)

    item = page.locator(f"[data-testid=alert-queue] .queue-item[data-alert='{raised.alert_id}']")
    item.click(timeout=TIMEOUT_MS)
    with control_room.database.session() as session:  # inside the deployment's area and window: it is the deployment's
        assert str(session.get_one(Alert, raised.alert_id).deployment_id) == deployment_id
    expect(page.locator("[data-testid=review] [data-testid=confirm]")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.press("Enter")
    incident = page.locator("[data-testid=incident]")
    expect(incident).to_be_visible(timeout=TIMEOUT_MS)
    identity = incident.locator("[data-testid=identity]")
    expect(identity).to_have_text(AWAITING, timeout=TIMEOUT_MS)
    expect(identity).to_have_attribute("data-state", "awaiting_second")
    arrest = page.locator("[data-testid=outcome] option[value=arrest]")
    expect(arrest).to_be_disabled()
    expect(page.locator("[data-testid=dispatch-note]")).to_contain_text("not yet verified by a second person")
    expect(incident.locator(f"[data-testid=area-units] tr[data-unit='{UNIT}']")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator(f"label[for='send-{UNIT}']").click()
    dispatch = page.locator("[data-testid=dispatch]")
    expect(dispatch).to_have_text("Dispatch 1 unit")
    dispatch.click()
    order = incident.locator(f"[data-testid=orders] li[data-unit='{UNIT}']")
    expect(order).to_be_visible(timeout=TIMEOUT_MS)
    wall.screenshot(f"e2e-verify-{kind}-01-confirmed-and-sent")

    # The order reaches the handset: the banner, both faces, and the three verdicts.
    phone = handset.page
    card = phone.locator("[data-testid=order-card][data-kind=subject]")
    expect(card).to_have_attribute("data-verification", "unverified", timeout=TIMEOUT_MS)
    expect(card.locator("[data-testid=unverified]")).to_have_text(BANNER)
    expect(card.locator("[data-testid=verdicts] button")).to_have_text(["Same person", "Not the person", "Cannot tell"])
    for role in ("probe", "enrolled"):
        face = card.locator(f".face.{role} img")
        expect(face).to_be_visible()
        phone.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=face.element_handle())
    handset.screen.screenshot(f"e2e-verify-{kind}-02-handset-compare")
    card.locator("button[data-answer=accepted]").click()
    expect(order).to_have_attribute("data-state", "accepted", timeout=TIMEOUT_MS)

    card.locator("button[data-verdict=same_person]").click()
    verified = re.compile(rf"^Identity: Verified by {CALL_SIGN} \(officer on scene\) at \d\d:\d\d · confirmed by OP-1$")
    expect(identity).to_have_text(verified, timeout=TIMEOUT_MS)
    expect(identity).to_have_attribute("data-state", "verified")
    # Control re-sends the order naming the second verifier: the officer's banner goes.
    expect(card).to_have_attribute("data-verification", "verified", timeout=TIMEOUT_MS)
    expect(card.locator("[data-testid=verified]")).to_have_text(
        f"Identity verified by {CALL_SIGN} and confirmed by OP-1"
    )
    expect(card.locator("[data-testid=unverified]")).to_be_hidden()
    expect(card.locator("[data-testid=your-verdict]")).to_have_text("You verified: same person")
    handset.screen.screenshot(f"e2e-verify-{kind}-03-handset-verified")

    expect(arrest).to_be_enabled()
    expect(page.locator("[data-testid=arrest-note]")).to_be_hidden()
    wall.screenshot(f"e2e-verify-{kind}-04-verified-by-the-officer")
    page.locator("[data-testid=outcome]").select_option("arrest")
    page.locator("[data-testid=outcome-notes]").fill("Detained by Bravo 2 at the north terrace.")
    page.locator("[data-testid=close-incident]").click()
    expect(page.locator("[data-testid=incident-summary]")).to_contain_text("CLOSED (Arrest)", timeout=TIMEOUT_MS)
    wall.screenshot(f"e2e-verify-{kind}-05-arrest-recorded")
    expect(card).to_have_attribute("data-state", "stood_down", timeout=TIMEOUT_MS)  # the officer is stood down

    auditor = control_room.people["auditor"]
    with control_room.server.client(control_room.server.sign_in(auditor)) as client:
        answer = client.get(f"/api/v1/deployments/{deployment_id}/report")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    figures = report["figures"]
    assert report["deployment"]["authority_reference"] == REFERENCE
    assert (figures["alerts"], figures["alerts_acted_on"], figures["false_alerts"]) == (1, 1, 0)
    assert figures["first_verification"] == {"confirmed": 1, "dismissed": 0, "pending": 0}
    assert figures["second_verification"] == {
        "same_person": 1,
        "not_the_person": 0,
        "cannot_tell_only": 0,
        "awaiting": 0,
        "by_verifier": [
            {"verifier_kind": "control_room", "same_person": 0, "not_the_person": 0, "cannot_tell": 0},
            {"verifier_kind": "officer", "same_person": 1, "not_the_person": 0, "cannot_tell": 0},
        ],
    }
    assert figures["outcomes"] == {"arrest": 1, "not_found": 0, "wrong_person": 0, "other": 0, "open": 0}

    printed = open_wall("/control/")
    sheet = printed.page
    sign_in(sheet, auditor)
    sheet.goto(f"{control_room.server.url}/api/v1/deployments/{deployment_id}/report?format=html")
    expect(reported(sheet, "authorisation", "Authority's reference")).to_have_text(REFERENCE, timeout=TIMEOUT_MS)
    expect(reported(sheet, "figures", "Alerts")).to_have_text("1")
    expect(reported(sheet, "figures", "False alerts, all steps (each alert once)")).to_have_text("0")
    expect(reported(sheet, "verification", "Confirmed")).to_have_text("1")
    expect(reported(sheet, "verification", "Verified: the same person")).to_have_text("1")
    expect(sheet.locator("section#verification tr").filter(has_text="Officer on scene").locator("td")).to_have_text(
        ["Officer on scene", "1", "0", "0"]
    )
    expect(reported(sheet, "outcomes", "Arrest")).to_have_text("1")
    printed.screenshot(f"e2e-verify-{kind}-06-report", full_page=True)
