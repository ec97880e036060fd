"""The handset screen's model, without a browser: cards, reviews, orders, answers, eviction, the status bar."""

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from vigil.edge.device_health import DeviceHealth, LinkState, WatchlistHealth
from vigil.edge.emergency import EmergencyStatus
from vigil.edge.notifier import AlertCard
from vigil.edge.position import PositionFix
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import IMAGE_PATH, AlertState, MapView, image_key
from vigil.edge.settings import ScreenSettings
from vigil.events import (
    AlertReviewed,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    EmergencyBrief,
    Location,
    MatchEvidence,
    SubjectBrief,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
AREA = {"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.12, 51.51], [-0.13, 51.5]]]}
MAP = MapView(tile_url=None, tile_attribution="", max_zoom=19)


def _jpeg(tag: bytes) -> bytes:
    return b"\xff\xd8\xff\xe0" + tag


def _card(name: str = "Ann Example", tag: bytes = b"a") -> AlertCard:
    return AlertCard(
        alert_id=uuid.uuid4(),
        subject_id=name.lower().replace(" ", "_"),
        name=name,
        category="wanted_on_warrant",
        notes="May be armed.",
        distance=0.41,
        threshold=0.5,
        probe_jpeg=_jpeg(b"probe-" + tag),
        watchlist_jpeg=_jpeg(b"chip-" + tag),
        at=NOW,
    )


def _order(*, revision: int = 1, dispatch_id: uuid.UUID | None = None, lat: float = 51.51) -> DispatchOrder:
    return DispatchOrder(
        device_id="cam-7",
        dispatch_id=dispatch_id or uuid.uuid4(),
        incident_id=uuid.uuid4(),
        revision=revision,
        unit_id="Bravo-2",
        target=Location(lat=lat, lon=-0.125),
        area=AREA,
        subject=SubjectBrief(subject_id="ann", name="Ann Example", category="missing_person", photo_jpeg=_jpeg(b"p")),
        evidence=MatchEvidence(
            alert_id=uuid.uuid4(), seen_at=NOW, distance=0.4, threshold=0.5, probe_jpeg=_jpeg(b"evidence")
        ),
    )


def _health(*, fix: PositionFix | None = None, watchlist: WatchlistHealth | None = None) -> DeviceHealth:
    return DeviceHealth(
        link=LinkState.UP,
        outbox_backlog=3,
        fix=fix,
        battery_pct=81.26,
        watchlist=watchlist
        or WatchlistHealth(version=2, valid_until=None, announced_version=None, install_problem=None),
    )


def _state(**kwargs: int) -> ScreenState:
    return ScreenState(device_id="cam-7", unit_id="Bravo-2", map_view=MAP, clock=lambda: NOW, **kwargs)


def test_an_alert_is_unconfirmed_until_control_reviews_it() -> None:
    state = _state()
    confirmed, dismissed = _card("Ann Example", b"a"), _card("Bob Example", b"b")
    state.alert(confirmed)
    state.alert(dismissed)
    view = state.view(health=_health(), now=NOW)
    assert [card.name for card in view.alerts] == ["Bob Example", "Ann Example"]  # newest first
    assert {card.state for card in view.alerts} == {AlertState.UNCONFIRMED}

    state.reviewed(AlertReviewed(device_id="cam-7", alert_id=confirmed.alert_id, decision="confirmed", reviewer="op"))
    state.reviewed(
        AlertReviewed(device_id="cam-7", alert_id=dismissed.alert_id, decision="dismissed", reviewer="op", reason="no")
    )
    cards = {card.name: card for card in state.view(health=_health(), now=NOW).alerts}
    assert cards["Ann Example"].state is AlertState.CONFIRMED
    assert cards["Bob Example"].state is AlertState.DISMISSED
    assert cards["Bob Example"].review is not None
    assert cards["Bob Example"].review.reason == "no"


def test_a_review_of_an_unknown_alert_changes_nothing() -> None:
    state = _state()
    state.alert(_card())
    before = state.revision
    state.reviewed(AlertReviewed(device_id="cam-7", alert_id=uuid.uuid4(), decision="confirmed", reviewer="op"))
    assert state.revision == before


def test_images_are_served_by_key_while_their_card_is_held() -> None:
    state = _state(max_alerts=2)
    first = _card("One", b"1")
    state.alert(first)
    card = state.view(health=_health(), now=NOW).alerts[0]
    assert card.probe_image == IMAGE_PATH + image_key(first.probe_jpeg)
    assert state.image(image_key(first.watchlist_jpeg)) == first.watchlist_jpeg
    state.alert(_card("Two", b"2"))
    state.alert(_card("Three", b"3"))
    assert [c.name for c in state.view(health=_health(), now=NOW).alerts] == ["Three", "Two"]
    assert state.image(image_key(first.probe_jpeg)) is None  # dropped with its card
    assert state.image("not-a-key") is None


def test_answers_are_sent_then_delivered_and_decide_what_may_follow() -> None:
    state = _state()
    order = _order()
    state.order(order)
    view = state.view(health=_health(), now=NOW).orders[0]
    assert (view.state, view.answers) == (None, [])
    assert view.allowed == [DispatchState.ACCEPTED, DispatchState.DECLINED]
    assert state.image(image_key(order.evidence.probe_jpeg)) == order.evidence.probe_jpeg
    assert view.subject.photo_image == IMAGE_PATH + image_key(_jpeg(b"p"))

    state.order_status(order.dispatch_id, DispatchState.ACCEPTED, delivered=False)
    state.order_status(order.dispatch_id, DispatchState.EN_ROUTE, delivered=False)
    state.order_status(order.dispatch_id, DispatchState.ACCEPTED, delivered=True)
    view = state.view(health=_health(), now=NOW).orders[0]
    assert [(a.status, a.delivered) for a in view.answers] == [
        (DispatchState.ACCEPTED, True),
        (DispatchState.EN_ROUTE, False),
    ]
    assert view.state is DispatchState.EN_ROUTE
    assert view.allowed == [DispatchState.ON_SCENE, DispatchState.CLEARED]


def test_a_newer_revision_moves_the_target_and_keeps_the_answers() -> None:
    state = _state()
    order = _order(lat=51.51)
    state.order(order)
    assert not state.view(health=_health(), now=NOW).orders[0].target_moved
    state.order_status(order.dispatch_id, DispatchState.ACCEPTED, delivered=False)
    moved = _order(revision=2, dispatch_id=order.dispatch_id, lat=51.52)
    state.order(moved)
    revision = state.revision
    state.order(order)  # an older revision arriving late changes nothing
    assert state.revision == revision
    view = state.view(health=_health(), now=NOW).orders[0]
    assert (view.revision, view.target.lat, view.state, view.target_moved) == (2, 51.52, DispatchState.ACCEPTED, True)


def test_a_revision_that_only_names_the_second_verifier_is_no_move() -> None:
    state = _state()
    order = _order(lat=51.51)
    state.order(order)
    assert order.evidence is not None
    verified = order.model_copy(
        update={"revision": 2, "evidence": order.evidence.model_copy(update={"verified_by": "PC Jones"})}
    )
    state.order(verified)
    view = state.view(health=_health(), now=NOW).orders[0]
    assert view.evidence is not None
    assert (view.revision, view.target_moved, view.evidence.verified_by) == (2, False, "PC Jones")


def test_a_stood_down_order_takes_no_answer_and_finished_orders_are_dropped_oldest_first() -> None:
    state = _state(max_finished_orders=1)
    open_order, first, second = _order(), _order(), _order()
    for order in (open_order, first, second):
        state.order(order)
    state.order_cancelled(DispatchCancelled(device_id="cam-7", dispatch_id=first.dispatch_id, reason="closed"))
    view = {o.dispatch_id: o for o in state.view(health=_health(), now=NOW).orders}
    assert view[first.dispatch_id].stood_down
    assert view[first.dispatch_id].stand_down_reason == "closed"
    assert view[first.dispatch_id].allowed == []
    state.order_status(second.dispatch_id, DispatchState.DECLINED, delivered=False)
    orders = state.view(health=_health(), now=NOW).orders
    assert [o.dispatch_id for o in orders] == [open_order.dispatch_id, second.dispatch_id]  # open first


def test_the_route_is_measured_from_the_officers_fix() -> None:
    state = _state()
    state.order(_order(lat=51.51))
    assert state.view(health=_health(), now=NOW).orders[0].route is None
    fix = PositionFix(
        lat=51.50, lon=-0.125, accuracy_m=5, heading_deg=None, speed_mps=None, at=NOW, source="gps"
    )  # due south of the target
    view = state.view(health=_health(fix=fix), now=NOW)
    route = view.orders[0].route
    assert route is not None
    assert route.distance_m == pytest.approx(1112, abs=2)
    assert route.bearing_deg == pytest.approx(0, abs=0.01)
    assert view.status.gps is not None
    assert (view.status.gps.accuracy_m, view.status.battery_pct, view.status.outbox_backlog) == (5, 81.3, 3)


@pytest.mark.parametrize(
    ("watchlist", "warning"),
    [
        (
            WatchlistHealth(version=2, valid_until=NOW + timedelta(days=1), announced_version=2, install_problem=None),
            None,
        ),
        (
            WatchlistHealth(
                version=2, valid_until=NOW - timedelta(minutes=1), announced_version=None, install_problem=None
            ),
            "v2 expired",
        ),
        (WatchlistHealth(version=2, valid_until=None, announced_version=3, install_problem=None), None),  # installing
        (
            WatchlistHealth(version=2, valid_until=None, announced_version=3, install_problem="bad signature"),
            "v3 was issued",
        ),
        (WatchlistHealth(version=3, valid_until=None, announced_version=3, install_problem="bad signature"), None),
    ],
)
def test_the_banner_says_when_the_watchlist_is_out_of_date(watchlist: WatchlistHealth, warning: str | None) -> None:
    shown = _state().view(health=_health(watchlist=watchlist), now=NOW).status.watchlist_warning
    if warning is None:
        assert shown is None
    else:
        assert shown is not None
        assert warning in shown


def test_waiting_for_a_change_wakes_on_the_change() -> None:
    state = _state()
    assert state.wait_for_change(0, timeout_s=0.01) == 0
    timer = threading.Timer(0.05, lambda: state.alert(_card()))
    timer.start()
    assert state.wait_for_change(0, timeout_s=10) == 1
    timer.join()


@pytest.mark.parametrize(
    ("tile_url", "problem"),
    [
        ("http://127.0.0.1:8090/{z}/{x}/{y}.png", None),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", None),
        ("file:///tiles/{z}/{x}/{y}.png", "is not an http(s) URL"),
        ("http://127.0.0.1:8090/tiles.png", "lacks {z}, {x}, {y}"),
    ],
)
def test_screen_settings_check_the_tile_template(tile_url: str, problem: str | None) -> None:
    if problem is None:
        assert ScreenSettings(tile_url=tile_url).tile_url == tile_url
    else:
        with pytest.raises(ValidationError, match=re.escape(problem)):
            ScreenSettings(tile_url=tile_url)


def test_an_officer_in_danger_order_names_the_officer_and_takes_answers() -> None:
    state = _state()
    brief = EmergencyBrief(emergency_id=uuid.uuid4(), unit_id="Alpha-12", call_sign="Alpha 12", raised_at=NOW)
    order = DispatchOrder(
        device_id="cam-7",
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="Bravo-2",
        target=Location(lat=51.51, lon=-0.125),
        area=AREA,
        emergency=brief,
        instructions="Officer down at the market.",
    )
    state.order(order)
    state.order_status(order.dispatch_id, DispatchState.ACCEPTED, delivered=False)
    view = state.view(health=_health(), now=NOW).orders[0]
    assert (view.subject, view.evidence) == (None, None)
    assert view.emergency is not None
    assert (view.emergency.call_sign, view.emergency.unit_id, view.emergency.emergency_id) == (
        "Alpha 12",
        "Alpha-12",
        brief.emergency_id,
    )
    assert view.allowed == [DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]
    assert (view.target.lat, view.target.lon) == (51.51, -0.125)


def test_the_officers_emergency_shows_as_it_changes_and_goes_when_dismissed() -> None:
    state = _state()
    assert state.view(health=_health(), now=NOW).emergency is None
    raised = EmergencyStatus(emergency_id=uuid.uuid4(), raised_at=NOW)
    state.emergency(raised)
    revision = state.revision
    state.emergency(raised)  # shown again unchanged: no change for the page
    assert state.revision == revision
    acknowledged = EmergencyStatus(
        emergency_id=raised.emergency_id,
        raised_at=NOW,
        delivered=True,
        acknowledged_by="Op. Ahmed",
        acknowledged_at=NOW + timedelta(seconds=20),
        message="2 units on their way: B-7, C-3",
    )
    state.emergency(acknowledged)
    view = state.view(health=_health(), now=NOW).emergency
    assert view is not None
    assert (view.emergency_id, view.delivered, view.acknowledged_by, view.acknowledged_at, view.message) == (
        raised.emergency_id,
        True,
        "Op. Ahmed",
        NOW + timedelta(seconds=20),
        "2 units on their way: B-7, C-3",
    )
    assert state.revision > revision
    state.emergency(None)
    assert state.view(health=_health(), now=NOW).emergency is None
