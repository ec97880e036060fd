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
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
import pyotp
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy.engine import make_url

from tests.command.conftest import Account, RunningServer, account_maker, serving
from tests.command.events import alert, position
from tests.command.governance import (
    SECOND_SUPERVISOR,
    enrolled_face,
    live_subject,
    make_keys,
    new_watchlist,
    proposal,
)
from tests.support.browser import WatchedPage, watch
from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.settings import CommandSettings, SchedulerSettings
from vigil.command.watchlists.subjects import propose_subject
from vigil.dispatch.settings import DispatchSettings, EscalationSettings
from vigil.dispatch.unit import UnitKind
from vigil.events import (
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    Event,
    Location,
    encode_event,
    parse_event,
    topic_for,
    utc_now,
)

CAMERA = Location(lat=51.5081, lon=-0.1281, accuracy_m=8)  # Trafalgar Square
# unit id: (position, call sign, radio id); distances from the camera in the comments.
UNITS = {
    "A-1": ((51.5090, -0.1281), "Alpha 1", "R-101"),  # 100 m
    "A-2": ((51.5081, -0.1310), "Alpha 2", "R-102"),  # 200 m
    "A-3": ((51.5110, -0.1281), "Alpha 3", "R-103"),  # 320 m
    "B-9": ((51.5300, -0.1281), "Bravo 9", "R-109"),  # 2.4 km: outside the default circle (1 km)
}
SILENT = "A-3"  # its radio never answers: its order is escalated
ACK_TIMEOUT_S = 5.0
TIMEOUT_MS = 15_000
# The page asks who is signed in; before sign-in the server rightly answers 401, which Chromium logs.
SIGNED_OUT_PROBE = r"status of 401 \(Unauthorized\)"


class Radio:
    """A unit's radio on the bus: it hears orders and, unless silent, accepts then reports en route."""

    def __init__(self, bus: MemoryBus, device_id: str, *, answers: bool) -> None:
        self.bus = bus
        self.device_id = device_id
        self.answers = answers
        self.received: list[Event] = []
        self._lock = threading.Lock()
        bus.subscribe(f"vigil/v1/devices/{device_id}/down/#", self._on_message)

    def send(self, event: Event) -> None:
        self.bus.publish(topic_for(event), encode_event(event))

    def got(self, kind: type) -> list[Event]:
        with self._lock:
            return [event for event in self.received if isinstance(event, kind)]

    def _on_message(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._lock:
            self.received.append(event)
        if isinstance(event, DispatchOrder) and self.answers:
            threading.Thread(target=self._answer, args=(event,), daemon=True).start()

    def _answer(self, order: DispatchOrder) -> None:
        for state in (DispatchState.ACCEPTED, DispatchState.EN_ROUTE):
            time.sleep(0.3)
            self.send(DispatchStatus(device_id=self.device_id, dispatch_id=order.dispatch_id, status=state))


@dataclass
class ControlRoom:
    """The running server, its bus and database, the people, and the simulated devices."""

    kind: str
    server: RunningServer
    database: Database
    bus: MemoryBus
    people: dict[str, Account]
    watchlist_version: int
    watchlist_id: uuid.UUID
    probe_jpeg: bytes
    radios: dict[str, Radio] = field(default_factory=dict)

    def camera_sends(self, event: Event) -> None:
        self.bus.publish(topic_for(event), encode_event(event))


@contextmanager
def module_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A new SQLite file, or a new schema in the PostgreSQL test database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'command.sqlite'}"
        return
    base = make_url(request.getfixturevalue("postgres_database"))
    schema = f"test_{uuid.uuid4().hex[:12]}"
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema},public"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def control_room(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, probe_jpeg: bytes, passwords: Passwords
) -> Iterator[ControlRoom]:
    directory = tmp_path_factory.mktemp("control-room")
    with module_database(request, directory) as database_url:
        yield from _control_room(request.param, directory, database_url, probe_jpeg, passwords)


def _control_room(
    kind: str, directory: Path, database_url: str, probe_jpeg: bytes, passwords: Passwords
) -> Iterator[ControlRoom]:
    database = Database(database_url)
    database.migrate()
    now = utc_now()
    with database.session() as session:
        register_device(
            actor="system", address=None, session=session, device_id="cam-1", unit_id="A-12",
            call_sign="Adam 12", radio_id=None, kind=UnitKind.FOOT, now=now,
        )  # fmt: skip
        for unit_id, (_, call_sign, radio_id) in UNITS.items():
            register_device(
                actor="system", address=None, session=session, device_id=f"radio-{unit_id}", unit_id=unit_id,
                call_sign=call_sign, radio_id=radio_id, kind=UnitKind.FOOT, now=now,
            )  # fmt: skip
    keys = make_keys(directory)
    watchlist_id = new_watchlist(database, now)
    version = live_subject(database, keys, watchlist_id, "obama", probe_jpeg, now=now)
    make = account_maker(database, passwords)
    people = {
        "operator": make("op-1", Role.OPERATOR, second_factor=True),
        "supervisor": make("sup-1", Role.SUPERVISOR, second_factor=True),
        "auditor": make("aud-1", Role.AUDITOR),
    }
    settings = CommandSettings(
        data_dir=directory,
        database_url=database_url,
        watchlists=keys.settings,
        dispatch=DispatchSettings(escalation=EscalationSettings(ack_timeout_s=ACK_TIMEOUT_S)),
        scheduler=SchedulerSettings(tick_s=0.2, dispatch_every_s=0.5),
    )
    bus = MemoryBus()
    servers = serving(ws="websockets-sansio")
    start = next(servers)
    server = start(create_app(settings, bus=bus))
    room = ControlRoom(
        kind=kind,
        server=server,
        database=database,
        bus=bus,
        people=people,
        watchlist_version=version,
        watchlist_id=watchlist_id,
        probe_jpeg=probe_jpeg,
    )
    for unit_id, ((lat, lon), _, _) in UNITS.items():
        radio = Radio(bus, f"radio-{unit_id}", answers=unit_id != SILENT)
        room.radios[unit_id] = radio
        radio.send(position(device_id=radio.device_id, unit_id=unit_id, lat=lat, lon=lon, heading_deg=90.0))
    room.camera_sends(position(lat=CAMERA.lat, lon=CAMERA.lon))
    yield room
    next(servers, None)
    bus.stop()
    database.dispose()


OpenWall = Callable[[str], WatchedPage]


@pytest.fixture
def open_wall(browser: Browser, screenshots: Path, control_room: ControlRoom) -> Iterator[OpenWall]:
    """Open the control-room page on a large screen; the test fails on any console error or foreign request."""
    opened: list[WatchedPage] = []

    def open_page(path: str) -> WatchedPage:
        watched = watch(
            browser, control_room.server.url + path, screenshots, origin=control_room.server.url + "/", wall=True
        )
        watched.tolerate(SIGNED_OUT_PROBE)
        opened.append(watched)
        return watched

    yield open_page
    problems = [problem for watched in opened for problem in watched.problems()]
    for watched in opened:
        watched.page.context.close()
    assert not problems, "\n".join(problems)


def sign_in(page: Page, account: Account) -> None:
    """Sign in through the page's form (with the second factor when the account has one)."""
    form = page.locator("[data-testid=sign-in-form]")
    expect(form).to_be_visible(timeout=TIMEOUT_MS)
    form.locator("input[name=username]").fill(account.username)
    form.locator("input[name=password]").fill(account.password)
    code = account.code()
    if code is not None:
        form.locator("input[name=code]").fill(code)
    form.locator("button[type=submit]").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT_MS)


def _centre(shown: Locator) -> tuple[float, float]:
    """Where an element's centre is on the screen, in CSS pixels."""
    box = shown.bounding_box()
    if box is None:
        raise AssertionError(f"{shown} is not on the screen")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def wrong_code(account: Account) -> str:
    """A code the server refuses: none of those valid a step either side of now (without using one up)."""
    totp = pyotp.TOTP(account.totp_secret or "")
    step = totp.timecode(utc_now())
    valid = {totp.generate_otp(step + offset) for offset in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222") if code not in valid)


def unit_rows(page: Page) -> list[str]:
    return page.locator("[data-testid=area-units] tr[data-unit]").evaluate_all(
        "rows => rows.map(row => row.dataset.unit)"
    )


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

    raised = alert(control_room.probe_jpeg, location=CAMERA, watchlist_version=control_room.watchlist_version)
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
    expect(review.locator("[data-testid=quality]")).to_have_text("0.80 over 4 frame(s)")
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

    (hx, hy), (tx, _) = _centre(page.locator(".area-handle")), _centre(page.locator(".target-mark"))
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(tx + (hx - tx) * 0.6, hy, steps=5)  # drag the circle's edge in: 250 m → 150 m
    page.mouse.up()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=area-units] tr[data-unit]').length === 2")
    assert unit_rows(page) == ["A-12", "A-1"]
    assert 140 <= int(page.locator("[data-testid=radius]").input_value()) <= 160

    x, y = _centre(page.locator(".unit-marker[data-unit='A-1']"))
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

    page.locator("[data-testid=outcome]").select_option("arrest")
    page.locator("[data-testid=outcome-notes]").fill("Detained at the north terrace.")
    page.locator("[data-testid=close-incident]").click()
    expect(page.locator("[data-testid=incident-summary]")).to_contain_text("CLOSED (Arrest)", timeout=TIMEOUT_MS)
    expect(page.locator("[data-testid=closed-banner]")).to_have_text("Closed: Arrest. Open orders were stood down.")
    expect(page.locator("[data-testid=dispatch]")).to_be_hidden()
    expect(orders.locator("li[data-unit='A-3']")).to_have_attribute("data-state", "cancelled")
    _eventually(lambda: len(control_room.radios["A-3"].got(DispatchCancelled)) == 1)
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


def _eventually(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
