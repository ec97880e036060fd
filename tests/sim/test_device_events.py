"""Events from simulated devices for load tests: valid against the contracts, alerts spread evenly."""

import itertools

import pytest

from vigil.edge.route import haversine_m
from vigil.events import AlertRaised, Position, encode_event, parse_event
from vigil.sim.device_events import LONDON, DeviceEvents, crop_jpeg, is_alert


def test_the_crop_is_a_jpeg_of_about_20_kb() -> None:
    crop = crop_jpeg()
    assert crop.startswith(b"\xff\xd8\xff")
    assert 20_000 <= len(crop) <= 24_000


@pytest.mark.parametrize(("share", "alerts"), [(0.0, 0), (0.05, 50), (0.333, 333), (1.0, 1000)])
def test_alerts_are_spread_evenly_at_the_share_asked(share: float, alerts: int) -> None:
    flags = [is_alert(n, share) for n in range(1000)]
    assert sum(flags) == alerts
    if 0 < share < 1:
        positions = [n for n, f in enumerate(flags) if f]
        gaps = {b - a for a, b in itertools.pairwise(positions)}
        assert max(gaps) - min(gaps) <= 1


def test_a_device_wanders_near_its_start_and_its_events_pass_the_contracts() -> None:
    events = DeviceEvents("load-1", "L-1", seed=3, probe_jpeg=crop_jpeg(2_000))
    positions = [events.position() for _ in range(100)]
    for event in [*positions, events.alert()]:
        assert parse_event(encode_event(event)) == event
    assert all(isinstance(p, Position) for p in positions)
    first, last = (positions[0].lat, positions[0].lon), (positions[-1].lat, positions[-1].lon)
    assert 0 < haversine_m(first, last) < 100
    assert haversine_m(first, LONDON) < 8_000
    alert = events.alert()
    assert isinstance(alert, AlertRaised)
    assert alert.location is not None
    assert haversine_m((alert.location.lat, alert.location.lon), last) < 1
    assert [DeviceEvents("x", "y", seed=3).position().lat for _ in range(2)] == [positions[0].lat] * 2


def test_a_device_without_a_crop_sends_no_alerts() -> None:
    with pytest.raises(ValueError, match="without probe_jpeg"):
        DeviceEvents("load-1", "L-1", seed=0).alert()
