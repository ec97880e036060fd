"""Simulated officers in simulated time: patrols along the streets, and answers through the handset's order flow.

Orders reach the officer through the edge agent's real downlink, answers leave through the real order book into a
real outbox: only the bus is left out (the end-to-end test in ``test_officer_on_the_bus.py`` adds it).
"""

import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vigil.bus.protocol import Message
from vigil.dispatch.unit import UnitKind
from vigil.edge.downlink import Downlink
from vigil.edge.orders import OrderBook, Verifications
from vigil.edge.outbox import Outbox
from vigil.edge.route import Point, haversine_m
from vigil.events import (
    AlertVerified,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    EmergencyBrief,
    IdentityVerdict,
    Location,
    MatchEvidence,
    SubjectBrief,
    encode_event,
    parse_event,
    topic_for,
    utc_now,
)
from vigil.sim.city import City
from vigil.sim.clock import ManualClock
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.london import central_london
from vigil.sim.officer import BUSY_REASON, Activity, OfficerBehaviour, SimulatedOfficer

DEVICE = "radio-7"
AREA = {"type": "Polygon", "coordinates": [[[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.50]]]}
# Timings with no randomness in them, so that the tests can say exactly when each step happens.
STEADY = OfficerBehaviour(
    answer_min_s=4, answer_max_s=4, decline_probability=0, set_off_s=3, on_scene_min_s=60, on_scene_max_s=60
)


@pytest.fixture(scope="module")
def city() -> City:
    return City(central_london())


@dataclass
class Handset:
    """The parts of an edge agent an officer's taps and orders pass through, without the bus."""

    book: OrderBook
    verifications: Verifications
    outbox: Outbox
    downlink: Downlink

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        return self.book.answer(dispatch_id, status, reason=reason)

    def verify(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict) -> AlertVerified:
        return self.verifications.verify(dispatch_id, verdict)

    def deliver(self, event: DispatchOrder | DispatchCancelled) -> None:
        """Control's message arrives, as the bus hands it to the downlink."""
        self.downlink(Message(topic_for(event), encode_event(event)))

    def sent(self) -> list[tuple[DispatchState, str]]:
        answers = [parse_event(item.payload) for item in self.outbox.oldest(limit=100)]
        return [(a.status, a.reason) for a in answers if isinstance(a, DispatchStatus)]

    def verdicts(self) -> list[AlertVerified]:
        events = [parse_event(item.payload) for item in self.outbox.oldest(limit=100)]
        return [event for event in events if isinstance(event, AlertVerified)]


@dataclass
class Scene:
    clock: ManualClock
    officer: SimulatedOfficer
    handset: Handset

    def run(self, seconds: float, *, step_s: float = 1.0) -> list[Point]:
        """Tick through ``seconds`` of simulated time; where the officer was after each step."""
        where = []
        for _ in range(round(seconds / step_s)):
            self.clock.advance(step_s)
            self.officer.tick()
            where.append(self.officer.movement.where())
        return where


MakeScene = Callable[..., Scene]


@pytest.fixture
def make_scene(city: City, tmp_path: Path) -> Iterator[MakeScene]:
    outboxes: list[Outbox] = []

    def make(
        *,
        kind: UnitKind = UnitKind.FOOT,
        behaviour: OfficerBehaviour = STEADY,
        seed: int = 0,
        start: Point | None = None,
    ) -> Scene:
        clock = ManualClock()
        officer = SimulatedOfficer(
            unit_id="Bravo-2",
            kind=kind,
            city=city,
            clock=clock,
            behaviour=behaviour,
            rng=random.Random(seed),
            start=start,
        )
        outbox = Outbox(tmp_path / f"outbox-{len(outboxes)}.sqlite")
        outboxes.append(outbox)
        book = OrderBook(device_id=DEVICE, emit=outbox.put)
        downlink = Downlink(
            device_id=DEVICE, outbox=outbox, orders=book, notifiers=[officer], on_watchlist=lambda event: None
        )
        verifications = Verifications(orders=book, device_id=DEVICE, unit_id="Bravo-2", emit=outbox.put)
        handset = Handset(book=book, verifications=verifications, outbox=outbox, downlink=downlink)
        officer.attach(handset)
        officer.movement.start()
        return Scene(clock=clock, officer=officer, handset=handset)

    yield make
    for outbox in outboxes:
        outbox.close()


def _order(
    target: Point, *, dispatch_id: uuid.UUID | None = None, revision: int = 1, verified_by: str | None = None
) -> DispatchOrder:
    return DispatchOrder(
        device_id=DEVICE,
        dispatch_id=dispatch_id or uuid.uuid4(),
        incident_id=uuid.uuid4(),
        revision=revision,
        unit_id="Bravo-2",
        target=Location(lat=target[0], lon=target[1]),
        area=AREA,
        subject=SubjectBrief(subject_id="s1", name="A Person", category="wanted_on_warrant"),
        evidence=MatchEvidence(
            alert_id=uuid.uuid4(),
            seen_at=utc_now(),
            distance=0.4,
            threshold=0.5,
            probe_jpeg=b"\xff\xd8\xff\xe0",
            confirmed_by="op.ahmed",
            verified_by=verified_by,
        ),
    )


def _path_length_m(points: list[Point]) -> float:
    return sum(haversine_m(a, b) for a, b in itertools.pairwise(points))


# --- patrol ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "low", "high"), [(UnitKind.FOOT, 1.4, 1.4), (UnitKind.CAR, 8.0, 12.0)])
def test_officers_patrol_at_their_pace_from_a_random_start(
    make_scene: MakeScene, kind: UnitKind, low: float, high: float
) -> None:
    scene = make_scene(kind=kind, seed=3)
    assert low <= scene.officer.speed_mps <= high
    fix = scene.officer.movement.latest()
    assert fix is not None
    assert fix.source == "sim"
    assert fix.at.tzinfo is not None
    where = [scene.officer.movement.where(), *scene.run(60)]
    assert _path_length_m(where) == pytest.approx(60 * scene.officer.speed_mps, rel=0.05)  # corners cut a little
    assert scene.officer.activity is Activity.PATROLLING
    assert scene.handset.sent() == []


def test_the_same_seed_gives_the_same_shift(make_scene: MakeScene) -> None:
    first, second = make_scene(seed=11), make_scene(seed=11)
    other = make_scene(seed=12)
    assert first.run(30) == second.run(30)
    assert other.run(30) != first.run(30)


# --- a dispatch from order to clear ------------------------------------------------------------------------------


def test_an_order_is_accepted_followed_along_the_streets_and_cleared(make_scene: MakeScene, city: City) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["charing_cross"])
    target = points["parliament_square_ne"]
    route_m = city.route(points["charing_cross"], target, kind=UnitKind.FOOT).length_m
    scene.run(10)  # patrolling somewhere near Charing Cross
    order = _order(target)
    scene.handset.deliver(order)

    scene.run(4)  # the order is read at the first tick, then 4 s to answer it
    assert scene.officer.activity is Activity.CONSIDERING
    scene.run(1)
    assert scene.handset.sent() == [(DispatchState.ACCEPTED, "")]
    scene.run(2)
    assert scene.officer.activity is Activity.ACCEPTED
    scene.run(1)
    assert scene.handset.sent()[-1] == (DispatchState.EN_ROUTE, "")
    setting_off = scene.officer.movement.where()
    expected_s = city.route(setting_off, target, kind=UnitKind.FOOT).length_m / 1.4
    assert expected_s < (route_m + 10 * 1.4 + 20) / 1.4  # from where the patrol had got to

    travelled = scene.run(expected_s - 2)
    assert scene.officer.activity is Activity.EN_ROUTE
    assert haversine_m(travelled[-1], target) > 1
    scene.run(3)
    assert scene.officer.activity is Activity.ON_SCENE
    assert scene.handset.sent()[-1] == (DispatchState.ON_SCENE, "")
    assert haversine_m(scene.officer.movement.where(), target) < 0.5
    fix = scene.officer.movement.latest()
    assert fix is not None
    assert fix.speed_mps == 0.0

    scene.run(59)
    assert scene.officer.activity is Activity.ON_SCENE
    scene.run(1)
    assert [status for status, _ in scene.handset.sent()] == [
        DispatchState.ACCEPTED,
        DispatchState.EN_ROUTE,
        DispatchState.ON_SCENE,
        DispatchState.CLEARED,
    ]
    assert scene.officer.activity is Activity.PATROLLING
    walking = scene.run(20)
    assert _path_length_m(walking) == pytest.approx(20 * 1.4, rel=0.1)  # back on patrol from the scene
    answers = scene.officer.answers
    assert [a.dispatch_id for a in answers] == [order.dispatch_id] * 4
    assert answers[2].sim_time - answers[1].sim_time == pytest.approx(expected_s, abs=1.5)
    assert haversine_m(answers[2].where, target) < 0.5


def test_a_newer_revision_sends_the_officer_to_the_moved_target(make_scene: MakeScene, city: City) -> None:
    points = city.street_map.points
    scene = make_scene(kind=UnitKind.CAR, start=points["cenotaph"])
    first = _order(points["trafalgar_ne"])
    scene.handset.deliver(first)
    scene.run(10)  # accepted, en route towards Trafalgar Square
    moved = points["westminster_bridge_east"]
    scene.handset.deliver(_order(moved, dispatch_id=first.dispatch_id, revision=2))
    scene.handset.deliver(first)  # a redelivery of the old revision changes nothing
    scene.run(300)
    on_scene = [a for a in scene.officer.answers if a.status is DispatchState.ON_SCENE]
    assert len(on_scene) == 1
    assert haversine_m(on_scene[0].where, moved) < 1
    assert [status for status, _ in scene.handset.sent()] == [
        DispatchState.ACCEPTED,
        DispatchState.EN_ROUTE,
        DispatchState.ON_SCENE,
        DispatchState.CLEARED,
    ]


def test_a_moved_target_after_arrival_sends_the_officer_on_without_a_second_on_scene(
    make_scene: MakeScene, city: City
) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["horse_guards"])
    first = _order(points["downing_street"])
    scene.handset.deliver(first)
    scene.run(160)  # 8 s to set off, about 125 s on the way, then 60 s on scene
    assert scene.officer.activity is Activity.ON_SCENE
    moved = points["cenotaph"]
    scene.handset.deliver(_order(moved, dispatch_id=first.dispatch_id, revision=2))
    scene.run(2)
    assert scene.officer.activity is Activity.EN_ROUTE
    scene.run(60)
    assert haversine_m(scene.officer.movement.where(), moved) < 0.5
    assert scene.officer.activity is Activity.ON_SCENE
    assert [status for status, _ in scene.handset.sent()] == [
        DispatchState.ACCEPTED,
        DispatchState.EN_ROUTE,
        DispatchState.ON_SCENE,
    ]


# --- the second verification -----------------------------------------------------------------------------------


def test_on_scene_the_officer_verifies_the_match_once_through_the_handset(make_scene: MakeScene, city: City) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["horse_guards"])
    order = _order(points["downing_street"])
    scene.handset.deliver(order)
    scene.run(140)  # 8 s to set off, about 125 s on the way
    assert scene.officer.activity is Activity.ON_SCENE
    assert order.evidence is not None
    verdicts = scene.handset.verdicts()
    assert [(v.verdict, v.alert_id, v.dispatch_id, v.unit_id) for v in verdicts] == [
        (IdentityVerdict.SAME_PERSON, order.evidence.alert_id, order.dispatch_id, "Bravo-2")
    ]
    assert [v.dispatch_id for v in scene.officer.verdicts] == [order.dispatch_id]
    scene.handset.deliver(_order(points["cenotaph"], dispatch_id=order.dispatch_id, revision=2))
    scene.run(60)  # sent on to the moved target, on scene there again: no second verdict
    assert scene.officer.activity is Activity.ON_SCENE
    assert scene.handset.verdicts() == verdicts


@pytest.mark.parametrize("kind", ["verified by two people", "officer in danger"])
def test_no_verdict_where_there_is_nothing_to_verify(make_scene: MakeScene, city: City, kind: str) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["horse_guards"])
    if kind == "verified by two people":
        order = _order(points["downing_street"], verified_by="Sgt Okafor")
    else:
        order = DispatchOrder(
            device_id=DEVICE,
            dispatch_id=uuid.uuid4(),
            incident_id=uuid.uuid4(),
            unit_id="Bravo-2",
            target=Location(lat=points["downing_street"][0], lon=points["downing_street"][1]),
            area=AREA,
            emergency=EmergencyBrief(
                emergency_id=uuid.uuid4(), unit_id="A-12", call_sign="Alpha 12", raised_at=utc_now()
            ),
        )
    scene.handset.deliver(order)
    scene.run(140)
    assert scene.officer.activity is Activity.ON_SCENE
    assert scene.handset.verdicts() == []
    assert scene.officer.verdicts == []


# --- declines and stand-downs ----------------------------------------------------------------------------------


def test_an_officer_who_declines_gives_one_of_the_reasons_and_keeps_patrolling(make_scene: MakeScene) -> None:
    behaviour = STEADY.model_copy(update={"decline_probability": 1.0, "decline_reasons": ("at the hospital",)})
    scene = make_scene(behaviour=behaviour)
    scene.handset.deliver(_order(scene.officer.movement.where()))
    scene.run(5)
    assert scene.handset.sent() == [(DispatchState.DECLINED, "at the hospital")]
    assert scene.officer.activity is Activity.PATROLLING
    assert _path_length_m(scene.run(10)) > 10


def test_declines_happen_at_the_configured_rate_and_the_same_ones_for_the_same_seed(make_scene: MakeScene) -> None:
    behaviour = STEADY.model_copy(update={"decline_probability": 0.3})

    def declined(seed: int) -> list[bool]:
        outcomes = []
        for _ in range(40):
            scene = make_scene(behaviour=behaviour, seed=seed)
            seed += 1000
            scene.handset.deliver(_order(scene.officer.movement.where()))
            scene.run(5)
            outcomes.append(scene.handset.sent()[0][0] is DispatchState.DECLINED)
        return outcomes

    first = declined(1)
    assert 4 <= sum(first) <= 20
    assert declined(1) == first


def test_an_officer_busy_with_one_order_declines_another(make_scene: MakeScene, city: City) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["charing_cross"])
    first, second = _order(points["parliament_square_ne"]), _order(points["cambridge_circus"])
    scene.handset.deliver(first)
    scene.run(10)
    scene.handset.deliver(second)
    scene.run(5)
    assert scene.handset.book.state(second.dispatch_id) is DispatchState.DECLINED
    assert scene.handset.book.state(first.dispatch_id) is DispatchState.EN_ROUTE
    assert (DispatchState.DECLINED, BUSY_REASON) in scene.handset.sent()
    assert scene.officer.activity is Activity.EN_ROUTE


@pytest.mark.parametrize("after_s", [2, 10])  # before the officer has answered, and on the way
def test_a_stand_down_ends_the_order_at_once(make_scene: MakeScene, city: City, after_s: int) -> None:
    points = city.street_map.points
    scene = make_scene(start=points["charing_cross"])
    order = _order(points["parliament_square_ne"])
    scene.handset.deliver(order)
    scene.run(after_s)
    answered = scene.handset.sent()
    scene.handset.deliver(DispatchCancelled(device_id=DEVICE, dispatch_id=order.dispatch_id, reason="subject gone"))
    scene.run(600)
    assert scene.handset.sent() == answered
    assert len(answered) == (0 if after_s < 4 else 2)
    assert scene.officer.activity is Activity.PATROLLING


def test_a_stand_down_racing_the_tap_leaves_the_officer_on_patrol(make_scene: MakeScene, city: City) -> None:
    """Control stands the unit down after the officer saw the order but before the tap: the handset refuses it."""
    scene = make_scene()
    order = _order(city.street_map.points["cenotaph"])
    scene.handset.deliver(order)
    scene.run(1)
    scene.handset.book.cancel(DispatchCancelled(device_id=DEVICE, dispatch_id=order.dispatch_id))  # not yet shown
    scene.run(10)
    assert scene.handset.sent() == []
    assert scene.officer.activity is Activity.PATROLLING


def test_an_officer_without_a_handset_cannot_answer(city: City) -> None:
    clock = ManualClock()
    officer = SimulatedOfficer(
        unit_id="X", kind=UnitKind.FOOT, city=city, clock=clock, behaviour=STEADY, rng=random.Random(0)
    )
    officer.order(_order(city.centre))
    officer.tick()
    clock.advance(5)
    with pytest.raises(InvalidSimSettings, match="no handset"):
        officer.tick()


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"answer_min_s": 10, "answer_max_s": 5}, "answer_min_s"),
        ({"vehicle_min_speed_mps": 13}, "vehicle_min_speed_mps"),
        ({"decline_probability": 1.5}, "less than or equal to 1"),
        ({"decline_reasons": ()}, "at least 1 item"),
    ],
)
def test_behaviour_out_of_range_is_refused(update: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OfficerBehaviour.model_validate({**STEADY.model_dump(), **update})
