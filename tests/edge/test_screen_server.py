"""The handset screen's server over real HTTP (uvicorn on a thread): the page, its API, its guards, its stream."""

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from tests.edge.test_screen_state import _card, _order
from tests.support.browser import OpenPhonePage
from vigil.edge.device_health import DeviceHealth, LinkState, WatchlistHealth
from vigil.edge.emergency import DeviceEmergency
from vigil.edge.orders import OrderBook
from vigil.edge.screen_server import ScreenServer, ScreenUnavailable
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView, image_key
from vigil.edge.settings import ScreenSettings
from vigil.events import (
    DispatchState,
    DispatchStatus,
    EmergencyAcknowledged,
    EmergencyTrigger,
    OfficerEmergency,
    utc_now,
)
from vigil.web.assets import page_dir
from vigil.web.page_security import content_security_policy


class FakeDevice:
    """The agent's verbs: answers go through a real OrderBook, the emergency through a real DeviceEmergency,
    into the screen, as the agent wires them."""

    def __init__(self, state: ScreenState) -> None:
        self.sent: list[DispatchStatus] = []
        self.emergencies: list[OfficerEmergency] = []
        self.book = OrderBook(device_id="cam-7", emit=self._emit)
        self.emergency = DeviceEmergency(emit=self.emergencies.append, listener=state.emergency)
        self._state = state

    def raise_emergency(self) -> OfficerEmergency:
        return self.emergency.raise_(
            lambda: OfficerEmergency(
                device_id="cam-7", emergency_id=uuid.uuid4(), unit_id="Bravo-2", trigger=EmergencyTrigger.HANDSET
            )
        )

    def dismiss_emergency(self) -> None:
        self.emergency.dismiss()

    def _emit(self, event: DispatchStatus) -> None:
        self.sent.append(event)
        self._state.order_status(event.dispatch_id, event.status, delivered=False)

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        return self.book.answer(dispatch_id, status, reason=reason)

    def health(self) -> DeviceHealth:
        return DeviceHealth(
            link=LinkState.OFFLINE,
            outbox_backlog=len(self.sent),
            fix=None,
            battery_pct=None,
            watchlist=WatchlistHealth(
                version=4, valid_until=utc_now() - timedelta(hours=1), announced_version=None, install_problem=None
            ),
        )


class Running:
    def __init__(self, settings: ScreenSettings) -> None:
        self.state = ScreenState(
            device_id="cam-7", unit_id="Bravo-2", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
        )
        self.device = FakeDevice(self.state)
        self.server = ScreenServer(settings, state=self.state, device=self.device, page=page_dir("handset"))
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, timeout=60)

    def order(self) -> uuid.UUID:
        order = _order()
        self.device.book.receive(order)
        self.state.order(order)
        return order.dispatch_id

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture
def running() -> Iterator[Running]:
    started = Running(ScreenSettings(port=0))
    yield started
    started.stop()


def test_the_page_is_served_with_a_policy_that_allows_no_other_origin(running: Running) -> None:
    response = running.client.get("/")
    assert response.status_code == 200
    assert 'src="app.js"' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert running.client.get("/app.js").headers["content-type"].startswith("text/javascript")


def test_a_tile_server_is_the_one_other_origin_allowed() -> None:
    policy = content_security_policy("https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.tiles.example.org;" in policy


def test_the_screen_and_its_images(running: Running) -> None:
    card = _card()
    running.state.alert(card)
    screen = running.client.get("/api/screen")
    assert screen.headers["cache-control"] == "no-store"
    body = screen.json()
    assert [a["name"] for a in body["alerts"]] == [card.name]
    assert body["status"]["link"] == "offline"
    assert "expired" in body["status"]["watchlist_warning"]
    image = running.client.get(body["alerts"][0]["probe_image"])
    assert (image.status_code, image.content, image.headers["cache-control"]) == (200, card.probe_jpeg, "no-store")
    assert running.client.get("/api/images/" + image_key(b"nothing")).status_code == 404


@pytest.mark.parametrize(
    ("answers", "code", "message"),
    [
        ([("accepted", "")], 201, None),
        ([("on_scene", "")], 409, "accept the order before reporting on scene"),
        ([("declined", "  ")], 422, "a decline needs a reason"),
        ([("accepted", ""), ("declined", "busy")], 409, "can no longer be declined"),
        ([("arrested", "")], 422, "status"),
    ],
)
def test_answers_follow_the_order_rules(
    running: Running, answers: list[tuple[str, str]], code: int, message: str | None
) -> None:
    dispatch_id = running.order()
    for status, reason in answers:
        response = running.client.post(f"/api/orders/{dispatch_id}/answers", json={"status": status, "reason": reason})
    assert response.status_code == code, response.text
    if message is not None:
        assert message in response.text
    else:
        assert response.json()["event_id"] == str(running.device.sent[-1].id)
        assert running.state.view(health=running.device.health(), now=utc_now()).orders[0].state == "accepted"


def test_an_answer_to_an_unknown_order_is_not_found(running: Running) -> None:
    response = running.client.post(f"/api/orders/{uuid.uuid4()}/answers", json={"status": "accepted"})
    assert response.status_code == 404
    assert "no dispatch order" in response.text


def test_taps_are_taken_only_from_the_page_itself(running: Running) -> None:
    dispatch_id = running.order()
    response = running.client.post(
        f"/api/orders/{dispatch_id}/answers", json={"status": "accepted"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert running.device.sent == []
    # A page that reached the server through another host name (DNS rebinding) is not answered at all.
    assert running.client.get("/api/screen", headers={"Host": "evil.example"}).status_code == 400


def test_the_emergency_is_raised_once_acknowledged_then_dismissed(running: Running) -> None:
    assert running.client.get("/api/screen").json()["emergency"] is None
    raised = running.client.post("/api/emergency")
    assert raised.status_code == 201, raised.text
    body = raised.json()
    [event] = running.device.emergencies
    assert body == {
        "emergency_id": str(event.emergency_id),
        "raised_at": event.at.isoformat().replace("+00:00", "Z"),
        "delivered": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "message": "",
    }
    again = running.client.post("/api/emergency")  # held again: the same emergency, nothing new sent
    assert (again.status_code, again.json()["emergency_id"]) == (201, body["emergency_id"])
    assert len(running.device.emergencies) == 1
    assert running.client.get("/api/screen").json()["emergency"] == body

    refused = running.client.delete("/api/emergency")
    assert refused.status_code == 409
    assert "not acknowledged" in refused.text
    running.device.emergency.delivered([event.id])
    running.device.emergency.acknowledged(
        EmergencyAcknowledged(device_id="cam-7", emergency_id=event.emergency_id, by="Op. Ahmed", message="B-7 sent")
    )
    shown = running.client.get("/api/screen").json()["emergency"]
    assert (shown["delivered"], shown["acknowledged_by"], shown["message"]) == (True, "Op. Ahmed", "B-7 sent")
    assert running.client.delete("/api/emergency").status_code == 204
    assert running.client.get("/api/screen").json()["emergency"] is None
    assert running.client.delete("/api/emergency").status_code == 404


def test_an_emergency_is_taken_only_from_the_page_itself(running: Running) -> None:
    response = running.client.post("/api/emergency", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert running.device.emergencies == []
    assert running.client.post("/api/emergency", headers={"Host": "evil.example"}).status_code == 400
    assert running.device.emergencies == []


def test_the_stream_sends_the_screen_at_once_and_on_every_change(running: Running) -> None:
    with running.client.stream("GET", "/api/stream") as stream:
        lines = stream.iter_lines()
        screens = (json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: "))
        assert next(screens)["alerts"] == []
        running.state.alert(_card("Ann Example"))
        assert [a["name"] for a in next(screens)["alerts"]] == ["Ann Example"]


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ScreenServer(
            ScreenSettings(port=port),
            state=ScreenState(
                device_id="cam-7", unit_id="u", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
            ),
            device=FakeDevice(
                ScreenState(
                    device_id="cam-7", unit_id="u", map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
                )
            ),
            page=page_dir("handset"),
        )
        with pytest.raises(ScreenUnavailable, match=f"cannot listen on 127.0.0.1:{port}.*--screen"):
            server.start()


def test_the_page_reconnects_by_itself_when_the_screen_server_comes_back(open_phone_page: OpenPhonePage) -> None:
    first = Running(ScreenSettings(port=0))
    port = int(first.server.url.rsplit(":", 1)[1].rstrip("/"))
    page = open_phone_page(first.server.url)
    page.tolerate(r"ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING")
    page.page.wait_for_selector("#screen-link", state="hidden")
    first.stop()
    page.page.wait_for_selector("#screen-link", state="visible")
    second = Running(ScreenSettings(port=port))
    try:
        second.state.alert(_card("Back Again"))
        page.page.wait_for_selector("[data-testid=alert-card] >> text=Back Again", timeout=15_000)
        assert page.page.is_hidden("#screen-link")
    finally:
        second.stop()
