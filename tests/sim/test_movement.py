"""An officer's movement as a position source: routes in simulated time, fixes stamped with the real time."""

from datetime import UTC, datetime

import pytest

from vigil.edge.position import SourceAlreadyStarted
from vigil.edge.route import haversine_m
from vigil.sim.city import StreetRoute
from vigil.sim.clock import ManualClock
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.movement import StreetMovement

WHITEHALL = StreetRoute(points=((51.50738, -0.12770), (51.50110, -0.12600)), length_m=707.0)
REAL_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_route_is_followed_in_simulated_time_and_fixes_carry_the_real_time() -> None:
    clock = ManualClock()
    movement = StreetMovement(WHITEHALL.points[0], clock=clock, wall=lambda: REAL_NOW)
    movement.follow(WHITEHALL, speed_mps=10.0, loop=False)
    assert movement.latest() is None  # nothing before start
    assert movement.arrival == float("inf")
    movement.start()
    route_m = haversine_m(*WHITEHALL.points)
    assert movement.arrival == pytest.approx(clock.now() + route_m / 10.0)
    clock.advance(30)
    fix = movement.latest()
    assert fix is not None
    assert fix.at == REAL_NOW
    assert fix.speed_mps == 10.0
    assert fix.source == "sim"
    assert fix.heading_deg == pytest.approx(171, abs=2)  # south down Whitehall
    assert haversine_m(WHITEHALL.points[0], (fix.lat, fix.lon)) == pytest.approx(300, abs=0.5)
    clock.advance(60)
    arrived = movement.latest()
    assert arrived is not None
    assert (arrived.lat, arrived.lon, arrived.speed_mps) == (*WHITEHALL.points[1], 0.0)
    with pytest.raises(SourceAlreadyStarted):
        movement.start()
    movement.stop()
    assert movement.latest() is None
    assert movement.where() == WHITEHALL.points[1]


def test_standing_still_reports_where_the_officer_stopped() -> None:
    clock = ManualClock()
    movement = StreetMovement(WHITEHALL.points[0], clock=clock)
    movement.start()
    movement.follow(WHITEHALL, speed_mps=2.0, loop=True)
    clock.advance(50)
    movement.stand()
    clock.advance(50)
    fix = movement.latest()
    assert fix is not None
    assert fix.speed_mps == 0.0
    assert fix.heading_deg is None
    assert haversine_m(WHITEHALL.points[0], (fix.lat, fix.lon)) == pytest.approx(100, abs=0.5)
    assert movement.arrival == float("inf")


def test_a_route_of_one_point_is_arrived_at_once() -> None:
    clock = ManualClock()
    movement = StreetMovement(WHITEHALL.points[0], clock=clock)
    movement.start()
    movement.follow(StreetRoute(points=(WHITEHALL.points[1],), length_m=0.0), speed_mps=1.4, loop=False)
    assert movement.arrival == clock.now()
    assert movement.where() == WHITEHALL.points[1]


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan")])
def test_a_speed_must_be_positive(speed: float) -> None:
    movement = StreetMovement(WHITEHALL.points[0], clock=ManualClock())
    with pytest.raises(InvalidSimSettings, match="positive"):
        movement.follow(WHITEHALL, speed_mps=speed, loop=False)
