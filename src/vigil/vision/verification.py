"""The maths of a face-verification benchmark: error rates over labelled pairs, from face distances.

A distance is smaller for more alike faces (dlib's are Euclidean, usually judged at 0.6). A *genuine* pair
shows one person, an *impostor* pair two. A pair is accepted as "same person" when its distance ≤ the
threshold t.

* FAR(t), the false accept rate: the fraction of impostor distances ≤ t.
* TAR(t), the true accept rate: the fraction of genuine distances ≤ t.
  FRR(t) = 1 − TAR(t), the false reject rate: the fraction of genuine distances > t.
* Threshold at FAR f: the largest candidate threshold t with FAR(t) ≤ f. The candidates are every observed
  distance (genuine and impostor) and the float just below the smallest impostor distance; neither rate
  changes between candidates, so no other threshold gives a higher TAR within the same FAR. TAR@FAR=f is TAR
  at that threshold; for f = 0 it is the fraction of genuine distances strictly below the smallest impostor
  distance.
  With n impostor pairs FAR moves in steps of 1/n, so a target below 1/n is met only as FAR = 0 (FAR = 0.001
  with fewer than 1,000 impostor pairs, say); it is reported as computed, with a warning.
* EER, the equal error rate: t sweeps every observed distance and stops where |FAR(t) − FRR(t)| is smallest
  (on a tie, where (FAR + FRR)/2 is smaller, then at the lower t); the EER is (FAR + FRR)/2 there. The
  empirical curves are steps that seldom cross exactly, so this is the midpoint at their nearest approach,
  compared exactly in whole counts and never interpolated.
* Accuracy at a threshold: correct decisions / scored pairs. Accuracy over all pairs also counts each failed
  pair (no face found, image unreadable) as the answer "not the same person": an error for a genuine pair,
  correct for an impostor pair.

A value that cannot be defined is None (``null`` in JSON): anything at a FAR target without impostor pairs,
TAR without genuine pairs, the EER unless both kinds were scored, an accuracy with nothing to count.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

Distances = npt.NDArray[np.float64]
"""Face distances, shape (n,), finite and non-negative; smaller is more alike."""

DEFAULT_FAR_TARGETS = (0.0, 0.001, 0.01)


class FailedPair(BaseModel):
    """A labelled pair that could not be scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: Path = Field(description="The first image of the pair.")
    second: Path = Field(description="The second image of the pair.")
    same: bool = Field(description="True when the pair is labelled as one person (a genuine pair).")
    reason: str = Field(description="Why it was not scored, e.g. no face found or the image is unreadable.")


class PairVerdict(BaseModel):
    """One scored pair and the decision at the report's threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: Path
    second: Path
    same: bool = Field(description="The label: one person (genuine) or two (impostor).")
    distance: float = Field(description="Embedding distance of the pair's faces.")
    accepted: bool = Field(description="distance ≤ the default threshold: taken as one person.")
    correct: bool = Field(description="accepted == same.")


class VerificationReport(BaseModel):
    """The result of a face-verification benchmark; what ``vigil evaluate pairs --json`` prints.

    Serialise with ``by_alias`` (the default here): ``threshold_at_far_0_001`` is written
    ``threshold_at_far_0.001``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    pairs: int = Field(ge=0, description="Pairs in the pairs file: scored and failed together.")
    genuine: int = Field(ge=0, description="Same-person pairs scored.")
    impostor: int = Field(ge=0, description="Different-person pairs scored.")
    failed: list[FailedPair] = Field(
        description="Pairs that could not be scored (no face found, image unreadable), in file order."
    )
    tar_at_far: dict[str, float | None] = Field(
        description=(
            'True accept rate at each false accept rate target, keyed by the target ("0", "0.001", '
            '"0.01"); null without impostor or genuine pairs.'
        )
    )
    threshold_at_far: dict[str, float | None] = Field(
        description=(
            "The largest distance threshold whose false accept rate is within each target, keyed as "
            "tar_at_far; null without impostor pairs."
        )
    )
    threshold_at_far_0_001: float | None = Field(
        alias="threshold_at_far_0.001",
        description="The largest distance threshold whose false accept rate is at most 0.001; null without "
        "impostor pairs.",
    )
    eer: float | None = Field(
        description="Equal error rate: (FAR + FRR)/2 where they come closest; null unless both kinds scored."
    )
    eer_threshold: float | None = Field(description="The distance threshold at which the EER was taken.")
    default_threshold: float = Field(description="The distance threshold of the accuracy figures.")
    accuracy_at_default_threshold: float | None = Field(
        description="Correct decisions / scored pairs at default_threshold; null when no pair was scored."
    )
    accuracy_all_pairs: float | None = Field(
        description=(
            "Correct decisions / all pairs at default_threshold, a failed pair counting as the answer "
            '"not the same person"; null for an empty pairs file.'
        )
    )
    warnings: list[str] = Field(
        default_factory=list, description="Figures the pairs cannot support, e.g. a FAR below 1 / impostor pairs."
    )
    details: list[PairVerdict] | None = Field(
        None, description="Every scored pair with its distance and verdict, in file order (when asked for)."
    )


def summarise_verification(
    *,
    genuine_distances: Distances,
    impostor_distances: Distances,
    failed: list[FailedPair],
    total_pairs: int,
    default_threshold: float = 0.6,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
) -> VerificationReport:
    """Compute the benchmark figures from the distances of the scored pairs.

    Args:
        genuine_distances: distances of the scored same-person pairs, shape (n,).
        impostor_distances: distances of the scored different-person pairs, shape (m,).
        failed: the pairs that could not be scored.
        total_pairs: pairs in the pairs file; must be n + m + ``len(failed)``.
        default_threshold: the distance at or below which a pair is accepted, for the accuracy figures.
        far_targets: the false accept rates to report TAR and thresholds at, each from 0 to 1.

    Returns:
        The report, with every rate a fraction from 0 to 1 and every threshold a distance, as defined in
        this module's docstring.

    Raises:
        ValueError: a distance is NaN, infinite or negative (the message names the array and index), an
            array is not one-dimensional, a FAR target is outside 0–1, ``default_threshold`` is negative or
            not finite, or ``total_pairs`` disagrees with the pairs given.
    """
    genuine = _sorted_distances(genuine_distances, name="genuine_distances")
    impostor = _sorted_distances(impostor_distances, name="impostor_distances")
    if not (np.isfinite(default_threshold) and default_threshold >= 0):
        raise ValueError(f"default_threshold must be a finite distance ≥ 0, got {default_threshold}")
    for target in far_targets:
        if not 0.0 <= target <= 1.0:
            raise ValueError(f"a FAR target must be from 0 to 1, got {target}")
    scored = genuine.size + impostor.size
    if total_pairs != scored + len(failed):
        raise ValueError(
            f"total_pairs is {total_pairs}, but {genuine.size} genuine + {impostor.size} impostor + "
            f"{len(failed)} failed pairs make {scored + len(failed)}"
        )

    keys = [_far_key(target) for target in far_targets]
    thresholds, tars = _operating_points(genuine, impostor, np.array([*far_targets, 0.001], dtype=np.float64))
    equal_error = _equal_error(genuine, impostor)
    accepted_genuine = int(np.searchsorted(genuine, default_threshold, side="right"))
    accepted_impostor = int(np.searchsorted(impostor, default_threshold, side="right"))
    correct = accepted_genuine + impostor.size - accepted_impostor
    failed_impostors = sum(not pair.same for pair in failed)
    warnings = [
        f"TAR at FAR {_far_key(target)} rests on {impostor.size:,} impostor pairs, whose smallest non-zero FAR is "
        f"1/{impostor.size:,} = {1 / impostor.size:.2g}: it is the TAR at FAR 0; "
        f"resolving FAR {_far_key(target)} needs at least {int(np.ceil(1 / target)):,} impostor pairs"
        for target in far_targets
        if impostor.size and 0 < target < 1 / impostor.size
    ]
    return VerificationReport(
        pairs=total_pairs,
        genuine=genuine.size,
        impostor=impostor.size,
        failed=failed,
        tar_at_far=dict(zip(keys, tars[:-1], strict=True)),
        threshold_at_far=dict(zip(keys, thresholds[:-1], strict=True)),
        threshold_at_far_0_001=thresholds[-1],
        eer=None if equal_error is None else equal_error[0],
        eer_threshold=None if equal_error is None else equal_error[1],
        default_threshold=default_threshold,
        accuracy_at_default_threshold=correct / scored if scored else None,
        accuracy_all_pairs=(correct + failed_impostors) / total_pairs if total_pairs else None,
        warnings=warnings,
    )


def _sorted_distances(distances: Distances, *, name: str) -> Distances:
    values = np.asarray(distances, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, shape (n,); got shape {values.shape}")
    for problem, bad in (("NaN", np.isnan(values)), ("infinite", np.isinf(values)), ("negative", values < 0)):
        where = np.flatnonzero(bad)
        if where.size:
            found = f"{name}[{where[0]}] is {problem} ({values[where[0]]})"
            raise ValueError(f"{found}; distances must be finite and ≥ 0")
    return np.sort(values)


def _far_key(target: float) -> str:
    # "0", "0.001", "0.01": the shortest decimal that reads back as the target, never in exponent form.
    return np.format_float_positional(target, trim="-")


def _operating_points(
    genuine: Distances, impostor: Distances, far_targets: npt.NDArray[np.float64]
) -> tuple[list[float | None], list[float | None]]:
    """Threshold and TAR at each FAR target (both sorted arrays); None where undefined."""
    if impostor.size == 0:
        return [None] * far_targets.size, [None] * far_targets.size
    below_impostors = np.nextafter(impostor[0], -np.inf)
    candidates = np.unique(np.concatenate([genuine, impostor, [below_impostors]]))
    far = np.searchsorted(impostor, candidates, side="right") / impostor.size
    # FAR never falls as t rises, so the last candidate within a target is the largest. The smallest candidate
    # has FAR 0, so there always is one.
    thresholds = candidates[np.searchsorted(far, far_targets, side="right") - 1]
    if genuine.size == 0:
        return [float(t) for t in thresholds], [None] * far_targets.size
    tars = np.searchsorted(genuine, thresholds, side="right") / genuine.size
    return [float(t) for t in thresholds], [float(tar) for tar in tars]


def _equal_error(genuine: Distances, impostor: Distances) -> tuple[float, float] | None:
    """EER and the threshold where it was taken (both sorted arrays); None unless both are non-empty."""
    if genuine.size == 0 or impostor.size == 0:
        return None
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    false_accepts = np.searchsorted(impostor, thresholds, side="right")
    false_rejects = genuine.size - np.searchsorted(genuine, thresholds, side="right")
    # FAR = false_accepts / m and FRR = false_rejects / n, compared exactly over the common denominator n·m.
    far_scaled = false_accepts.astype(np.int64) * genuine.size
    frr_scaled = false_rejects.astype(np.int64) * impostor.size
    # lexsort is stable and sorts by its last key first: smallest gap, then smallest sum, then lowest t.
    best = int(np.lexsort((far_scaled + frr_scaled, np.abs(far_scaled - frr_scaled)))[0])
    eer = (false_accepts[best] / impostor.size + false_rejects[best] / genuine.size) / 2
    return float(eer), float(thresholds[best])
