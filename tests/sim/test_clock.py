"""Simulated time, and the ticker that moves the simulated world along."""

import threading
from datetime import UTC, datetime

import pytest

from vigil.sim.clock import ManualClock, ScaledClock
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.ticker import Ticker


class FakeTime:
    def __init__(self) -> None:
        self.wall = 1_700_000_000.0
        self.monotonic = 50.0


def test_a_scaled_clock_starts_at_the_real_time_and_runs_faster() -> None:
    real = FakeTime()
    clock = ScaledClock(10.0, wall=lambda: real.wall, monotonic=lambda: real.monotonic)
    assert clock.now() == 1_700_000_000.0
    real.monotonic += 3.0
    real.wall += 3.5  # a wall-clock step (NTP) does not move simulated time
    assert clock.now() == pytest.approx(1_700_000_030.0)
    confirmed = datetime.fromtimestamp(1_700_000_002.0, UTC)
    assert clock.sim_time_of(confirmed) == pytest.approx(1_700_000_020.0)
    assert clock.real_seconds(30.0) == pytest.approx(3.0)


@pytest.mark.parametrize("speed", [0.0, 0.05, 2000.0, float("nan")])
def test_a_speed_out_of_range_is_refused(speed: float) -> None:
    with pytest.raises(InvalidSimSettings, match=r"0\.1 to 1,000 times"):
        ScaledClock(speed)


def test_a_manual_clock_moves_only_forward_when_told() -> None:
    clock = ManualClock(100.0)
    assert clock.now() == 100.0
    assert clock.advance(2.5) == 102.5
    with pytest.raises(InvalidSimSettings, match="forward"):
        clock.advance(-1)
    assert clock.now() == 102.5


class Actor:
    def __init__(self, *, fails: bool = False) -> None:
        self.ticks = 0
        self.fails = fails
        self.enough = threading.Event()

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks >= 5:
            self.enough.set()
        if self.fails:
            raise RuntimeError("broken actor")


def test_the_ticker_ticks_every_actor_and_one_failure_stops_nobody(caplog: pytest.LogCaptureFixture) -> None:
    broken, healthy = Actor(fails=True), Actor()
    ticker = Ticker([broken, healthy], interval_s=0.01)
    ticker.start()
    assert healthy.enough.wait(5)
    assert broken.enough.wait(5)
    ticker.stop()
    ticks = healthy.ticks
    assert ticker.failures == broken.ticks >= 5
    assert "sim.tick_failed" in caplog.text
    threading.Event().wait(0.05)
    assert healthy.ticks == ticks  # stopped


def test_a_tick_interval_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidSimSettings, match=r"0\.01 to 10 s"):
        Ticker([], interval_s=0.001)
