"""The officer's handset screen end to end: a real Chromium on a phone-sized screen, against a running edge agent
fed by synthetic street video made from the test photos, linked to the real command-centre server over the
in-process bus and over Mosquitto.

The "command centre" here is the real server (SQLite) for what devices send; what an operator would send
(reviews, orders, stand-downs, a new watchlist) is published on the bus to the device's down topics, as the
operator API will. Each transport runs the module's scenario once, in order, on one agent and one page.
Screenshots are saved in the session's screenshot folder (printed).
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from tests.command.conftest import serving
from tests.command.events import send_watchlist
from tests.edge.conftest import active_watchlist
from tests.support.browser import WatchedPage, watch
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus
from vigil.command.alerts.models import Alert
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.settings import CommandSettings
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.battery import SimulatedBattery
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.runner import screen_state
from vigil.edge.screen_server import ScreenServer
from vigil.edge.screen_state import ScreenState
from vigil.edge.settings import ScreenSettings
from vigil.edge.video_spec import open_source
from vigil.events import (
    AlertReviewed,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    Event,
    Location,
    MatchEvidence,
    SubjectBrief,
    WatchlistAvailable,
    encode_event,
    topic_for,
    utc_now,
)
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.store import WatchlistEntry
from vigil.web.assets import page_dir

DEVICE, UNIT = "cam-7", "Bravo-2"
ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493)]
AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-0.1262, 51.5088], [-0.1236, 51.5088], [-0.1236, 51.5100], [-0.1262, 51.5100], [-0.1262, 51.5088]]
    ],
}
TIMEOUT_MS = 30_000  # a broker restart waits for paho's reconnect back-off


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    """A street where one watchlist subject (obama) and one passer-by (biden) walk up to the camera."""
    footage = standard_patrol_scene(testdata, fps=15, seconds=12, watchlist_people=("obama",), passers_by=("biden",))
    return footage.write_mp4(tmp_path_factory.mktemp("video") / "street.mp4")


@dataclass
class Handset:
    """Everything one scenario runs on."""

    transport: str
    agent: EdgeAgent
    state: ScreenState
    screen: WatchedPage
    database: Database
    control: Bus
    cut_link: Callable[[], None]
    restore_link: Callable[[], None]
    video: threading.Thread

    @property
    def page(self) -> Page:
        return self.screen.page

    def send(self, event: Event) -> None:
        """The command centre sends the device an event."""
        self.control.publish(topic_for(event), encode_event(event))

    def shot(self, name: str) -> Path:
        return self.screen.screenshot(f"handset-{self.transport}-{name}")

    def answers_on_the_server(self) -> list[DispatchState]:
        with self.database.session() as session:
            return list(session.scalars(select(DispatchStatusRecord.status).order_by(DispatchStatusRecord.id)))


@pytest.fixture(scope="module", params=["memory", "mqtt"])
def handset(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    street: Path,
    watchlist_entries: dict[str, WatchlistEntry],
    browser: Browser,
    screenshots: Path,
) -> Iterator[Handset]:
    transport: str = request.param
    directory = tmp_path_factory.mktemp(f"handset-{transport}")
    database_url = f"sqlite:///{directory / 'command.sqlite'}"
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        register_device(
            actor="system",
            address=None,
            session=session,
            device_id=DEVICE,
            unit_id=UNIT,
            call_sign=None,
            radio_id=None,
            kind=None,
            now=utc_now(),
        )
    send_watchlist(database, DEVICE, version=1, subjects=("obama",))  # the version the camera's watchlist carries

    broker: Broker | None = None
    if transport == "memory":
        memory = MemoryBus()
        server_bus: Bus = memory
        device_bus: Bus = memory

        def cut() -> None:
            memory.set_link(up=False)

        def restore() -> None:
            memory.set_link(up=True)
    else:
        # Persistent sessions on a persistent broker: a restart (the link cut) loses no subscription or message.
        broker = start_mosquitto(directory, persistence=True)
        server_bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id=f"command-{uuid.uuid4().hex}"))
        device_bus = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id=DEVICE))
        cut, restore = broker.stop, broker.restart

    servers = serving(ws="none")
    start_server = next(servers)
    start_server(create_app(CommandSettings(data_dir=directory, database_url=database_url), bus=server_bus))

    (directory / "device").mkdir()
    state = screen_state(ScreenSettings(port=0), device_id=DEVICE, unit_id=UNIT)
    agent = EdgeAgent(
        identity=EdgeIdentity(device_id=DEVICE, unit_id=UNIT),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=active_watchlist(watchlist_entries, ["obama"]),
        recognition=RecognitionSettings(),
        outbox=Outbox(directory / "device" / "outbox.sqlite"),
        bus=device_bus,
        position=SimulatedRoute(ROUTE, 1.4),
        notifiers=[state],
        battery=SimulatedBattery(start_pct=87, drain_pct_per_h=8),
        position_interval_s=0.5,
        status_interval_s=5,
    )
    screen = ScreenServer(ScreenSettings(port=0), state=state, device=agent, page=page_dir("handset"))
    screen.start()
    page = watch(browser, screen.url, screenshots, origin=screen.url)
    agent.start()

    def run_video() -> None:
        with open_source(str(street), realtime=False) as source:
            agent.run(source, realtime=False)

    video = threading.Thread(target=run_video, name="video", daemon=True)
    video.start()
    yield Handset(
        transport=transport,
        agent=agent,
        state=state,
        screen=page,
        database=database,
        control=server_bus,
        cut_link=cut,
        restore_link=restore,
        video=video,
    )
    video.join(60)
    page.page.context.close()
    screen.stop()
    agent.stop()
    agent.outbox.close()
    next(servers, None)
    server_bus.stop()
    if device_bus is not server_bus:
        device_bus.stop()
    if broker is not None:
        broker.stop()
    database.dispose()
    problems = page.problems()
    assert not problems, "\n".join(problems)


def _wait(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_alert_card_appears_for_the_watchlist_face_and_for_no_one_else(handset: Handset) -> None:
    page = handset.page
    card = page.locator("[data-testid=alert-card]")
    card.first.wait_for(timeout=TIMEOUT_MS)
    assert card.first.get_attribute("data-state") == "unconfirmed"
    assert "UNCONFIRMED: do not act on the match alone" in card.first.inner_text()
    handset.shot("alert-unconfirmed")
    handset.video.join(60)
    report = handset.agent.report()
    assert report.tracks >= 2  # the passer-by was seen and searched, and raised nothing
    assert report.alerts == 1
    assert card.count() == 1
    text = card.first.inner_text()
    assert "Obama" in text
    assert "Biden" not in page.content()
    assert "wanted on warrant" in text.lower()
    assert "Approach with care." in text
    assert f"against threshold {threshold_for_size(1):.3f}" in text
    for role in ("probe", "enrolled"):  # both faces loaded, from the device's own server
        assert page.locator(f"[data-testid=alert-card] .face.{role} img").evaluate("img => img.naturalWidth") > 0
    _wait(lambda: _alerts_on_the_server(handset) == ["obama"])


def _alerts_on_the_server(handset: Handset) -> list[str]:
    with handset.database.session() as session:
        return list(session.scalars(select(Alert.subject_id)))


def _alert_id(handset: Handset) -> uuid.UUID:
    return uuid.UUID(handset.page.locator("[data-testid=alert-card]").first.get_attribute("data-alert-id") or "")


def test_the_command_centres_review_changes_the_card(handset: Handset) -> None:
    handset.send(
        AlertReviewed(device_id=DEVICE, alert_id=_alert_id(handset), decision="confirmed", reviewer="op.ahmed")
    )
    card = handset.page.locator("[data-testid=alert-card][data-state=confirmed]")
    card.wait_for(timeout=TIMEOUT_MS)
    assert "CONFIRMED by control (op.ahmed" in card.inner_text()
    handset.shot("alert-confirmed")


def _order(handset: Handset, *, revision: int = 1, dispatch_id: uuid.UUID | None = None) -> DispatchOrder:
    card = handset.state.view(health=handset.agent.health(), now=utc_now()).alerts[0]
    probe = handset.state.image(card.probe_image.rsplit("/", 1)[1])
    chip = handset.state.image(card.enrolled_image.rsplit("/", 1)[1])
    assert probe is not None
    return DispatchOrder(
        device_id=DEVICE,
        dispatch_id=dispatch_id or uuid.uuid4(),
        incident_id=uuid.uuid4(),
        revision=revision,
        unit_id=UNIT,
        target=Location(lat=51.5094 + 0.001 * (revision - 1), lon=-0.1249),
        area=AREA,
        subject=SubjectBrief(
            subject_id="obama", name="Obama", category="wanted_on_warrant", risk_notes="Approach with care."
        ),
        evidence=MatchEvidence(
            alert_id=card.alert_id,
            seen_at=card.at,
            distance=card.distance,
            threshold=card.threshold,
            probe_jpeg=probe,
            enrolled_jpeg=chip,
        ),
        instructions="Hold at the corner of the Strand until Bravo-1 arrives.",
    )


def test_a_dispatch_order_appears_with_its_map_route_and_evidence(handset: Handset) -> None:
    handset.send(_order(handset))
    card = handset.page.locator("[data-testid=order-card]")
    card.wait_for(timeout=TIMEOUT_MS)
    assert card.get_attribute("data-state") == "new"
    text = card.inner_text()
    assert "Hold at the corner of the Strand" in text
    assert " m away · bearing " in text
    assert card.locator(".leaflet-interactive.target").count() == 1
    assert card.locator(".leaflet-interactive.area").count() == 1
    assert card.locator(".leaflet-interactive.officer").count() == 1
    assert card.locator(".leaflet-tile-container canvas").count() > 0  # no tiles configured: the drawn grid
    assert card.locator(".face.probe img").evaluate("img => img.naturalWidth") > 0
    enabled = [b.get_attribute("data-answer") for b in card.locator(".buttons button:enabled").all()]
    assert enabled == ["accepted", "declined"]
    card.locator(".map").scroll_into_view_if_needed()
    handset.shot("order")


def _tap(handset: Handset, status: str, delivery: str) -> None:
    card = handset.page.locator("[data-testid=order-card]").first
    card.locator(f"button[data-answer={status}]").click()
    card.locator(f".answers li[data-status={status}][data-delivery={delivery}]").wait_for(timeout=TIMEOUT_MS)


def test_each_tap_reaches_the_server_in_order_and_taps_without_a_link_wait_for_it(handset: Handset) -> None:
    _tap(handset, "accepted", "delivered")
    assert handset.answers_on_the_server() == [DispatchState.ACCEPTED]

    handset.cut_link()
    try:
        handset.page.locator("#status-link[data-state=down]").wait_for(timeout=TIMEOUT_MS)
        _tap(handset, "en_route", "sent")
        _tap(handset, "on_scene", "sent")
        assert handset.page.locator("#status-outbox[data-state=waiting]").count() == 1
        handset.page.locator("[data-testid=order-card] .answers").scroll_into_view_if_needed()
        handset.shot("no-link")
        time.sleep(0.5)
        assert handset.answers_on_the_server() == [DispatchState.ACCEPTED]
    finally:
        handset.restore_link()
    answers = handset.page.locator("[data-testid=order-card] .answers")
    answers.locator("li[data-status=on_scene][data-delivery=delivered]").wait_for(timeout=TIMEOUT_MS)
    assert answers.locator("li[data-status=en_route][data-delivery=delivered]").count() == 1
    handset.page.locator("#status-link[data-state=up]").wait_for(timeout=TIMEOUT_MS)

    _tap(handset, "cleared", "delivered")
    assert handset.answers_on_the_server() == [
        DispatchState.ACCEPTED,
        DispatchState.EN_ROUTE,
        DispatchState.ON_SCENE,
        DispatchState.CLEARED,
    ]
    assert handset.page.locator("[data-testid=order-card] .buttons button:enabled").count() == 0
    handset.shot("order-cleared")


def test_a_decline_needs_a_reason_and_reaches_the_server(handset: Handset) -> None:
    order = _order(handset)
    handset.send(order)
    card = handset.page.locator(f"[data-dispatch-id='{order.dispatch_id}']")
    card.wait_for(timeout=TIMEOUT_MS)
    card.locator("button[data-answer=declined]").click()
    card.locator("form.decline button[type=submit]").click()  # no reason yet: nothing is sent
    assert card.locator(".answers li").count() == 0
    card.locator("form.decline button.preset", has_text="Officer safety").click()
    card.locator("form.decline button[type=submit]").click()
    card.locator(".answers li[data-status=declined][data-delivery=delivered]").wait_for(timeout=TIMEOUT_MS)
    with handset.database.session() as session:
        declined = session.scalars(
            select(DispatchStatusRecord).where(DispatchStatusRecord.dispatch_id == order.dispatch_id)
        ).one()
    assert (declined.status, declined.reason) == (DispatchState.DECLINED, "Officer safety")


def test_control_moves_the_target_then_stands_the_unit_down(handset: Handset) -> None:
    first = _order(handset)
    handset.send(first)
    card = handset.page.locator(f"[data-dispatch-id='{first.dispatch_id}']")
    card.wait_for(timeout=TIMEOUT_MS)
    handset.send(_order(handset, revision=2, dispatch_id=first.dispatch_id))
    handset.page.locator(f"[data-dispatch-id='{first.dispatch_id}'][data-revision='2']").wait_for(timeout=TIMEOUT_MS)
    assert "the target moved (update 2)" in card.inner_text()
    handset.send(
        DispatchCancelled(device_id=DEVICE, dispatch_id=first.dispatch_id, reason="Subject detained by Bravo-1")
    )
    handset.page.locator(f"[data-dispatch-id='{first.dispatch_id}'][data-state=stood_down]").wait_for(
        timeout=TIMEOUT_MS
    )
    assert "STOOD DOWN by control: Subject detained by Bravo-1" in card.inner_text()
    assert card.locator(".buttons button:enabled").count() == 0


def test_the_banner_warns_when_a_newer_watchlist_cannot_be_installed(handset: Handset) -> None:
    banner = handset.page.locator("[data-testid=watchlist-banner]")
    assert banner.is_hidden()
    handset.send(WatchlistAvailable(device_id=DEVICE, version=2, sha256="0" * 64, url="https://cc.example/wl/2"))
    banner.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert "WATCHLIST OUT OF DATE: watchlist v2 was issued but could not be installed" in banner.inner_text()
    status = handset.page.locator(".status-bar").inner_text()
    assert "Battery 8" in status  # the simulated battery, from 87 %
    assert "GPS (simulated)" in status
    handset.page.click("#night-toggle")
    handset.page.wait_for_function("document.body.classList.contains('night')")
    handset.page.evaluate("window.scrollTo(0, 0)")
    handset.shot("night-banner")
