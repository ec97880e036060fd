"""The control room's end-to-end setting: the real server with cameras, radios and people, and a large-screen page.

``control_room`` (one per module and database, SQLite and PostgreSQL) runs ``create_app`` in uvicorn with
WebSockets, as ``vigil serve`` does, on an in-process bus, taking trackers' OsmAnd reports too; a camera (cam-1,
unit A-12) and four units' radios are registered, placed around Trafalgar Square and simulated on the bus (every
radio but A-3's answers its orders); the watchlist holds one live subject; an operator and a supervisor (each
with a second factor), a second operator and an auditor can sign in. ``open_wall`` opens the page on a large
screen and fails the test on a console error, an uncaught error or a request that left the server.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyotp
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy.engine import make_url

from tests.command.conftest import Account, RunningServer, account_maker, serving
from tests.command.events import position, send_watchlist
from tests.command.governance import (
    live_subject,
    make_keys,
    new_watchlist,
)
from tests.support.browser import WatchedPage, watch
from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.settings import CommandSettings, SchedulerSettings
from vigil.dispatch.settings import DispatchSettings, EscalationSettings
from vigil.dispatch.unit import UnitKind
from vigil.events import (
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
    send_watchlist(database, "cam-1", version=version)  # the camera's alerts name the version it was sent
    settings = CommandSettings(
        data_dir=directory,
        database_url=database_url,
        watchlists=keys.settings,
        dispatch=DispatchSettings(escalation=EscalationSettings(ack_timeout_s=ACK_TIMEOUT_S)),
        scheduler=SchedulerSettings(tick_s=0.2, dispatch_every_s=0.5),
        osmand_enabled=True,  # officers' phones (Traccar Client) report, and raise SOS emergencies, over HTTP
    )
    make = account_maker(database, passwords, SecretSealer.for_settings(settings))
    people = {
        "operator": make("op-1", Role.OPERATOR, second_factor=True),
        "supervisor": make("sup-1", Role.SUPERVISOR, second_factor=True),
        "auditor": make("aud-1", Role.AUDITOR),
        # Without a second factor: a module may sign them in many times a minute (a code is good for one sign-in).
        "second operator": make("op-2", Role.OPERATOR),
    }
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
    database.dispose()
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


def centre(shown: Locator) -> tuple[float, float]:
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


def eventually(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
