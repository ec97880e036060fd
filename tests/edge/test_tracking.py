import pytest

from vigil.edge.tracking import IouTracker
from vigil.vision.detection import Box, Detection


def _at(x: float, y: float = 100, size: float = 60) -> Detection:
    return Detection(Box(x, y, x + size, y + size), 0.9)


def test_a_moving_face_keeps_its_track() -> None:
    tracker = IouTracker()
    ids = []
    for frame in range(30):
        update = tracker.update(frame, [_at(100 + 4 * frame)])
        ids.append(update.seen[0][0].track_id)
    assert set(ids) == {1}
    assert tracker.tracks[0].hits == 30


def test_two_people_crossing_keep_separate_tracks() -> None:
    tracker = IouTracker()
    for frame in range(10):
        update = tracker.update(frame, [_at(100 + 5 * frame, y=50), _at(400 - 5 * frame, y=250)])
        by_y = {detection.box.top: track.track_id for track, detection in update.seen}
        assert by_y == {50: 1, 250: 2}


@pytest.mark.parametrize(
    ("jump", "grows", "same_track"),
    [
        (45, 1.0, True),  # three quarters of its width: boxes hardly overlap (IoU 0.14), a shaken camera
        (60, 1.2, True),  # its whole width, a little nearer
        (75, 1.0, False),  # further than its width: someone else
        (30, 2.0, False),  # twice the size at once: someone else
    ],
)
def test_a_face_that_jumps_without_overlapping_keeps_its_track_if_near_and_alike(
    jump: float, grows: float, same_track: bool
) -> None:
    tracker = IouTracker()
    tracker.update(0, [_at(100)])
    update = tracker.update(1, [_at(100 + jump, size=60 * grows)])
    assert (update.started == []) is same_track


def test_side_by_side_faces_shaken_together_keep_their_own_tracks() -> None:
    tracker = IouTracker()
    shakes = [0, 40, -5, 40, 0, -45]  # jumps of up to 45 px, three quarters of a face
    for frame, shake in enumerate(shakes):
        update = tracker.update(frame, [_at(100 + shake), _at(300 + shake)])
        by_left = {detection.box.left - shake: track.track_id for track, detection in update.seen}
        assert by_left == {100: 1, 300: 2}


def test_a_track_survives_short_gaps_and_ends_after_long_ones() -> None:
    tracker = IouTracker(max_missed_frames=3)
    tracker.update(0, [_at(100)])
    assert tracker.update(3, [_at(102)]).seen[0][0].track_id == 1  # missed frames 1–2: still the same person
    assert tracker.update(5, []).ended == []
    ended = tracker.update(7, []).ended
    assert [t.track_id for t in ended] == [1]
    assert tracker.update(8, [_at(102)]).started[0].track_id == 2


def test_end_all_returns_live_tracks() -> None:
    tracker = IouTracker()
    tracker.update(0, [_at(100), _at(300)])
    assert sorted(t.track_id for t in tracker.end_all()) == [1, 2]
    assert tracker.tracks == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_iou": 0}, "min_iou"),
        ({"max_missed_frames": -1}, "max_missed"),
        ({"max_shift": -0.1}, "max_shift"),
        ({"max_size_change": 0.9}, "max_size_change"),
    ],
)
def test_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IouTracker(**kwargs)  # type: ignore[arg-type]
