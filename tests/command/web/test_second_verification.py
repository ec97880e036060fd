"""Two people verify a match before anyone acts on it (EU AI Act Art 14(5)), on the control-room page end to end.

A real headless Chromium on a large screen against the real command-centre server (``create_app`` in uvicorn),
the camera simulated on the in-process bus. The operator's confirmation is the first verification: the incident
says, in amber, that the identity is not yet verified by a second person, the confirmer is not offered the
verdicts (and the server refuses theirs), and an arrest cannot be recorded. A second operator finds the match
at a glance (a badge, a list under the queue), compares the faces and verifies it with one click: both screens
turn green and the arrest can be recorded. "Cannot tell" shows and settles nothing; "Not the person" turns them
red. A screen that missed the feed and offers a verdict on a match already settled shows the server's refusal.
Screenshots go to the session's screenshot folder (``$VIGIL_SCREENSHOTS`` keeps them).
"""

import re
import uuid

from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.command.events import alert
from tests.command.web.conftest import CAMERA, TIMEOUT_MS, ControlRoom, OpenWall, sign_in

AWAITING = "Identity: Confirmed by OP-1 — NOT YET VERIFIED BY A SECOND PERSON"
REFUSED_BY_BROWSER = r"status of 409 \(Conflict\)"


def raise_alert(room: ControlRoom) -> uuid.UUID:
    """The camera sends an alert for the watchlist's subject; returns its id."""
    raised = alert(room.probe_jpeg, location=CAMERA, watchlist_version=room.watchlist_version)
    room.camera_sends(raised)
    return raised.alert_id


def confirm_on_page(page: Page, alert_id: uuid.UUID) -> Locator:
    """The operator opens the alert and confirms it (Enter); returns the incident panel it opens."""
    page.locator(f"[data-testid=alert-queue] .queue-item[data-alert='{alert_id}']").click(timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=review] [data-testid=confirm]")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.press("Enter")
    incident = page.locator("[data-testid=incident]")
    expect(incident).to_be_visible(timeout=TIMEOUT_MS)
    return incident


def faces_shown(page: Page, panel: Locator) -> None:
    """Both faces to compare are on the screen, loaded."""
    for role in ("probe", "enrolled"):
        image = panel.locator(f".face.{role} img")
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def test_a_second_operator_verifies_the_confirmation_in_one_click_and_only_then_an_arrest_is_recorded(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    kind = control_room.kind
    first = open_wall("/control/")
    first.tolerate(REFUSED_BY_BROWSER)
    operator = first.page
    sign_in(operator, control_room.people["operator"])
    expect(operator.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    alert_id = raise_alert(control_room)
    incident = confirm_on_page(operator, alert_id)
    identity = incident.locator("[data-testid=identity]")
    expect(identity).to_have_text(AWAITING, timeout=TIMEOUT_MS)
    expect(identity).to_have_attribute("data-state", "awaiting_second")
    # The confirmer is told that the second look must be someone else's, and offered no verdict.
    expect(incident.locator("[data-testid=verify-mine]")).to_contain_text("You confirmed this match")
    expect(incident.locator("[data-testid=verify] button")).to_have_count(0)
    arrest = operator.locator("[data-testid=outcome] option[value=arrest]")
    expect(arrest).to_be_disabled()
    expect(arrest).to_have_text("Arrest (identity not verified twice)")
    expect(operator.locator("[data-testid=arrest-note]")).to_have_text(
        "Arrest can be recorded only once a second person has verified the identity."
    )
    expect(operator.locator("[data-testid=incident-list]")).to_contain_text("NOT VERIFIED TWICE")
    # Units may be sent on the first verification, and the operator is told what that means.
    expect(operator.locator("[data-testid=dispatch-note]")).to_contain_text("not yet verified by a second person")
    first.screenshot(f"verify-{kind}-01-confirmed-not-verified")
    # Should the confirmer's screen post a verdict anyway, the server refuses it, in words.
    refused = operator.evaluate(
        """async (alertId) => {
            const answer = await fetch(`/api/v1/reviews/${alertId}/verification`, {
                method: "POST", headers: {"Content-Type": "application/json"}, body: '{"verdict": "same_person"}',
            });
            return [answer.status, (await answer.json()).error.message];
        }""",
        str(alert_id),
    )
    assert refused[0] == 409
    assert "someone other than OP-1, who confirmed" in refused[1]

    second = open_wall("/control/")
    colleague = second.page
    sign_in(colleague, control_room.people["second operator"])
    badge = colleague.locator("[data-testid=awaiting-count]")
    expect(badge).to_have_text("1 not verified twice", timeout=TIMEOUT_MS)
    waiting = colleague.locator(f"[data-testid=awaiting] .awaiting-item[data-alert='{alert_id}']")
    expect(waiting).to_contain_text("Obama")
    expect(waiting).to_contain_text("Confirmed by OP-1: verify it")
    second.screenshot(f"verify-{kind}-02-awaiting-at-a-glance")
    badge.click()  # the badge leads to the list, its first match focused: Enter opens it
    expect(waiting).to_be_focused()
    colleague.keyboard.press("Enter")
    review = colleague.locator("[data-testid=review]")
    expect(review.locator("[data-testid=identity]")).to_have_text(AWAITING, timeout=TIMEOUT_MS)
    faces_shown(colleague, review)
    verdicts = review.locator("[data-testid=verify] button")
    expect(verdicts).to_have_text(["Same person", "Not the person", "Cannot tell"])
    second.screenshot(f"verify-{kind}-03-second-look")

    review.get_by_role("button", name="Same person").click()
    verified = re.compile(r"^Identity: Verified by OP-2 \(control room\) at \d\d:\d\d · confirmed by OP-1$")
    expect(review.locator("[data-testid=identity]")).to_have_text(verified, timeout=TIMEOUT_MS)
    expect(review.locator("[data-testid=identity]")).to_have_attribute("data-state", "verified")
    expect(review.locator("[data-testid=verify]")).to_be_hidden()
    expect(badge).to_be_hidden()
    second.screenshot(f"verify-{kind}-04-verified")

    # The confirmer's screen follows the feed: green, and now the arrest can be recorded.
    expect(identity).to_have_text(verified, timeout=TIMEOUT_MS)
    expect(arrest).to_be_enabled()
    expect(operator.locator("[data-testid=arrest-note]")).to_be_hidden()
    expect(operator.locator("[data-testid=dispatch-note]")).to_be_hidden()
    expect(operator.locator("[data-testid=incident-list]")).to_contain_text("Identity verified")
    operator.locator("[data-testid=outcome]").select_option("arrest")
    operator.locator("[data-testid=close-incident]").click()
    expect(operator.locator("[data-testid=incident-summary]")).to_contain_text("CLOSED (Arrest)", timeout=TIMEOUT_MS)
    first.screenshot(f"verify-{kind}-05-arrest-recorded")


def test_not_the_person_refutes_the_match_in_red_on_both_screens(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    kind = control_room.kind
    first = open_wall("/control/")
    operator = first.page
    sign_in(operator, control_room.people["operator"])
    expect(operator.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    second = open_wall("/control/")
    colleague = second.page
    sign_in(colleague, control_room.people["second operator"])
    expect(colleague.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)

    alert_id = raise_alert(control_room)
    incident = confirm_on_page(operator, alert_id)
    expect(incident.locator("[data-testid=identity]")).to_have_text(AWAITING, timeout=TIMEOUT_MS)
    # The colleague opens the incident itself: the faces and the verdicts are there too.
    colleague.locator("[data-testid=incident-list] .incident-item").filter(has_text="NOT VERIFIED TWICE").click(
        timeout=TIMEOUT_MS
    )
    theirs = colleague.locator("[data-testid=incident]")
    faces_shown(colleague, theirs.locator("[data-testid=verify]"))
    second.screenshot(f"verify-{kind}-06-second-look-in-the-incident")
    # "Cannot tell" is recorded for everyone to see, and settles nothing: the match still awaits a second person.
    theirs.get_by_role("button", name="Cannot tell").click()
    looked = re.compile(r"^OP-2 \(control room\) could not tell at \d\d:\d\d$")
    for screen in (theirs, incident):
        expect(screen.locator("[data-testid=identity-looks] li")).to_have_text([looked], timeout=TIMEOUT_MS)
    expect(incident.locator("[data-testid=identity]")).to_have_text(AWAITING)
    theirs.get_by_role("button", name="Not the person").click()

    refuted = "Identity: REFUTED by OP-2 (control room): not the person — false alert"
    for screen in (theirs, incident):
        expect(screen.locator("[data-testid=identity]")).to_have_text(refuted, timeout=TIMEOUT_MS)
        expect(screen.locator("[data-testid=identity]")).to_have_attribute("data-state", "refuted")
    expect(operator.locator("[data-testid=outcome] option[value=arrest]")).to_be_disabled()
    expect(operator.locator("[data-testid=arrest-note]")).to_have_text(
        "Arrest cannot be recorded: the identity was refuted (not the person)."
    )
    first.screenshot(f"verify-{kind}-07-refuted")
    operator.locator("[data-testid=outcome]").select_option("wrong_person")
    operator.locator("[data-testid=close-incident]").click()
    summary = operator.locator("[data-testid=incident-summary]")
    expect(summary).to_contain_text("CLOSED (Wrong person)", timeout=TIMEOUT_MS)


def test_a_screen_that_missed_the_feed_shows_the_servers_refusal_of_a_late_verdict(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    screen = open_wall("/control/")
    screen.tolerate(REFUSED_BY_BROWSER)
    page = screen.page
    cut = {"feed": False}

    def relay(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()
        server.on_message(lambda message: None if cut["feed"] else socket.send(message))

    page.route_web_socket(re.compile(r"/api/v1/feed"), relay)
    sign_in(page, control_room.people["second operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    alert_id = raise_alert(control_room)
    supervisor = control_room.server.sign_in(control_room.people["supervisor"])
    # The same colleague on another screen (a code-less account: a module signs its people in many times).
    elsewhere = control_room.server.sign_in(control_room.people["second operator"])
    with control_room.server.client(supervisor) as client:
        item = page.locator(f"[data-testid=alert-queue] .queue-item[data-alert='{alert_id}']")
        expect(item).to_be_visible(timeout=TIMEOUT_MS)
        client.post(f"/api/v1/reviews/{alert_id}/decision", json={"decision": "confirmed"}).raise_for_status()
    waiting = page.locator(f"[data-testid=awaiting] .awaiting-item[data-alert='{alert_id}']")
    waiting.click(timeout=TIMEOUT_MS)
    review = page.locator("[data-testid=review]")
    expect(review.locator("[data-testid=identity]")).to_have_text(
        "Identity: Confirmed by SUP-1 — NOT YET VERIFIED BY A SECOND PERSON", timeout=TIMEOUT_MS
    )

    cut["feed"] = True  # this screen hears nothing more; meanwhile the colleague settles the match elsewhere
    with control_room.server.client(elsewhere) as client:
        client.post(f"/api/v1/reviews/{alert_id}/verification", json={"verdict": "same_person"}).raise_for_status()
    review.get_by_role("button", name="Not the person").click()
    expect(review.locator("[data-testid=verify-error]")).to_contain_text(
        "was already verified by OP-2 (same person)", timeout=TIMEOUT_MS
    )
    for verdict in review.locator("[data-testid=verify] button").all():
        expect(verdict).to_be_disabled()  # the refusal is final: no retry offered
    screen.screenshot(f"verify-{control_room.kind}-08-late-verdict-refused")
