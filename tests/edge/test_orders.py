import io
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from vigil.bus.protocol import Message
from vigil.edge.downlink import Downlink
from vigil.edge.notifier import ConsoleNotifier
from vigil.edge.orders import InvalidDispatchAnswer, OrderBook, Receipt, UnknownDispatch
from vigil.edge.outbox import Outbox
from vigil.events import (
    Ack,
    AlertReviewed,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    EmergencyAcknowledged,
    EmergencyBrief,
    Location,
    MatchEvidence,
    Position,
    SubjectBrief,
    WatchlistAvailable,
    encode_event,
    utc_now,
)

AREA = {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]}


def _order(device_id: str = "cam-1") -> DispatchOrder:
    return DispatchOrder(
        device_id=device_id,
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="u1",
        target=Location(lat=51.5, lon=-0.1),
        area=AREA,
        subject=SubjectBrief(subject_id="s1", name="A Person", category="wanted_on_warrant"),
        evidence=MatchEvidence(
            alert_id=uuid.uuid4(), seen_at=utc_now(), distance=0.4, threshold=0.5, probe_jpeg=b"\xff\xd8\xff\xe0"
        ),
    )


class Shown:
    def __init__(self) -> None:
        self.reviews: list[AlertReviewed] = []
        self.orders: list[DispatchOrder] = []
        self.cancellations: list[DispatchCancelled] = []
        self.statuses: list[tuple[uuid.UUID, DispatchState, bool]] = []

    def alert(self, card: object) -> None:
        raise AssertionError("no alerts expected")

    def reviewed(self, review: AlertReviewed) -> None:
        self.reviews.append(review)

    def order(self, order: DispatchOrder) -> None:
        self.orders.append(order)

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        self.cancellations.append(cancellation)

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        self.statuses.append((dispatch_id, status, delivered))


def test_answers_move_forward_only() -> None:
    emitted: list[DispatchStatus] = []
    book = OrderBook(device_id="cam-1", emit=emitted.append)
    order = _order()
    assert book.receive(order) is Receipt.NEW
    assert book.receive(order) is Receipt.ALREADY_KNOWN  # a redelivery
    with pytest.raises(InvalidDispatchAnswer, match="accept the order before reporting on scene"):
        book.answer(order.dispatch_id, DispatchState.ON_SCENE)
    for state in [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]:
        book.answer(order.dispatch_id, state)
    assert [e.status for e in emitted] == ["accepted", "en_route", "on_scene", "cleared"]
    with pytest.raises(InvalidDispatchAnswer, match="answers only move forward"):
        book.answer(order.dispatch_id, DispatchState.EN_ROUTE)
    with pytest.raises(InvalidDispatchAnswer, match="can no longer be declined"):
        book.answer(order.dispatch_id, DispatchState.DECLINED)
    with pytest.raises(UnknownDispatch):
        book.answer(uuid.uuid4(), DispatchState.ACCEPTED)


def test_declined_order_cannot_be_taken_up() -> None:
    book = OrderBook(device_id="cam-1", emit=lambda event: None)
    order = _order()
    book.receive(order)
    book.answer(order.dispatch_id, DispatchState.DECLINED, reason="already on another call")
    with pytest.raises(InvalidDispatchAnswer, match="was declined"):
        book.answer(order.dispatch_id, DispatchState.ACCEPTED)


def test_downlink_routes_each_kind(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    position = Position(device_id="cam-1", unit_id="u1", lat=1, lon=1)
    outbox.put(position)
    shown = Shown()
    announced: list[WatchlistAvailable] = []
    book = OrderBook(device_id="cam-1", emit=lambda event: None)
    downlink = Downlink(device_id="cam-1", outbox=outbox, orders=book, notifiers=[shown], on_watchlist=announced.append)
    order = _order()
    review = AlertReviewed(device_id="cam-1", alert_id=uuid.uuid4(), decision="confirmed", reviewer="op.a")
    available = WatchlistAvailable(device_id="cam-1", version=9, sha256="0" * 64, url="file:///x.vwl")
    moved = order.model_copy(update={"revision": 2, "target": Location(lat=51.51, lon=-0.11)})
    stand_down = DispatchCancelled(device_id="cam-1", dispatch_id=order.dispatch_id, reason="incident closed")
    events = [Ack(device_id="cam-1", ids=[position.id]), order, order, review, review, available, _order("cam-2")]
    for event in [*events, moved, order, stand_down, stand_down]:
        downlink(Message(topic="vigil/v1/devices/cam-1/down/x", payload=encode_event(event)))
    downlink(Message(topic="vigil/v1/devices/cam-1/down/x", payload=b"{not json"))
    assert outbox.backlog() == 0
    assert shown.orders == [order, moved]
    assert shown.cancellations == [stand_down]
    assert shown.reviews == [review]
    assert announced == [available]
    assert [o.dispatch_id for o, _ in book.orders()] == [order.dispatch_id]
    outbox.close()


def test_a_newer_revision_moves_the_target_and_keeps_the_answers() -> None:
    book = OrderBook(device_id="cam-1", emit=lambda event: None)
    first = _order()
    book.receive(first)
    book.answer(first.dispatch_id, DispatchState.ACCEPTED)
    moved = first.model_copy(update={"revision": 2, "target": Location(lat=51.51, lon=-0.11)})
    assert book.receive(moved) is Receipt.UPDATED
    assert book.receive(first) is Receipt.ALREADY_KNOWN  # an older revision arriving late changes nothing
    assert book.orders() == [(moved, DispatchState.ACCEPTED)]
    book.answer(first.dispatch_id, DispatchState.EN_ROUTE)


def test_a_stood_down_order_takes_no_answer() -> None:
    book = OrderBook(device_id="cam-1", emit=lambda event: None)
    order = _order()
    stand_down = DispatchCancelled(device_id="cam-1", dispatch_id=order.dispatch_id, reason="incident closed")
    assert not book.cancel(stand_down)  # never received here
    book.receive(order)
    book.answer(order.dispatch_id, DispatchState.ACCEPTED)
    assert book.cancel(stand_down)
    assert not book.cancel(stand_down)  # a redelivery
    assert book.cancelled(order.dispatch_id) == stand_down
    with pytest.raises(InvalidDispatchAnswer, match="stood this unit down"):
        book.answer(order.dispatch_id, DispatchState.EN_ROUTE)
    assert book.receive(order.model_copy(update={"revision": 2})) is Receipt.ALREADY_KNOWN


def _officer_in_danger_order() -> DispatchOrder:
    return DispatchOrder(
        device_id="cam-1",
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="u1",
        target=Location(lat=51.5, lon=-0.1),
        area=AREA,
        emergency=EmergencyBrief(emergency_id=uuid.uuid4(), unit_id="A-12", call_sign="Alpha 12", raised_at=utc_now()),
        instructions="Go now.",
    )


def test_an_officer_in_danger_order_is_answered_like_any_and_shown_in_red_on_the_console() -> None:
    emitted: list[DispatchStatus] = []
    book = OrderBook(device_id="cam-1", emit=emitted.append)
    order = _officer_in_danger_order()
    assert book.receive(order) is Receipt.NEW
    book.answer(order.dispatch_id, DispatchState.ACCEPTED)
    book.answer(order.dispatch_id, DispatchState.EN_ROUTE)
    assert [e.status for e in emitted] == ["accepted", "en_route"]
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system="standard")
    ConsoleNotifier(console).order(order)
    ConsoleNotifier(console).order(_order())
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "OFFICER IN DANGER" in printed
    assert "Alpha 12" in printed
    assert "\x1b[31m" in printed  # red, as the alert cards are; the subject order stays blue
    assert "A Person" in printed


def test_the_downlink_hands_control_s_emergency_acknowledgement_to_the_agent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    acknowledged: list[EmergencyAcknowledged] = []
    downlink = Downlink(
        device_id="cam-1",
        outbox=outbox,
        orders=OrderBook(device_id="cam-1", emit=lambda event: None),
        notifiers=[Shown()],
        on_watchlist=lambda announcement: None,
        on_emergency_acknowledged=acknowledged.append,
    )
    ack = EmergencyAcknowledged(device_id="cam-1", emergency_id=uuid.uuid4(), by="Op. Ahmed", message="B-7 sent")
    other = EmergencyAcknowledged(device_id="cam-2", emergency_id=uuid.uuid4(), by="Op. Ahmed")
    for event in [ack, other]:
        downlink(Message(topic="vigil/v1/devices/cam-1/down/emergency.acknowledged", payload=encode_event(event)))
    assert acknowledged == [ack]
    outbox.close()
