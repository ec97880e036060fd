"""The officer's second verification of a match, on the device: a real edge agent, its real outbox and screen model.

Orders reach the agent through its real downlink; the verdict is the agent's :meth:`~EdgeAgent.verify`, the call the
handset's screen server makes on a tap, and must land in the outbox as one ``alert.verified`` naming the order's
alert, the order and the device's unit. The screen server's route is exercised over real HTTP at the end.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.orders import InvalidVerification, UnknownDispatch
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.screen_server import ScreenServer
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView, OrderView
from vigil.edge.settings import ScreenSettings
from vigil.events import (
    Ack,
    AlertVerified,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    EmergencyBrief,
    Event,
    IdentityVerdict,
    Location,
    MatchEvidence,
    SubjectBrief,
    encode_event,
    parse_event,
    topic_for,
    utc_now,
)
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.embedding import Embedder
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.gallery import Gallery
from vigil.web.assets import page_dir

DEVICE, UNIT = "cam-7", "Bravo-2"
ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493)]
AREA = {"type": "Polygon", "coordinates": [[[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.50]]]}
SAME, NOT_THEM, CANNOT_TELL = IdentityVerdict.SAME_PERSON, IdentityVerdict.NOT_THE_PERSON, IdentityVerdict.CANNOT_TELL


def subject_order(
    *,
    dispatch_id: uuid.UUID | None = None,
    alert_id: uuid.UUID | None = None,
    revision: int = 1,
    verified_by: str | None = None,
    probe_jpeg: bytes = b"\xff\xd8\xff\xe0probe",
    enrolled_jpeg: bytes | None = b"\xff\xd8\xff\xe0chip",
) -> DispatchOrder:
    """A subject order whose match control confirmed (op.ahmed) and, with ``verified_by``, a second person verified."""
    return DispatchOrder(
        device_id=DEVICE,
        dispatch_id=dispatch_id or uuid.uuid4(),
        incident_id=uuid.uuid4(),
        revision=revision,
        unit_id=UNIT,
        target=Location(lat=51.5094, lon=-0.1249),
        area=AREA,
        subject=SubjectBrief(subject_id="obama", name="Obama", category="wanted_on_warrant"),
        evidence=MatchEvidence(
            alert_id=alert_id or uuid.uuid4(),
            seen_at=utc_now(),
            distance=0.41,
            threshold=0.5,
            probe_jpeg=probe_jpeg,
            enrolled_jpeg=enrolled_jpeg,
            confirmed_by="op.ahmed",
            verified_by=verified_by,
        ),
        instructions="Hold at the corner of the Strand.",
    )


def officer_in_danger_order() -> DispatchOrder:
    return DispatchOrder(
        device_id=DEVICE,
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id=UNIT,
        target=Location(lat=51.5094, lon=-0.1249),
        area=AREA,
        emergency=EmergencyBrief(emergency_id=uuid.uuid4(), unit_id="A-12", call_sign="Alpha 12", raised_at=utc_now()),
        instructions="Go now.",
    )


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The real embedder (loaded once): the agent needs one, though no video runs here."""
    return build_embedder(OnnxEmbedderSettings())


def make_agent(directory: Path, *, embedder: Embedder, screen: ScreenState, bus: MemoryBus | None) -> EdgeAgent:
    """An agent on an empty watchlist, its screen as its notifier; offline without a bus. Not started."""
    empty = LoadedWatchlist(
        gallery=Gallery([], threshold=0.5, model=DLIB_MODEL_ID), version=1, valid_until=None, package=None
    )
    return EdgeAgent(
        identity=EdgeIdentity(device_id=DEVICE, unit_id=UNIT),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        watchlist=ActiveWatchlist(empty),
        recognition=RecognitionSettings(),
        outbox=Outbox(directory / f"outbox-{uuid.uuid4().hex}.sqlite"),
        bus=bus,
        position=SimulatedRoute(ROUTE, 1.4),
        notifiers=[screen],
        position_interval_s=600,
        status_interval_s=600,
    )


MakeAgent = Callable[..., EdgeAgent]


@pytest.fixture
def agents(tmp_path: Path, embedder: Embedder) -> Iterator[MakeAgent]:
    """Makes agents (see :func:`make_agent`) and stops them when the test ends."""
    made: list[EdgeAgent] = []

    def make(*, screen: ScreenState, bus: MemoryBus | None = None) -> EdgeAgent:
        made.append(make_agent(tmp_path, embedder=embedder, screen=screen, bus=bus))
        return made[-1]

    yield make
    for agent in made:
        agent.stop()
        agent.outbox.close()


def new_screen() -> ScreenState:
    return ScreenState(
        device_id=DEVICE, unit_id=UNIT, map_view=MapView(tile_url=None, tile_attribution="", max_zoom=19)
    )


@dataclass
class Device:
    agent: EdgeAgent
    screen: ScreenState

    def deliver(self, event: Event) -> None:
        """Control's message arrives, as the bus hands it to the downlink."""
        self.agent.downlink(Message(topic_for(event), encode_event(event)))

    def verdicts_stored(self) -> list[AlertVerified]:
        events = [parse_event(item.payload) for item in self.agent.outbox.oldest(limit=100)]
        return [event for event in events if isinstance(event, AlertVerified)]

    def shown(self, dispatch_id: uuid.UUID) -> OrderView:
        view = self.screen.view(health=self.agent.health(), now=utc_now())
        return next(order for order in view.orders if order.dispatch_id == dispatch_id)


@pytest.fixture
def device(agents: MakeAgent) -> Device:
    screen = new_screen()
    return Device(agent=agents(screen=screen), screen=screen)


def test_a_verdict_is_one_alert_verified_in_the_outbox_naming_the_alert_the_order_and_the_unit(device: Device) -> None:
    order = subject_order()
    device.deliver(order)
    assert order.evidence is not None
    shown = device.shown(order.dispatch_id)
    assert shown.evidence is not None
    assert (shown.evidence.confirmed_by, shown.evidence.verified_by) == ("op.ahmed", None)
    assert (shown.verdict, shown.verdicts_allowed) == (None, [SAME, NOT_THEM, CANNOT_TELL])

    event = device.agent.verify(order.dispatch_id, SAME)
    assert device.agent.verify(order.dispatch_id, SAME) == event  # a double tap sends nothing more

    assert device.verdicts_stored() == [event]
    assert (event.alert_id, event.dispatch_id, event.unit_id, event.device_id, event.verdict) == (
        order.evidence.alert_id,
        order.dispatch_id,
        UNIT,
        DEVICE,
        SAME,
    )
    shown = device.shown(order.dispatch_id)
    assert shown.verdict is not None
    assert (shown.verdict.verdict, shown.verdict.delivered, shown.verdicts_allowed) == (SAME, False, [])
    device.deliver(Ack(device_id=DEVICE, ids=[event.id]))  # the command centre has it
    shown = device.shown(order.dispatch_id)
    assert shown.verdict is not None
    assert shown.verdict.delivered
    assert device.verdicts_stored() == []


@pytest.mark.parametrize(("first", "second"), [(SAME, NOT_THEM), (NOT_THEM, SAME), (SAME, CANNOT_TELL)])
def test_a_second_different_verdict_is_refused(device: Device, first: IdentityVerdict, second: IdentityVerdict) -> None:
    order = subject_order()
    device.deliver(order)
    event = device.agent.verify(order.dispatch_id, first)
    words = first.value.replace("_", " ")
    with pytest.raises(InvalidVerification, match=f"you already verified this match: {words}; a verdict cannot be"):
        device.agent.verify(order.dispatch_id, second)
    assert device.verdicts_stored() == [event]
    shown = device.shown(order.dispatch_id)
    assert shown.verdict is not None
    assert shown.verdict.verdict is first


def test_cannot_tell_may_be_followed_by_another_verdict_and_that_one_stands(device: Device) -> None:
    order = subject_order()
    device.deliver(order)
    unsure = device.agent.verify(order.dispatch_id, CANNOT_TELL)
    assert device.shown(order.dispatch_id).verdicts_allowed == [SAME, NOT_THEM]
    sure = device.agent.verify(order.dispatch_id, NOT_THEM)
    with pytest.raises(InvalidVerification, match="already verified this match: not the person"):
        device.agent.verify(order.dispatch_id, SAME)
    assert [(e.verdict, e.alert_id) for e in device.verdicts_stored()] == [
        (CANNOT_TELL, unsure.alert_id),
        (NOT_THEM, unsure.alert_id),
    ]
    assert sure.id != unsure.id
    shown = device.shown(order.dispatch_id)
    assert shown.verdict is not None
    assert (shown.verdict.verdict, shown.verdicts_allowed) == (NOT_THEM, [])


def test_an_officer_in_danger_order_has_no_match_to_verify(device: Device) -> None:
    order = officer_in_danger_order()
    device.deliver(order)
    shown = device.shown(order.dispatch_id)
    assert (shown.evidence, shown.verdict, shown.verdicts_allowed) == (None, None, [])
    with pytest.raises(InvalidVerification, match="officer in danger: it carries no match to verify"):
        device.agent.verify(order.dispatch_id, SAME)
    assert device.verdicts_stored() == []


def test_an_order_never_received_is_unknown(device: Device) -> None:
    with pytest.raises(UnknownDispatch):
        device.agent.verify(uuid.uuid4(), SAME)


def test_an_identity_two_people_verified_takes_no_verdict_from_the_officer(device: Device) -> None:
    order = subject_order(verified_by="Sgt Okafor")
    device.deliver(order)
    shown = device.shown(order.dispatch_id)
    assert shown.evidence is not None
    assert (shown.evidence.verified_by, shown.verdicts_allowed) == ("Sgt Okafor", [])
    with pytest.raises(InvalidVerification, match="already verified by Sgt Okafor"):
        device.agent.verify(order.dispatch_id, NOT_THEM)
    assert device.verdicts_stored() == []


@pytest.mark.parametrize(
    ("ending", "message"),
    [
        ("stood down", "control stood this unit down"),
        ("declined", "the order is declined"),
        ("cleared", "the order is cleared"),
    ],
)
def test_an_order_that_is_over_takes_no_verdict(device: Device, ending: str, message: str) -> None:
    order = subject_order()
    device.deliver(order)
    if ending == "stood down":
        device.deliver(DispatchCancelled(device_id=DEVICE, dispatch_id=order.dispatch_id, reason="subject gone"))
    elif ending == "declined":
        device.agent.answer(order.dispatch_id, DispatchState.DECLINED, reason="officer safety")
    else:
        for state in (DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED):
            device.agent.answer(order.dispatch_id, state)
    assert device.shown(order.dispatch_id).verdicts_allowed == []
    with pytest.raises(InvalidVerification, match=message):
        device.agent.verify(order.dispatch_id, SAME)
    assert device.verdicts_stored() == []


def test_a_revision_with_the_second_verifier_changes_the_view_and_keeps_the_officers_verdict(device: Device) -> None:
    order = subject_order()
    device.deliver(order)
    device.agent.verify(order.dispatch_id, SAME)
    assert order.evidence is not None
    verified = subject_order(
        dispatch_id=order.dispatch_id, alert_id=order.evidence.alert_id, revision=2, verified_by="PC Jones (Bravo-2)"
    )
    before = device.screen.revision
    device.deliver(verified)
    assert device.screen.revision > before  # the page's stream sends the screen again
    shown = device.shown(order.dispatch_id)
    assert (shown.revision, shown.target_moved) == (2, False)
    assert shown.evidence is not None
    assert (shown.evidence.confirmed_by, shown.evidence.verified_by) == ("op.ahmed", "PC Jones (Bravo-2)")
    assert shown.verdict is not None
    assert (shown.verdict.verdict, shown.verdicts_allowed) == (SAME, [])
    device.deliver(order)  # the first revision, redelivered late, changes nothing
    shown = device.shown(order.dispatch_id)
    assert shown.evidence is not None
    assert shown.evidence.verified_by == "PC Jones (Bravo-2)"


def test_a_verdict_given_without_a_link_goes_when_the_link_returns(agents: MakeAgent) -> None:
    bus = MemoryBus()
    received: list[AlertVerified] = []

    def control(message: Message) -> None:  # keeps the verdicts and acks everything, as the command centre does
        event = parse_event(message.payload)
        if isinstance(event, AlertVerified):
            received.append(event)
        bus.publish(topic_for(ack := Ack(device_id=DEVICE, ids=[event.id])), encode_event(ack))

    bus.subscribe(f"vigil/v1/devices/{DEVICE}/up/#", control)
    screen = new_screen()
    agent = agents(screen=screen, bus=bus)
    device = Device(agent=agent, screen=screen)
    agent.start()
    order = subject_order()
    bus.publish(topic_for(order), encode_event(order))
    _wait(lambda: [held for held, _ in agent.orders.orders()] == [order])
    bus.set_link(up=False)
    event = agent.verify(order.dispatch_id, SAME)
    assert device.verdicts_stored() == [event]
    assert received == []
    bus.set_link(up=True)
    _wait(lambda: (shown := device.shown(order.dispatch_id).verdict) is not None and shown.delivered)
    assert received == [event]
    assert device.verdicts_stored() == []
    bus.stop()


def _wait(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_screen_servers_route_sends_the_verdict_and_refuses_a_different_one(device: Device) -> None:
    order, rescue = subject_order(), officer_in_danger_order()
    device.deliver(order)
    device.deliver(rescue)
    server = ScreenServer(ScreenSettings(port=0), state=device.screen, device=device.agent, page=page_dir("handset"))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            path = f"/api/orders/{order.dispatch_id}/verification"
            sent = client.post(path, json={"verdict": "same_person"})
            assert sent.status_code == 201
            assert order.evidence is not None
            assert sent.json()["alert_id"] == str(order.evidence.alert_id)
            assert [str(e.id) for e in device.verdicts_stored()] == [sent.json()["event_id"]]

            refused = client.post(path, json={"verdict": "not_the_person"})
            assert refused.status_code == 409
            assert refused.json()["detail"].startswith("you already verified this match: same person")

            rescue_path = f"/api/orders/{rescue.dispatch_id}/verification"
            assert client.post(rescue_path, json={"verdict": "same_person"}).status_code == 409
            assert (
                client.post(f"/api/orders/{uuid.uuid4()}/verification", json={"verdict": "same_person"}).status_code
                == 404
            )
            assert client.post(path, json={"verdict": "probably"}).status_code == 422
            foreign = client.post(path, json={"verdict": "same_person"}, headers={"Origin": "https://evil.example"})
            assert foreign.status_code == 403
            screen = client.get("/api/screen").json()
        shown = next(o for o in screen["orders"] if o["dispatch_id"] == str(order.dispatch_id))
        assert (shown["verdict"]["verdict"], shown["evidence"]["confirmed_by"]) == ("same_person", "op.ahmed")
        assert len(device.verdicts_stored()) == 1
    finally:
        server.stop()
