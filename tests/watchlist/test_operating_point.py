from pathlib import Path

import numpy as np
import pytest

from tests.watchlist.conftest import make_subject
from vigil.vision.face_model import DLIB_MODEL_ID, ManifestOperatingPoint
from vigil.watchlist.operating_point import (
    DLIB_TABLE,
    MEASURED,
    OperatingPoint,
    OperatingTable,
    table_for,
    threshold_for_size,
)
from vigil.watchlist.store import WatchlistStore
from vigil.watchlist.subject import Template


def test_the_measured_sizes_give_their_own_thresholds() -> None:
    for point in MEASURED:
        assert threshold_for_size(point.watchlist_size) == point.threshold


def test_a_larger_watchlist_never_gets_a_looser_threshold() -> None:
    sizes = [1, 2, 4, 7, 20, 64, 150, 500, 999, 1000, 2000, 3000, 10_000, 100_000, 10**9]
    thresholds = [threshold_for_size(size) for size in sizes]
    assert thresholds == sorted(thresholds, reverse=True)
    assert threshold_for_size(0) == threshold_for_size(1)  # an empty watchlist searches like a one-person one
    assert threshold_for_size(10**9) == 0.1  # extrapolated, never to nothing
    # Between two measured sizes, on log W: halfway between 100 and 1,000 lies 316.
    middle = threshold_for_size(316)
    assert threshold_for_size(300) > middle > threshold_for_size(1000)


@pytest.mark.parametrize(
    ("size", "threshold"),
    [
        # What threshold_for_size gave before it was made per model (git show ee0bfe2:…/operating_point.py).
        (4, 0.44481882868943784),
        (20, 0.4065647065835709),
        (316, 0.35510960856553725),
        (999, 0.3265248468735063),
        (3000, 0.29921657024714343),
        (10_000, 0.2693165702471434),
    ],
)
def test_dlib_keeps_the_thresholds_it_had(size: int, threshold: float) -> None:
    assert threshold_for_size(size) == threshold
    assert table_for(DLIB_MODEL_ID).threshold_for_size(size) == threshold
    assert (
        table_for(
            DLIB_MODEL_ID,
            [ManifestOperatingPoint(watchlist_size=1, threshold=0.9, false_alerts_per_10k=1, true_match_rate=0.9)],
        )
        is DLIB_TABLE
    )  # dlib's table ships; a manifest cannot replace it


def test_at_its_own_threshold_a_measured_size_expects_what_was_measured() -> None:
    expected = DLIB_TABLE.expected_at(1000, threshold_for_size(1000))
    assert (expected.false_alerts_per_10k, expected.true_match_rate, expected.measured) == (1.0, 0.065, True)
    assert not expected.false_alerts_at_most
    assert not expected.true_match_at_least
    assert expected.sentence == (
        "At 1,000 people this threshold expects 1.0 false alert per 10,000 faces and finds 6 % of the people on it "
        "(single photos)"
    )
    between = DLIB_TABLE.expected_at(316, threshold_for_size(316))
    assert between.measured
    assert 0.065 < (between.true_match_rate or 0) < 0.155  # interpolated on log W between 300 and 1,000


def test_a_stricter_threshold_expects_at_most_the_target_and_a_share_found_from_larger_watchlists() -> None:
    expected = DLIB_TABLE.expected_at(10, 0.39)  # 0.418 at 10 people; 0.39 lies between 30's 0.400 and 100's 0.383
    assert (expected.false_alerts_per_10k, expected.false_alerts_at_most) == (1.0, True)
    assert expected.true_match_at_least
    # Linear in the threshold between 30 people (0.3997: 0.312) and 100 (0.3827: 0.271).
    assert expected.true_match_rate == pytest.approx(0.312 + (0.39 - 0.3997) / (0.3827 - 0.3997) * (0.271 - 0.312))
    assert not expected.measured
    assert expected.sentence.startswith(
        "At 10 people this threshold expects at most 1.0 false alert per 10,000 faces and finds about 29 % or more "
    )
    beyond = DLIB_TABLE.expected_at(10, 0.2)  # stricter than any threshold measured: the share found is not known
    assert (beyond.false_alerts_per_10k, beyond.true_match_rate) == (1.0, None)
    assert "the share of the people on it found was not measured" in beyond.sentence


def test_a_looser_threshold_or_a_larger_watchlist_gets_bounds_only() -> None:
    # 0.40 is within the target at 10 people (0.418), not at 30: 1,000 people are at most 100 groups of 10.
    looser = DLIB_TABLE.expected_at(1000, 0.40)
    assert (looser.false_alerts_per_10k, looser.false_alerts_at_most, looser.measured) == (100.0, True, False)
    assert looser.true_match_rate == 0.065  # a looser threshold finds at least what the size's own does
    # Beyond 1,000 people the threshold is extrapolated: all that is known is 3 groups of 1,000.
    larger = DLIB_TABLE.expected_at(3000, threshold_for_size(3000))
    assert (larger.false_alerts_per_10k, larger.true_match_rate, larger.measured) == (3.0, None, False)
    assert "beyond the largest watchlist measured (1,000 people)" in larger.note
    unknown = DLIB_TABLE.expected_at(1, 0.6)  # looser than anything measured
    assert (unknown.false_alerts_per_10k, unknown.true_match_rate) == (None, 0.646)


ARCFACE = "arcface_r50:2:abababababab"


def test_a_manifest_gives_its_own_table() -> None:
    points = [
        ManifestOperatingPoint(watchlist_size=10, threshold=1.10, false_alerts_per_10k=0.8, true_match_rate=0.97),
        ManifestOperatingPoint(watchlist_size=1000, threshold=1.00, false_alerts_per_10k=1.0, true_match_rate=0.90),
    ]
    table = table_for(ARCFACE, points, distance_threshold=1.2)
    assert table.calibrated
    assert table.threshold_for_size(10) == 1.10
    assert table.threshold_for_size(100) == pytest.approx(1.05)  # halfway on log W
    assert table.threshold_for_size(3) == 1.10  # below the smallest size measured: its threshold
    middle = table.expected_at(100, table.threshold_for_size(100))
    assert middle.measured
    assert middle.false_alerts_per_10k == pytest.approx(0.9)
    assert middle.true_match_rate == pytest.approx(0.935)
    small = table.expected_at(3, 1.10)  # fewer people than measured: bounds
    assert (small.false_alerts_per_10k, small.false_alerts_at_most, small.measured) == (0.8, True, False)
    assert "below the smallest watchlist measured (10 people)" in small.note


def test_a_manifest_without_operating_points_runs_at_its_threshold_unmeasured() -> None:
    table = table_for(ARCFACE, distance_threshold=1.2)
    assert not table.calibrated
    assert table.threshold_for_size(1) == table.threshold_for_size(100_000) == 1.2
    expected = table.expected_at(500, 1.2)
    assert (expected.false_alerts_per_10k, expected.true_match_rate, expected.measured) == (None, None, False)
    assert expected.note.startswith("not measured: arcface_r50:2:abababababab has no measured operating points")
    assert expected.sentence.startswith("At 500 people what this threshold does was not measured (arcface_r50")
    assert "vigil calibrate --model" in expected.sentence


@pytest.mark.parametrize(
    ("points", "uncalibrated", "message"),
    [
        ((), None, "measured points or one uncalibrated threshold"),
        ((OperatingPoint(1, 0.5, 0.5),), 0.5, "measured points or one uncalibrated threshold"),
        ((OperatingPoint(10, 0.5, 0.5), OperatingPoint(5, 0.4, 0.4)), None, "increasing"),
        ((OperatingPoint(1, 2.5, 0.5),), None, r"\(0, 2\]"),
    ],
)
def test_a_table_refuses_what_cannot_be_a_table(
    points: tuple[OperatingPoint, ...], uncalibrated: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OperatingTable(ARCFACE, points, uncalibrated_threshold=uncalibrated)
    with pytest.raises(ValueError, match="give its manifest's operating points or threshold"):
        table_for(ARCFACE)


def _template(subject_id: str) -> Template:
    return Template(subject_id, np.zeros(128, dtype=np.float32), b"\xff\xd8\xff", 0.9, DLIB_MODEL_ID)


@pytest.mark.parametrize("people", [1, 3, 12])
def test_a_watchlist_left_to_its_size_follows_its_live_subjects(tmp_path: Path, people: int) -> None:
    with WatchlistStore.create(tmp_path / "w.sqlite", name="Op") as store:
        assert store.chosen_threshold is None
        for number in range(people):
            subject_id = f"s{number}"
            store.add(make_subject(subject_id), [_template(subject_id)])
            store.approve(subject_id, approver="sgt.jones")
        assert store.operating_threshold(DLIB_TABLE) == pytest.approx(threshold_for_size(people))
        store.set_threshold(0.4)
        assert store.operating_threshold(DLIB_TABLE) == 0.4
        store.set_threshold(None)
        assert store.operating_threshold(DLIB_TABLE) == pytest.approx(threshold_for_size(people))
