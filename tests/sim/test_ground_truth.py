"""Alerts held against the cameras' ground truth: the walk each belongs to, wrong alerts, latencies."""

from datetime import UTC, datetime, timedelta

import pytest

from vigil.sim.ground_truth import AlertSeen, match_alerts, median_from_in_view_s
from vigil.sim.street_camera import Appearance

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _walk(number: int, person: str, start_s: float, *, clear_after_s: float | None = 2.0) -> Appearance:
    return Appearance(
        number=number,
        person_id=person,
        start_frame=number * 60,
        stop_frame=number * 60 + 40,
        first_seen_at=T0 + timedelta(seconds=start_s),
        first_seen_frame=number * 60,
        first_clear_at=T0 + timedelta(seconds=start_s + clear_after_s) if clear_after_s is not None else None,
        last_seen_at=T0 + timedelta(seconds=start_s + 4),
        frames_shown=40,
    )


CAMERAS = {
    "cam-1": [
        _walk(0, "obama", 0),
        _walk(1, "biden", 6),
        _walk(2, "obama", 12),
        _walk(3, "rose", 18, clear_after_s=None),
    ],
    "cam-2": [_walk(0, "biden", 0), _walk(1, "obama", 6)],
}


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_each_alert_belongs_to_the_latest_walk_of_its_person_on_its_camera() -> None:
    alerts = [
        AlertSeen("cam-1", "obama", _at(1.5)),
        AlertSeen("cam-1", "obama", _at(13.0)),
        AlertSeen("cam-2", "obama", _at(8.5)),
        AlertSeen("cam-1", "rose", _at(19.0)),
    ]
    verdicts = match_alerts(CAMERAS, alerts)
    assert [v.appearance.number if v.appearance else None for v in verdicts] == [0, 2, 1, 3]
    assert all(v.correct for v in verdicts)
    assert [v.from_in_view_s for v in verdicts] == pytest.approx([1.5, 1.0, 2.5, 1.0])
    assert verdicts[0].from_clear_s == pytest.approx(-0.5)  # decided while the face was still small
    assert verdicts[3].from_clear_s is None  # never clearly in view
    assert median_from_in_view_s(verdicts) == pytest.approx(1.25)


@pytest.mark.parametrize(
    "alert",
    [
        AlertSeen("cam-2", "rose", _at(3.0)),  # never shown on that camera
        AlertSeen("cam-2", "obama", _at(5.0)),  # before the person came into view
        AlertSeen("cam-9", "obama", _at(5.0)),  # a camera with no ground truth
    ],
)
def test_an_alert_for_someone_the_camera_had_not_shown_is_wrong(alert: AlertSeen) -> None:
    (verdict,) = match_alerts(CAMERAS, [alert])
    assert not verdict.correct
    assert verdict.from_in_view_s is None
    assert median_from_in_view_s([verdict]) is None
