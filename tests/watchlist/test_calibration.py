from pathlib import Path

import numpy as np
import pytest

from vigil.vision.engine import FaceEngine
from vigil.watchlist.calibration import calibrate, distances_from_identities
from vigil.watchlist.errors import CalibrationError


def test_empirical_threshold_meets_the_target_on_a_large_set() -> None:
    rng = np.random.default_rng(0)
    impostor = rng.normal(0.9, 0.07, 2_000_000)
    genuine = rng.normal(0.4, 0.06, 5_000)
    report = calibrate(genuine=genuine, impostor=impostor, watchlist_size=10, target_false_alerts_per_10k=10)
    # p = 1 − (1 − 0.001)^(1/10) ≈ 1.0005e-4: 200 impostor pairs may fall within the threshold.
    assert report.per_comparison_false_match_rate == pytest.approx(1.0005e-4, rel=1e-3)
    assert report.method == "empirical"
    assert np.sum(impostor <= report.threshold) <= 200
    assert np.sum(impostor <= np.nextafter(report.threshold, 1) + 1e-3) > 200
    assert report.expected_false_alerts_per_10k_faces <= 10.0
    assert report.expected_false_alerts_per_10k_faces == pytest.approx(10.0, rel=0.1)
    assert report.true_match_rate == 1.0
    assert report.warnings == []


def test_small_sets_fall_back_to_a_normal_fit_and_say_so() -> None:
    impostor = np.array([0.80, 0.85, 0.90, 0.95, 1.00])  # mean 0.9, sample std 0.0791
    genuine = np.array([0.3, 0.35, 0.62])
    report = calibrate(genuine=genuine, impostor=impostor, watchlist_size=1000, target_false_alerts_per_10k=1)
    # p = 1 − (1 − 1e-4)^(1/1000) ≈ 1.0e-7; z(1e-7) = −5.199; 0.9 − 5.199 × 0.0791 = 0.4889.
    assert report.method == "normal_fit"
    assert report.threshold == pytest.approx(0.4889, abs=5e-4)
    assert report.expected_false_alerts_per_10k_faces == pytest.approx(1.0, rel=1e-3)
    assert report.one_false_alert_in_faces == pytest.approx(10_000, rel=1e-3)
    assert report.true_match_rate == pytest.approx(2 / 3)
    assert "normal fit" in report.warnings[0]


def test_a_larger_watchlist_needs_a_stricter_threshold() -> None:
    impostor = np.random.default_rng(1).normal(0.9, 0.07, 500)
    thresholds = [
        calibrate(genuine=np.array([0.4]), impostor=impostor, watchlist_size=n).threshold for n in (1_000, 10_000)
    ]
    assert thresholds[1] < thresholds[0]


@pytest.mark.parametrize(
    ("impostor", "size", "target", "message"),
    [
        (np.array([0.9, 0.8]), 10, 1.0, "too few to calibrate"),
        (np.array([0.9, 0.8, 0.7]), 0, 1.0, "at least 1"),
        (np.array([0.9, 0.8, 0.7]), 10, 0.0, "between 0 and 10,000"),
    ],
)
def test_refusals(impostor: np.ndarray, size: int, target: float, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        calibrate(genuine=np.array([0.3]), impostor=impostor, watchlist_size=size, target_false_alerts_per_10k=target)


def test_distances_from_the_test_identities(hog_engine: FaceEngine, testdata: Path) -> None:
    labelled = distances_from_identities(hog_engine, testdata / "identities" / "train")
    assert labelled.identities == 5
    assert labelled.photos == 9
    # Pairs within a person: obama 1, biden 1, kit 1, rose 1; every other pair is different people.
    assert len(labelled.genuine) == 4
    assert len(labelled.impostor) == 9 * 8 // 2 - 4
    assert max(labelled.genuine) < min(labelled.impostor)


def test_identities_folder_needs_two_people(hog_engine: FaceEngine, testdata: Path) -> None:
    with pytest.raises(CalibrationError, match="at least two people"):
        distances_from_identities(hog_engine, testdata / "identities" / "train" / "obama")
