"""The control-room page end to end: a real headless Chromium on a large screen against the real command-centre
server (``create_app`` in uvicorn, as ``vigil serve`` runs it), with body cameras and radios simulated on the
in-process bus.

The operator signs in with a second factor, an alert sent by a camera over the bus arrives in the queue, the
operator confirms it, narrows the search area, sees the right units, dispatches two, sees their
acknowledgements arrive (the simulated radios answer), is prompted when a third order goes unanswered, and
closes the incident. Supervisors propose and approve watchlist entries; an auditor reads the trail. Every page
fails its test on a console error, an uncaught error or a request that left the server. Screenshots go to the
session's screenshot folder (``$VIGIL_SCREENSHOTS`` keeps them).
"""

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.command.events import alert, evidence
from tests.command.governance import SECOND_SUPERVISOR, enrolled_face, proposal
from tests.command.web.conftest import (
    CAMERA,
    TIMEOUT_MS,
    UNITS,
    ControlRoom,
    OpenWall,
    centre,
    eventually,
    sign_in,
    unit_rows,
    wrong_code,
)
from vigil.command.watchlists.subjects import propose_subject
from vigil.events import DispatchCancelled, DispatchOrder, utc_now
from vigil.watchlist.operating_point import threshold_for_size


def test_an_operator_confirms_an_alert_narrows_the_area_dispatches_two_units_and_closes(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    screen = open_wall("/control/")
    page = screen.page
    operator = control_room.people["operator"]
    form = page.locator("[data-testid=sign-in-form]")
    expect(form).to_be_visible(timeout=TIMEOUT_MS)
    form.locator("input[name=username]").fill(operator.username)
    form.locator("input[name=password]").fill(operator.password)
    form.locator("input[name=code]").fill(wrong_code(operator))
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=sign-in-error]")).to_contain_text("password or code is wrong", timeout=TIMEOUT_MS)
    screen.screenshot(f"control-{control_room.kind}-01-sign-in-refused")
    sign_in(page, operator)
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=who]")).to_contain_text("OP-1 (Operator)")
    for unit_id, (_, call_sign, _) in UNITS.items():
        marker = page.locator(f".unit-marker[data-unit='{unit_id}']")
        expect(marker).to_contain_text(call_sign)
        expect(marker).to_have_attribute("data-status", "available")
        expect(marker.locator(".age")).to_have_text(re.compile(r"^\d+ s$"))  # the position's age
        expect(marker.locator(".heading")).to_have_attribute("style", "transform: rotate(90deg);")  # heading east
    expect(page.locator("[data-testid=alert-queue] .queue-item")).to_have_count(0)
    board = page.locator("[data-testid=unit-board] tr")  # the map's units, in words
    expect(board).to_have_count(5)
    expect(page.locator("[data-testid=unit-board] tr[data-unit='A-1']")).to_contain_text("Alpha 1AvailableR-101")

    backing = evidence()
    raised = alert(
        control_room.probe_jpeg,
        location=CAMERA,
        watchlist_version=control_room.watchlist_version,
        frames=2,
        evidence=backing,
    )
    control_room.camera_sends(raised)
    item = page.locator(f"[data-testid=alert-queue] .queue-item[data-alert='{raised.alert_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT_MS)
    expect(item).to_have_class("queue-item fresh")
    expect(item).to_contain_text("obama")
    expect(item).to_contain_text("ago")
    expect(page.locator("body")).to_have_attribute("data-cues", "1")
    expect(page.locator(f".alert-pulse[data-alert='{raised.alert_id}']")).to_be_visible()
    expect(page.locator("[data-testid=pending-count]")).to_have_text("1 alert(s) to review")
    screen.screenshot(f"control-{control_room.kind}-02-alert-arrived")

    item.click()
    review = page.locator("[data-testid=review]")
    expect(review.locator("[data-testid=distance]")).to_have_text(
        "Distance 0.410 against threshold 0.500 (margin 0.090, inside)", timeout=TIMEOUT_MS
    )
    expect(review.locator("[data-testid=category]")).to_have_text("Wanted on warrant")
    expect(review.locator("[data-testid=legal-basis]")).to_have_text("Warrant 2024/117, Westminster Magistrates' Court")
    expect(review.locator("[data-testid=notes]")).to_have_text("Approach with care")
    expect(review.locator("[data-testid=officer]")).to_have_text("Adam 12 (unit A-12)")
    expect(review.locator("[data-testid=device]")).to_have_text("cam-1")
    expect(review.locator("[data-testid=place]")).to_have_text("51.50810, -0.12810 ±8 m")
    expect(review.locator("[data-testid=quality]")).to_have_text("2 of 7 faces searched matched, quality 0.62, 0.48")
    for role in ("probe", "enrolled"):
        image = review.locator(f".face.{role} img")
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(review.locator("[data-testid=confirm]")).to_be_focused()  # Enter confirms: the obvious action
    screen.screenshot(f"control-{control_room.kind}-03-review")

    page.keyboard.press("Enter")
    incident = page.locator("[data-testid=incident]")
    expect(incident).to_be_visible(timeout=TIMEOUT_MS)
    expect(incident.locator("#incident-title")).to_have_text("Incident: Obama")
    expect(page.locator("[data-testid=radius]")).to_have_value("1000")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 4")
    # Nearest first: the camera's own officer is where the alert was raised; B-9 is 2.4 km away.
    assert unit_rows(page) == ["A-12", "A-1", "A-2", "A-3"]
    expect(incident.locator("tr[data-unit='A-1']")).to_contain_text("R-101")
    expect(incident.locator("tr[data-unit='A-1']")).to_contain_text("Available")
    expect(page.locator(f".alert-pulse[data-alert='{raised.alert_id}']")).to_have_count(0)
    screen.screenshot(f"control-{control_room.kind}-04-incident-default-circle")

    page.locator("[data-testid=radius]").fill("250")
    page.locator("[data-testid=apply-radius]").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 3")
    assert unit_rows(page) == ["A-12", "A-1", "A-2"]
    highlighted = page.locator(".unit-marker.in-area").evaluate_all("ms => ms.map(m => m.dataset.unit).sort()")
    assert highlighted == ["A-1", "A-12", "A-2"]
    screen.screenshot(f"control-{control_room.kind}-05-area-narrowed")

    (hx, hy), (tx, _) = centre(page.locator(".area-handle")), centre(page.locator(".target-mark"))
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(tx + (hx - tx) * 0.6, hy, steps=5)  # drag the circle's edge in: 250 m → 150 m
    page.mouse.up()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 2")
    assert unit_rows(page) == ["A-12", "A-1"]
    assert 140 <= int(page.locator("[data-testid=radius]").input_value()) <= 160

    x, y = centre(page.locator(".unit-marker[data-unit='A-1']"))
    page.locator("[data-testid=draw-polygon]").click()
    for dx, dy in ((-90, -40), (90, -40), (90, 40), (-90, 40)):  # a box around A-1 alone
        page.mouse.click(x + dx, y + dy)
    page.locator("[data-testid=finish-polygon]").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 1")
    assert unit_rows(page) == ["A-1"]
    screen.screenshot(f"control-{control_room.kind}-05b-polygon")

    page.locator("[data-testid=radius]").fill("250")
    page.locator("[data-testid=apply-radius]").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 3")
    assert unit_rows(page) == ["A-12", "A-1", "A-2"]

    page.locator("[data-testid=accept-suggestion]").click()  # the nearest three
    dispatch = page.locator("[data-testid=dispatch]")
    expect(dispatch).to_have_text("Dispatch 3 units")
    page.locator("#send-A-12").uncheck()  # the camera's officer keeps watch on the subject
    expect(dispatch).to_have_text("Dispatch 2 units")
    dispatch.click()
    orders = page.locator("[data-testid=orders]")
    expect(orders.locator("li[data-unit='A-1']")).to_have_attribute("data-state", "en_route", timeout=TIMEOUT_MS)
    expect(orders.locator("li[data-unit='A-2']")).to_have_attribute("data-state", "en_route", timeout=TIMEOUT_MS)
    expect(page.locator(".unit-marker[data-unit='A-1']")).to_have_attribute("data-status", "en_route")
    expect(page.locator("[data-testid=unit-board] tr[data-unit='A-2']")).to_contain_text("En route")
    # The area's list says so as soon as the feed does, without waiting for its next refresh.
    expect(page.locator("[data-testid=area-units] tr[data-unit='A-1']")).to_contain_text("En route", timeout=500)
    assert [len(control_room.radios[u].got(DispatchOrder)) for u in UNITS] == [1, 1, 0, 0]
    screen.screenshot(f"control-{control_room.kind}-06-acknowledged")

    page.locator("[data-testid=radius]").fill("1000")
    page.locator("[data-testid=radius]").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 4")
    page.locator("label[for='send-A-3']").click()
    dispatch.click()
    expect(orders.locator("li[data-unit='A-3']")).to_have_attribute("data-state", "sent", timeout=TIMEOUT_MS)
    escalation = page.locator("[data-testid=escalation]")
    expect(escalation).to_contain_text("Alpha 3 has not acknowledged the order.", timeout=TIMEOUT_MS + 10_000)
    expect(orders.locator("li[data-unit='A-3']")).to_contain_text("NO ANSWER")
    screen.screenshot(f"control-{control_room.kind}-07-escalation")
    escalation.get_by_role("button", name="Keep waiting").click()
    expect(escalation).to_have_count(0)

    # A second person verifies the match (EU AI Act Art 14(5)): only then can an arrest be recorded.
    expect(page.locator("[data-testid=outcome] option[value=arrest]")).to_be_disabled()
    second = control_room.server.sign_in(control_room.people["second operator"])
    with control_room.server.client(second) as client:
        verified = client.post(f"/api/v1/reviews/{raised.alert_id}/verification", json={"verdict": "same_person"})
    verified.raise_for_status()
    expect(page.locator("[data-testid=incident] [data-testid=identity]")).to_have_attribute(
        "data-state", "verified", timeout=TIMEOUT_MS
    )
    page.locator("[data-testid=outcome]").select_option("arrest")
    page.locator("[data-testid=outcome-notes]").fill("Detained at the north terrace.")
    page.locator("[data-testid=close-incident]").click()
    expect(page.locator("[data-testid=incident-summary]")).to_contain_text("CLOSED (Arrest)", timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=closed-banner]")).to_have_text("Closed: Arrest. Open orders were stood down.")
    expect(page.locator("[data-testid=dispatch]")).to_be_hidden()
    expect(orders.locator("li[data-unit='A-3']")).to_have_attribute("data-state", "cancelled")
    eventually(lambda: len(control_room.radios["A-3"].got(DispatchCancelled)) == 1)
    expect(page.locator(".unit-marker[data-unit='A-1']")).to_have_attribute("data-status", "available")
    screen.screenshot(f"control-{control_room.kind}-08-closed")


def test_dismissing_an_alert_needs_a_reason_and_large_type_enlarges_the_page(
    control_room: ControlRoom, open_wall: OpenWall
) -> None:
    screen = open_wall("/control/")
    page = screen.page
    sign_in(page, control_room.people["operator"])
    expect(page.locator("[data-testid=feed-link]")).to_have_text("Live", timeout=TIMEOUT_MS)
    raised = alert(control_room.probe_jpeg, location=CAMERA, watchlist_version=control_room.watchlist_version)
    control_room.camera_sends(raised)
    item = page.locator(f".queue-item[data-alert='{raised.alert_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT_MS)
    item.focus()
    page.keyboard.press("Enter")  # keyboard alone: open, then dismiss
    page.locator("[data-testid=dismiss]").click()
    send = page.locator("[data-testid=dismiss-send]")
    expect(send).to_be_disabled()
    expect(page.locator("[data-testid=dismiss-reason]")).to_be_focused()
    page.keyboard.type("A different man: no scar on the left cheek.")
    expect(send).to_be_enabled()
    screen.screenshot(f"control-{control_room.kind}-09-dismiss-with-reason")
    send.click()
    expect(page.locator("[data-testid=alert-queue] .queue-item")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=incident]")).to_be_hidden()

    before = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    page.locator("#large-type").click()
    after = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert after >= before * 1.3
    screen.screenshot(f"control-{control_room.kind}-10-large-type")

    page.locator("#sign-out").click()  # the session ends on the server; the page asks for a sign-in again
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#app")).to_be_hidden()


def test_supervisors_propose_and_approve_watchlist_entries_with_their_quality_verdicts(
    control_room: ControlRoom, open_wall: OpenWall, testdata: Path, probe_jpeg: bytes
) -> None:
    # Another supervisor proposed an entry; this supervisor may approve it (never their own).
    with control_room.database.session() as session:
        propose_subject(
            session=session,
            watchlist_id=control_room.watchlist_id,
            proposal=proposal("biden", utc_now() + timedelta(days=3)),
            faces=[enrolled_face(probe_jpeg, seed=7)],
            sources=["biden.jpg"],
            actor=SECOND_SUPERVISOR,
            now=utc_now(),
        )
        session.commit()
    screen = open_wall("/control/")
    page = screen.page
    sign_in(page, control_room.people["supervisor"])
    page.get_by_role("button", name="Watchlists").click()
    subjects = page.locator("[data-testid=subjects]")
    expect(subjects.locator("tr[data-subject='biden']")).to_contain_text("Proposed", timeout=TIMEOUT_MS)
    expect(subjects.locator("tr[data-subject='biden']")).to_contain_text("expires in 2 days")
    expect(subjects.locator("tr[data-subject='obama']")).to_contain_text("Live")
    # One person listed, no threshold chosen: the version carries the one for its size.
    expect(page.get_by_role("heading", level=2, name="Op Falcon")).to_contain_text(
        f"threshold {threshold_for_size(1):.3f}, by its size"
    )

    form = page.locator("[data-testid=proposal-form]")
    form.locator("input[name=subject_id]").fill("case-2024-0042")
    form.locator("input[name=display_name]").fill("Barack Obama (second photo set)")
    form.locator("input[name=legal_basis]").fill("Warrant 2024/203, Westminster Magistrates' Court")
    result = page.locator("[data-testid=proposal-result]")
    form.locator("input[name=photos]").set_input_files([testdata / "faces" / "two_people.jpg"])
    form.locator("button[type=submit]").click()
    # The verdict names the photo and why it was refused.
    expect(result).to_contain_text("the proposal was refused", timeout=60_000)
    expect(result).to_contain_text("two_people.jpg")
    screen.tolerate(r"status of 422 \(Unprocessable (Entity|Content)\)")
    result.scroll_into_view_if_needed()
    screen.screenshot(f"control-{control_room.kind}-11a-watchlist-refused")
    form.locator("input[name=photos]").set_input_files([testdata / "faces" / "obama2.jpg"])
    form.locator("button[type=submit]").click()
    expect(result).to_contain_text("awaiting a supervisor's approval", timeout=60_000)
    expect(result.locator("[data-testid=quality-verdict]")).to_contain_text("obama2.jpg: quality")
    expect(result.locator("[data-testid=quality-verdict]")).to_contain_text("passed")
    own = subjects.locator("tr[data-subject='case-2024-0042']")
    expect(own).to_contain_text("Needs another supervisor", timeout=TIMEOUT_MS)
    result.scroll_into_view_if_needed()
    screen.screenshot(f"control-{control_room.kind}-11-watchlist-proposed")

    # Before approving, the supervisor reads what the threshold will do with one more person on the list.
    expect(subjects.locator("tr[data-subject='biden'] [data-testid=approval-expectation]")).to_contain_text(
        "At 2 people this threshold expects 1.0 false alert per 10,000 faces and finds 60 % of the people on it"
    )
    subjects.locator("tr[data-subject='biden'] [data-testid=approve]").click()
    expect(subjects.locator("tr[data-subject='biden']")).to_contain_text("Live", timeout=TIMEOUT_MS)
    subjects.scroll_into_view_if_needed()
    screen.screenshot(f"control-{control_room.kind}-12-watchlist-approved")


def test_an_auditor_reads_the_trail_and_verifies_it(control_room: ControlRoom, open_wall: OpenWall) -> None:
    screen = open_wall("/control/")
    page = screen.page
    sign_in(page, control_room.people["auditor"])
    expect(page.get_by_role("button", name="Operations")).to_be_hidden()
    expect(page.locator("#map")).to_be_hidden()
    expect(page.locator("[data-testid=feed-link]")).to_be_hidden()
    expect(page.get_by_role("button", name="Audit")).to_have_attribute("aria-pressed", "true")  # lands on the trail
    rows = page.locator("[data-testid=audit-rows] tr")
    expect(rows.first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=audit-rows]")).to_contain_text("user.signed_in")
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("[data-testid=audit-verify]")).to_contain_text("Intact", timeout=TIMEOUT_MS)
    screen.screenshot(f"control-{control_room.kind}-13-audit")

    page.get_by_role("button", name="Watchlists").click()  # the record, read-only, and no faces
    obama = page.locator("[data-testid=subjects] tr[data-subject='obama']")
    expect(obama).to_contain_text("Warrant 2024/117", timeout=TIMEOUT_MS)
    expect(obama).to_contain_text("face not shown to your role")
    expect(page.locator("[data-testid=proposal-form]")).to_have_count(0)
    expect(page.locator("[data-testid=approve]")).to_have_count(0)
