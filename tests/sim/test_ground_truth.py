"""Alerts held against the cameras' ground truth: the walk each belongs to, wrong alerts, latencies."""

from datetime import UTC, datetime, timedelta

import pytest

from vigil.sim.ground_truth import AlertSeen, in_view_when_seen, match_alerts, median_from_in_view_s
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


@pytest.mark.parametrize(
    ("seen_s", "alert_s", "in_view"),
    [
        (1.0, 2.0, True),  # obama's first walk (0–4 s), seen and alerted during it
        (5.5, 6.5, True),  # just after the walk, within the margin
        (7.0, 8.0, False),  # biden walks past (6–10 s): obama's earlier walk does not make it right
        (-2.5, 1.0, False),  # seen before the walk began, beyond the margin
    ],
)
def test_an_alert_is_right_only_when_its_person_was_in_view_as_the_device_saw_the_face(
    seen_s: float, alert_s: float, in_view: bool
) -> None:
    (verdict,) = match_alerts(CAMERAS, [AlertSeen("cam-1", "obama", _at(alert_s))])
    assert in_view_when_seen(verdict, _at(seen_s)) is in_view


def test_a_wrong_alert_is_never_in_view() -> None:
    (verdict,) = match_alerts(CAMERAS, [AlertSeen("cam-2", "rose", _at(3.0))])
    assert not in_view_when_seen(verdict, _at(2.0))
