"""Threshold calibration: the distance threshold that keeps false alerts to a target, for a watchlist of a size.

Every face a camera sees is compared with every one of the watchlist's N subjects, so the chance that a
passer-by raises a false alert grows with N. With p the false-match rate of one comparison at threshold t
(the share of different-person pairs at distance ≤ t), the false-alert rate per face searched is::

    FAR_search(t) = 1 − (1 − p(t))^N

For a target of F false alerts per 10,000 faces, the per-comparison rate must be p = 1 − (1 − F/10,000)^(1/N),
and the threshold is the p-quantile of the impostor distances. This is how police evaluations quote "one false
alert in X faces" for a 1k or 10k watchlist.

Small labelled sets cannot show a rate as small as p directly: with I impostor pairs the smallest measurable
rate is 1/I. When p < 10/I the quantile comes from a normal distribution fitted to the impostor distances (their
lower tail is close to normal for dlib's model) and the report says so; the honest remedy is more labelled
identities.
"""

import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from vigil.vision.engine import FaceEngine
from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.labelled_faces import LabelledFaces, embed_identities

FACES_PER_REPORT = 10_000
_EMPIRICAL_MIN_COUNT = 10


class LabelledDistances(BaseModel):
    """Distances of same-person (genuine) and different-person (impostor) pairs."""

    identities: int = Field(description="People in the labelled set.")
    photos: int = Field(description="Photos with a usable face.")
    skipped: list[str] = Field(default_factory=list, description="Photos without a usable face, with the reason.")
    genuine: list[float] = Field(description="Same-person distances.")
    impostor: list[float] = Field(description="Different-person distances.")


class CalibrationReport(BaseModel):
    """What ``vigil calibrate`` prints."""

    watchlist_size: int = Field(description="N, the subjects every face is compared with.")
    target_false_alerts_per_10k_faces: float = Field(description="The false-alert rate asked for.")
    per_comparison_false_match_rate: float = Field(description="p, the rate one comparison may have.")
    threshold: float = Field(description="The distance threshold meeting the target.")
    method: str = Field(description="'empirical' quantile, or 'normal_fit' when the set is too small for p.")
    expected_false_alerts_per_10k_faces: float = Field(description="At the threshold, for N subjects.")
    one_false_alert_in_faces: float | None = Field(description="1 / false-alert rate per face; null if zero.")
    true_match_rate: float | None = Field(description="Share of genuine pairs within the threshold (null: none).")
    genuine_pairs: int
    impostor_pairs: int
    impostor_mean: float
    impostor_std: float
    warnings: list[str] = Field(default_factory=list)


def calibrate(
    *,
    genuine: npt.NDArray[np.float64],
    impostor: npt.NDArray[np.float64],
    watchlist_size: int,
    target_false_alerts_per_10k: float = 1.0,
) -> CalibrationReport:
    """Find the threshold that meets a false-alert target for a watchlist size.

    Args:
        genuine: same-person distances, shape (g,).
        impostor: different-person distances, shape (i,), at least 3.
        watchlist_size: N, the number of subjects.
        target_false_alerts_per_10k: F, false alerts allowed per 10,000 faces searched.

    Returns:
        The threshold and what to expect at it.

    Raises:
        CalibrationError: fewer than 3 impostor pairs, a size below 1, or a target outside (0, 10,000).
    """
    if watchlist_size < 1:
        raise CalibrationError(f"the watchlist size must be at least 1, got {watchlist_size}")
    if not 0 < target_false_alerts_per_10k < FACES_PER_REPORT:
        raise CalibrationError(
            f"the target must lie between 0 and {FACES_PER_REPORT:,} false alerts per {FACES_PER_REPORT:,} faces, "
            f"got {target_false_alerts_per_10k}"
        )
    if impostor.size < 3:
        raise CalibrationError(
            f"{impostor.size} different-person pairs are too few to calibrate; label at least 3 people"
        )
    target_rate = target_false_alerts_per_10k / FACES_PER_REPORT
    p = 1.0 - (1.0 - target_rate) ** (1.0 / watchlist_size)
    mean, std = float(impostor.mean()), float(impostor.std(ddof=1))
    warnings = []
    if p * impostor.size >= _EMPIRICAL_MIN_COUNT:
        method = "empirical"
        ordered = np.sort(impostor)
        # The largest threshold admitting at most p·I impostor pairs.
        allowed = int(np.floor(p * impostor.size))
        threshold = float(np.nextafter(ordered[allowed], -np.inf)) if allowed < ordered.size else float(ordered[-1])
        rate_at_threshold = float(np.mean(impostor <= threshold))
    else:
        method = "normal_fit"
        fitted = statistics.NormalDist(mean, std)
        threshold = max(fitted.inv_cdf(p), 1e-6)
        rate_at_threshold = fitted.cdf(threshold)
        warnings.append(
            f"only {impostor.size:,} different-person pairs: a rate of {p:.1e} cannot be measured directly "
            f"(it needs about {int(np.ceil(_EMPIRICAL_MIN_COUNT / p)):,}), so the threshold comes from a normal fit "
            "to their distances; calibrate on more labelled identities before relying on it"
        )
    search_rate = 1.0 - (1.0 - rate_at_threshold) ** watchlist_size
    if genuine.size == 0:
        warnings.append("no same-person pairs: the true match rate at the threshold is unknown")
    return CalibrationReport(
        watchlist_size=watchlist_size,
        target_false_alerts_per_10k_faces=target_false_alerts_per_10k,
        per_comparison_false_match_rate=p,
        threshold=threshold,
        method=method,
        expected_false_alerts_per_10k_faces=search_rate * FACES_PER_REPORT,
        one_false_alert_in_faces=1.0 / search_rate if search_rate > 0 else None,
        true_match_rate=float(np.mean(genuine <= threshold)) if genuine.size else None,
        genuine_pairs=int(genuine.size),
        impostor_pairs=int(impostor.size),
        impostor_mean=mean,
        impostor_std=std,
        warnings=warnings,
    )


def distances_from_identities(
    engine: FaceEngine, folder: Path, *, on_progress: Callable[[int, int], None] | None = None
) -> LabelledDistances:
    """Embed a folder of identities (one sub-folder of photos per person) and measure every pair.

    Each photo contributes the face it is of; a photo without one is skipped and listed.

    Raises:
        CalibrationError: fewer than two people with a usable photo.
    """
    return pair_distances(embed_identities(engine, folder, on_progress=on_progress))


def pair_distances(faces: LabelledFaces) -> LabelledDistances:
    """Every pair of labelled faces, as same-person (genuine) and different-person (impostor) distances."""
    matrix = faces.embeddings.astype(np.float64)
    squared = np.einsum("ij,ij->i", matrix, matrix)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * matrix @ matrix.T, 0.0))
    upper = np.triu(np.ones(distances.shape, dtype=bool), k=1)
    same = np.equal.outer(faces.owners, faces.owners)
    return LabelledDistances(
        identities=faces.identities,
        photos=int(faces.owners.size),
        skipped=list(faces.skipped),
        genuine=distances[upper & same].tolist(),
        impostor=distances[upper & ~same].tolist(),
    )
