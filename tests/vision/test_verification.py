import json
from pathlib import Path

import numpy as np
import pytest

from vigil.vision.verification import FailedPair, VerificationReport, summarise_verification

# The float just below 0.5: 0.5 = 2**-1, and floats in [0.25, 0.5) are 2**-54 apart.
JUST_BELOW_HALF = 0.5 - 2**-54


def distances(*values: float) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    return np.array(values, dtype=np.float64)


def failure(*, same: bool, name: str = "x") -> FailedPair:
    return FailedPair(
        first=Path(f"{name}1.jpg"),
        second=Path(f"{name}2.jpg"),
        same=same,
        reason="no face found",
    )


def summarise(
    genuine: tuple[float, ...],
    impostor: tuple[float, ...],
    *,
    failed: tuple[FailedPair, ...] = (),
    default_threshold: float = 0.6,
    far_targets: tuple[float, ...] = (0.0, 0.001, 0.01),
) -> VerificationReport:
    return summarise_verification(
        genuine_distances=distances(*genuine),
        impostor_distances=distances(*impostor),
        failed=list(failed),
        total_pairs=len(genuine) + len(impostor) + len(failed),
        default_threshold=default_threshold,
        far_targets=far_targets,
    )


def test_worked_example() -> None:
    # genuine 0.1 0.2 0.3 0.7, impostor 0.5 0.8 0.9.
    report = summarise((0.1, 0.2, 0.3, 0.7), (0.5, 0.8, 0.9))
    assert (report.pairs, report.genuine, report.impostor, report.failed) == (7, 4, 3, [])
    # FAR moves in steps of 1/3, so every target up to 0.01 is met only at FAR 0: the threshold is just
    # below the smallest impostor (0.5), which accepts the genuine 0.1, 0.2, 0.3: TAR = 3/4.
    assert report.tar_at_far == {"0": 0.75, "0.001": 0.75, "0.01": 0.75}
    assert report.threshold_at_far == {
        "0": JUST_BELOW_HALF,
        "0.001": JUST_BELOW_HALF,
        "0.01": JUST_BELOW_HALF,
    }
    assert report.threshold_at_far_0_001 == JUST_BELOW_HALF
    # Sweep:   t    FAR   FRR   |FAR-FRR|
    #         0.1   0     3/4   3/4
    #         0.2   0     2/4   1/2
    #         0.3   0     1/4   1/4
    #         0.5   1/3   1/4   1/12   <- closest
    #         0.7   1/3   0     1/3
    #         0.8   2/3   0     2/3
    #         0.9   1     0     1
    # EER = (1/3 + 1/4) / 2 = 7/24.
    assert report.eer == pytest.approx(7 / 24)
    assert report.eer_threshold == 0.5
    # At 0.6: genuine 0.1, 0.2, 0.3 accepted (right), 0.7 rejected (wrong); impostor 0.5 accepted (wrong),
    # 0.8 and 0.9 rejected (right): 5 of 7.
    assert report.default_threshold == 0.6
    assert report.accuracy_at_default_threshold == pytest.approx(5 / 7)
    assert report.accuracy_all_pairs == pytest.approx(5 / 7)


@pytest.mark.parametrize(
    ("far_targets", "tar_at_far", "threshold_at_far"),
    [
        # Same data: FAR(0.7) = 1/3 and FAR(0.8) = 2/3, so FAR ≤ 0.5 allows up to 0.7: all four genuine.
        ((0.5,), {"0.5": 1.0}, {"0.5": 0.7}),
        # FAR ≤ 1 allows every distance: the largest, 0.9.
        ((1.0,), {"1": 1.0}, {"1": 0.9}),
        # 1/3 is met exactly (one impostor of three accepted).
        ((0.34,), {"0.34": 1.0}, {"0.34": 0.7}),
        ((0.3,), {"0.3": 0.75}, {"0.3": JUST_BELOW_HALF}),
        ((0.0001,), {"0.0001": 0.75}, {"0.0001": JUST_BELOW_HALF}),
    ],
)
def test_tar_at_other_far_targets(
    far_targets: tuple[float, ...], tar_at_far: dict[str, float], threshold_at_far: dict[str, float]
) -> None:
    report = summarise((0.1, 0.2, 0.3, 0.7), (0.5, 0.8, 0.9), far_targets=far_targets)
    assert report.tar_at_far == tar_at_far
    assert report.threshold_at_far == threshold_at_far
    # The 0.001 threshold is reported whatever the targets: FAR 0, just below 0.5.
    assert report.threshold_at_far_0_001 == JUST_BELOW_HALF


def test_perfect_separation() -> None:
    # genuine 0.1 0.2, impostor 0.5 0.8: at t = 0.2 FAR = 0 and FRR = 0.
    report = summarise((0.1, 0.2), (0.5, 0.8), default_threshold=0.4)
    assert report.tar_at_far == {"0": 1.0, "0.001": 1.0, "0.01": 1.0}
    assert report.eer == 0.0
    assert report.eer_threshold == 0.2
    assert report.accuracy_at_default_threshold == 1.0


def test_tie_between_a_genuine_and_an_impostor_distance() -> None:
    # genuine 0.1 0.5, impostor 0.5 0.9. At FAR 0 the threshold stays below 0.5, so only 0.1 is accepted: 1/2.
    report = summarise((0.1, 0.5), (0.5, 0.9), default_threshold=0.5, far_targets=(0.0, 0.5))
    assert report.tar_at_far == {"0": 0.5, "0.5": 1.0}
    # FAR(0.5) = 1/2 is within 0.5, and t = 0.5 accepts both genuine.
    assert report.threshold_at_far == {"0": JUST_BELOW_HALF, "0.5": 0.5}
    # Sweep: t=0.1 FAR 0, FRR 1/2; t=0.5 FAR 1/2, FRR 0; t=0.9 FAR 1, FRR 0. The first two tie on the gap
    # (1/2) and on the mean (1/4); the lower threshold is kept.
    assert report.eer == 0.25
    assert report.eer_threshold == 0.1
    # At 0.5 (accepted when ≤): genuine 0.1, 0.5 right; impostor 0.5 wrong, 0.9 right: 3/4.
    assert report.accuracy_at_default_threshold == 0.75


def test_eer_where_the_curves_cross() -> None:
    # genuine 0.1 0.3 0.6, impostor 0.2 0.7 0.8.
    # t=0.1: FAR 0, FRR 2/3; t=0.2: FAR 1/3, FRR 2/3; t=0.3: FAR 1/3, FRR 1/3 (equal).
    report = summarise((0.1, 0.3, 0.6), (0.2, 0.7, 0.8))
    assert report.eer == pytest.approx(1 / 3)
    assert report.eer_threshold == 0.3


def test_eer_tie_on_the_gap_keeps_the_lower_mean() -> None:
    # genuine 0.1 0.3, impostor 0.2 0.4 0.5 0.6.
    # t=0.1: FAR 0,   FRR 1/2  gap 1/2
    # t=0.2: FAR 1/4, FRR 1/2  gap 1/4, mean 3/8
    # t=0.3: FAR 1/4, FRR 0    gap 1/4, mean 1/8   <- same gap, lower mean
    # t=0.4: FAR 1/2, FRR 0    gap 1/2
    report = summarise((0.1, 0.3), (0.2, 0.4, 0.5, 0.6))
    assert report.eer == 0.125
    assert report.eer_threshold == 0.3


def test_equal_impostor_distances_are_not_split() -> None:
    # impostor 0.4 0.4 0.9, genuine 0.2 0.6: FAR(0.4) = 2/3, so FAR ≤ 0.5 cannot reach 0.4; the largest
    # candidate below it is the float just below 0.4, which accepts the genuine 0.2 only: 1 of 2.
    report = summarise((0.2, 0.6), (0.4, 0.4, 0.9), far_targets=(0.5,))
    assert report.threshold_at_far == {"0.5": np.nextafter(0.4, -1.0)}
    assert report.tar_at_far == {"0.5": 0.5}


def test_no_impostor_pairs() -> None:
    report = summarise((0.1, 0.7), ())
    assert report.tar_at_far == {"0": None, "0.001": None, "0.01": None}
    assert report.threshold_at_far == {"0": None, "0.001": None, "0.01": None}
    assert report.threshold_at_far_0_001 is None
    assert (report.eer, report.eer_threshold) == (None, None)
    # 0.1 accepted (right), 0.7 rejected (wrong).
    assert report.accuracy_at_default_threshold == 0.5


def test_no_genuine_pairs() -> None:
    report = summarise((), (0.5, 0.8))
    assert report.tar_at_far == {"0": None, "0.001": None, "0.01": None}
    # The thresholds need only impostors: FAR 0 is met just below 0.5.
    assert report.threshold_at_far == {
        "0": JUST_BELOW_HALF,
        "0.001": JUST_BELOW_HALF,
        "0.01": JUST_BELOW_HALF,
    }
    assert report.threshold_at_far_0_001 == JUST_BELOW_HALF
    assert report.eer is None
    # 0.5 accepted (wrong), 0.8 rejected (right).
    assert report.accuracy_at_default_threshold == 0.5


def test_failed_pairs_count_as_answering_not_the_same_person() -> None:
    failed = (failure(same=True, name="a"), failure(same=False, name="b"), failure(same=False, name="c"))
    report = summarise((0.1, 0.2, 0.3, 0.7), (0.5, 0.8, 0.9), failed=failed)
    assert report.pairs == 10
    assert (report.genuine, report.impostor) == (4, 3)
    assert report.failed == list(failed)
    # Scored: 5 of 7 right (see test_worked_example). Failed: the genuine one is wrong, both impostors right.
    assert report.accuracy_at_default_threshold == pytest.approx(5 / 7)
    assert report.accuracy_all_pairs == pytest.approx(7 / 10)


def test_every_pair_failed() -> None:
    report = summarise((), (), failed=(failure(same=True), failure(same=False)))
    assert (report.pairs, report.genuine, report.impostor) == (2, 0, 0)
    assert report.accuracy_at_default_threshold is None
    assert report.accuracy_all_pairs == 0.5
    assert report.eer is None


def test_no_pairs_at_all() -> None:
    report = summarise((), ())
    assert (report.accuracy_at_default_threshold, report.accuracy_all_pairs) == (None, None)


def test_order_of_distances_does_not_matter() -> None:
    in_order = summarise((0.1, 0.2, 0.3, 0.7), (0.5, 0.8, 0.9))
    shuffled = summarise((0.7, 0.1, 0.3, 0.2), (0.9, 0.5, 0.8))
    assert shuffled == in_order


def brute_force_tar_at_far(genuine: list[float], impostor: list[float], target: float) -> float:
    candidates = [*genuine, *impostor, float(np.nextafter(min(impostor), -1.0))]
    allowed = [t for t in candidates if sum(d <= t for d in impostor) / len(impostor) <= target]
    threshold = max(allowed)
    return sum(d <= threshold for d in genuine) / len(genuine)


def brute_force_eer(genuine: list[float], impostor: list[float]) -> float:
    points = []
    for t in sorted({*genuine, *impostor}):
        far = sum(d <= t for d in impostor) / len(impostor)
        frr = sum(d > t for d in genuine) / len(genuine)
        points.append((round(abs(far - frr), 12), round(far + frr, 12), (far + frr) / 2))
    return min(points)[2]


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_a_brute_force_count(seed: int) -> None:
    # Rounded to 2 decimals so that ties within and between the two sets are common.
    rng = np.random.default_rng(seed)
    genuine = np.round(rng.normal(0.45, 0.1, 60).clip(0, None), 2).tolist()
    impostor = np.round(rng.normal(0.7, 0.1, 90).clip(0, None), 2).tolist()
    report = summarise(tuple(genuine), tuple(impostor), far_targets=(0.0, 0.05, 0.2))
    assert report.tar_at_far == {
        key: pytest.approx(brute_force_tar_at_far(genuine, impostor, target))
        for key, target in (("0", 0.0), ("0.05", 0.05), ("0.2", 0.2))
    }
    assert report.eer == pytest.approx(brute_force_eer(genuine, impostor))


@pytest.mark.parametrize(
    ("genuine", "impostor", "expected_exception", "match"),
    [
        ((0.1, float("nan")), (0.5,), ValueError, r"genuine_distances\[1\] is NaN"),
        ((0.1,), (0.5, 0.7, -0.2), ValueError, r"impostor_distances\[2\] is negative \(-0.2\)"),
        ((0.1,), (float("inf"),), ValueError, r"impostor_distances\[0\] is infinite"),
    ],
)
def test_rejects_bad_distances(
    genuine: tuple[float, ...], impostor: tuple[float, ...], expected_exception: type[Exception], match: str
) -> None:
    with pytest.raises(expected_exception, match=match):
        summarise(genuine, impostor)


@pytest.mark.parametrize(
    ("changes", "expected_exception", "match"),
    [
        ({"genuine_distances": np.zeros((2, 2))}, ValueError, r"genuine_distances must be one-dimensional"),
        (
            {"total_pairs": 4},
            ValueError,
            r"total_pairs is 4, but 1 genuine \+ 1 impostor \+ 1 failed pairs make 3",
        ),
        ({"default_threshold": -0.1}, ValueError, "default_threshold must be a finite distance"),
        ({"default_threshold": float("nan")}, ValueError, "default_threshold must be a finite distance"),
        ({"far_targets": (0.0, 1.5)}, ValueError, "a FAR target must be from 0 to 1, got 1.5"),
        ({"far_targets": (-0.01,)}, ValueError, "a FAR target must be from 0 to 1, got -0.01"),
    ],
)
def test_rejects_bad_arguments(
    changes: dict[str, object],
    expected_exception: type[Exception],
    match: str,
) -> None:
    arguments: dict[str, object] = {
        "genuine_distances": distances(0.1),
        "impostor_distances": distances(0.8),
        "failed": [failure(same=True)],
        "total_pairs": 3,
    }
    with pytest.raises(expected_exception, match=match):
        summarise_verification(**{**arguments, **changes})  # type: ignore[arg-type]


def test_json_names() -> None:
    report = summarise((0.1, 0.2, 0.3, 0.7), (0.5, 0.8, 0.9), failed=(failure(same=False),))
    text = report.model_dump_json(by_alias=True)
    document = json.loads(text)
    assert '"threshold_at_far_0.001":' in text
    assert "threshold_at_far_0_001" not in document
    assert list(document["tar_at_far"]) == ["0", "0.001", "0.01"]
    assert list(document["threshold_at_far"]) == ["0", "0.001", "0.01"]
    assert document["failed"] == [
        {"first": "x1.jpg", "second": "x2.jpg", "same": False, "reason": "no face found"},
    ]
    assert {
        "pairs",
        "genuine",
        "impostor",
        "eer",
        "accuracy_at_default_threshold",
        "default_threshold",
        "accuracy_all_pairs",
    } <= set(document)
    assert VerificationReport.model_validate_json(text) == report


def test_json_undefined_values_are_null() -> None:
    document = json.loads(summarise((0.1,), ()).model_dump_json(by_alias=True))
    assert document["tar_at_far"] == {"0": None, "0.001": None, "0.01": None}
    assert document["threshold_at_far_0.001"] is None
    assert document["eer"] is None


def test_every_report_field_is_described() -> None:
    for model in (VerificationReport, FailedPair):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
