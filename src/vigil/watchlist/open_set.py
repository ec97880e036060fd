"""The false-alert rate at watchlist scale, measured on real faces rather than extrapolated from pairs.

With W people on the watchlist, every face a camera sees is searched against all of them, and an alert is raised
when the nearest subject is within the threshold. The police figures ("1 false alert in 6,000 faces with a
10,000-person watchlist", NPL on NEC's NeoFace; "10 false alerts in 3.15 million faces", the Met in 2024–25)
count exactly that. This module measures it on a labelled set of many people (LFW), in NIST's open-set terms:

* W of the set's people are drawn as the watchlist, each enrolled from one photo (their first, in file order;
  several fused, below);
* every photo of every *other* person is a passer-by's face, a non-mated search: the false-positive
  identification rate FPIR(t) is the share of them whose nearest subject is within t, quoted per 10,000 faces;
* every other photo of a listed person is a mated search: the true-positive identification rate TPIR(t) is the
  share whose nearest subject is the right one, within t.

Which W people are drawn matters (most at small W, where one look-alike makes the figure), so several draws are
pooled. The 95 % interval of FPIR comes from a bootstrap that resamples people (one person's photos are not
independent of one another), the draws kept as they are. The operating threshold for a target F is the largest
distance at which the pooled FPIR stays within F; with fewer than ten false alerts allowed at it, the estimate is
coarse and the report says so.

Several faces of a person can be fused into one (:mod:`vigil.watchlist.fusion`): a template made from
``enrol_photos`` photos, a search made from ``probe_frames`` photos (:mod:`vigil.watchlist.fused_open_set` says
exactly what is enrolled and searched, and why photo fusion bounds what a track's frames can give). To compare
such choices, the rates are also reported where TPIR reaches fixed values (``true_match_rates``): the variant
with fewer false alerts there finds as many listed people for fewer passers-by alerted.

Measured this way on LFW, FPIR grows more slowly with W than the independence formula of
:mod:`vigil.watchlist.calibration` predicts (the same few look-alikes are nearest to many passers-by), which is why
the direct measurement is preferred wherever enough people are labelled.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.fused_open_set import OpenSetSearches, plan_searches
from vigil.watchlist.labelled_faces import LabelledFaces

FACES_PER_REPORT = 10_000
DEFAULT_THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
MIN_PASSERS_BY = 50
_ENOUGH_FACES = 100_000
_ENOUGH_LISTED = 2_000
_MOST_DRAWS = 200
_PRECISE_COUNT = 10
_CHUNK = 4096


class RatePoint(BaseModel):
    """The rates at one threshold."""

    model_config = ConfigDict(frozen=True)

    threshold: float = Field(description="Distance at or below which a face matches.")
    false_alerts_per_10k: float = Field(description="FPIR × 10,000: passers-by alerted per 10,000 faces.")
    false_alerts_per_10k_low: float = Field(description="Lower end of its 95 % interval.")
    false_alerts_per_10k_high: float = Field(description="Upper end of its 95 % interval.")
    true_match_rate: float | None = Field(
        description="TPIR: share of listed people's other photos matched to them; null without any."
    )


class SizeFigures(BaseModel):
    """The measurement at one watchlist size."""

    model_config = ConfigDict(frozen=True)

    watchlist_size: int = Field(description="W, people on the watchlist (one template each).")
    draws: int = Field(description="Watchlists drawn at random and pooled.")
    passer_by_faces: int = Field(description="Non-mated searches (each of probe_frames photos), all draws together.")
    mated_searches: int = Field(description="Mated searches, all draws together.")
    operating_point: RatePoint = Field(description="At the largest threshold meeting the target.")
    at_thresholds: list[RatePoint] = Field(description="At each threshold asked for.")
    at_shipped_threshold: RatePoint | None = Field(
        None, description="At the threshold a watchlist of this size runs at unless a supervisor chooses one."
    )
    at_true_match_rates: list[RatePoint] = Field(
        default_factory=list,
        description="At the least threshold reaching each true-match rate asked for (those reachable).",
    )
    warnings: list[str] = Field(default_factory=list)


class OpenSetReport(BaseModel):
    """The false-alert rate at each watchlist size; part of what ``vigil calibrate`` prints."""

    model_config = ConfigDict(frozen=True)

    identities: int = Field(description="People in the labelled set with a usable face.")
    photos: int = Field(description="Photos with a usable face.")
    target_false_alerts_per_10k: float = Field(description="F: the rate the operating thresholds are chosen for.")
    enrol_photos: int = Field(1, description="Photos fused into each listed person's template.")
    probe_frames: int = Field(1, description="Photos of one person fused into each search.")
    quality_weighted: bool = Field(True, description="Whether fused photos are weighed by their quality score.")
    sizes: list[SizeFigures]


@dataclass(frozen=True)
class _Draw:
    """The searches of one drawn watchlist: nearest distances and who searched."""

    passer_by_distances: npt.NDArray[np.float64]  # (n,)
    passer_by_owners: npt.NDArray[np.int64]  # (n,)
    mated_distances: npt.NDArray[np.float64]  # (m,), inf where the nearest subject is the wrong one


def measure_open_set(
    faces: LabelledFaces,
    *,
    sizes: Sequence[int],
    target_false_alerts_per_10k: float = 1.0,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    shipped_threshold: Callable[[int], float] | None = None,
    draws: int = 5,
    seed: int = 0,
    bootstrap: int = 500,
    enrol_photos: int = 1,
    probe_frames: int = 1,
    quality_weighted: bool = True,
    unit_length: bool = False,
    true_match_rates: Sequence[float] = (),
) -> OpenSetReport:
    """Measure FPIR and TPIR at each watchlist size, and the threshold that meets the target.

    Args:
        faces: labelled embeddings, e.g. from :func:`vigil.watchlist.labelled_faces.embed_identities`.
        sizes: the watchlist sizes W to measure, each leaving at least 50 people to pass by.
        target_false_alerts_per_10k: F, false alerts allowed per 10,000 faces of people not on the watchlist.
        thresholds: distances at which to report the rates as well.
        shipped_threshold: the threshold a watchlist of each size ships with (e.g.
            :func:`vigil.watchlist.operating_point.threshold_for_size`), to report the rates at it too.
        draws: watchlists drawn per size, at least; more are drawn (up to 200) until 100,000 passers-by's faces
            are searched, so that a rate of 1 in 10,000 rests on ten false alerts or more, and 2,000 people have
            been listed, so that a small watchlist's figure does not hang on who happened to be drawn.
        seed: the draws and the bootstrap.
        bootstrap: resamples for the intervals.
        enrol_photos: photos fused into each listed person's template (1: their first photo, as today).
        probe_frames: photos of one person fused into each search (1: one photo, as today).
        quality_weighted: weigh fused photos by their quality score (``faces.qualities``), else equally.
        unit_length: scale fused embeddings to unit length (for a cosine network).
        true_match_rates: TPIR values, each in (0, 1], at which to report the rates as well.

    Returns:
        The figures per size.

    Raises:
        CalibrationError: a size below 1 or leaving fewer than 50 people to pass by, a target outside
            (0, 10,000), fewer than one draw, a true-match rate outside (0, 1], or a fusion the faces cannot
            give (see :func:`vigil.watchlist.fused_open_set.plan_searches`).
    """
    people = np.unique(faces.owners)
    for size in sizes:
        if size < 1 or people.size - size < MIN_PASSERS_BY:
            raise CalibrationError(
                f"a watchlist of {size:,} from {people.size:,} labelled people leaves too few to pass by: "
                f"at least {MIN_PASSERS_BY} are needed; label more people or measure a smaller size"
            )
    if not 0 < target_false_alerts_per_10k < FACES_PER_REPORT:
        raise CalibrationError(
            f"the target must lie between 0 and {FACES_PER_REPORT:,} false alerts per {FACES_PER_REPORT:,} faces, "
            f"got {target_false_alerts_per_10k}"
        )
    if draws < 1:
        raise CalibrationError(f"at least one draw is needed, got {draws}")
    if any(not 0 < rate <= 1 for rate in true_match_rates):
        raise CalibrationError(f"a true-match rate lies in (0, 1], got {list(true_match_rates)}")
    searches = plan_searches(
        faces,
        enrol_photos=enrol_photos,
        probe_frames=probe_frames,
        quality_weighted=quality_weighted,
        unit_length=unit_length,
    )
    rng = np.random.default_rng(seed)
    figures = []
    for size in sizes:
        owners = searches.passer_by_owners
        passers_by = owners.size - np.isin(owners, people[:size]).sum()  # about, per draw
        wanted = max(math.ceil(_ENOUGH_FACES / max(passers_by, 1)), math.ceil(_ENOUGH_LISTED / size))
        count = max(draws, min(_MOST_DRAWS, wanted))
        drawn = [_search(searches, rng.choice(people, size, replace=False)) for _ in range(count)]
        figures.append(
            _figures(
                drawn,
                size,
                len(faces.people),
                target_false_alerts_per_10k,
                thresholds,
                None if shipped_threshold is None else shipped_threshold(size),
                true_match_rates,
                rng,
                bootstrap,
            )
        )
    return OpenSetReport(
        identities=int(people.size),
        photos=int(faces.owners.size),
        target_false_alerts_per_10k=target_false_alerts_per_10k,
        enrol_photos=enrol_photos,
        probe_frames=probe_frames,
        quality_weighted=quality_weighted,
        sizes=figures,
    )


def _search(searches: OpenSetSearches, listed: npt.NDArray[np.int64]) -> _Draw:
    """Enrol the listed people and search everyone else's faces, and the listed people's other faces, against them."""
    gallery = searches.templates[listed].astype(np.float64)
    passer_by = ~np.isin(searches.passer_by_owners, listed)
    passers_by = searches.passer_by_rows[passer_by]
    is_mated = np.isin(searches.mated_owners, listed)
    mated = searches.mated_rows[is_mated]
    distances, nearest = _nearest(searches.probes, np.concatenate([passers_by, mated]), gallery)
    mated_distances = distances[passers_by.size :]
    right = listed[nearest[passers_by.size :]] == searches.mated_owners[is_mated]
    return _Draw(
        passer_by_distances=distances[: passers_by.size],
        passer_by_owners=searches.passer_by_owners[passer_by],
        mated_distances=np.where(right, mated_distances, np.inf),
    )


def _nearest(
    embeddings: npt.NDArray[np.float32], rows: npt.NDArray[np.int64], gallery: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Distance to, and index of, the nearest gallery row for each of ``rows``, in chunks."""
    gallery_squared = np.einsum("ij,ij->i", gallery, gallery)
    distances = np.empty(rows.size, dtype=np.float64)
    nearest = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, _CHUNK):
        probes = embeddings[rows[start : start + _CHUNK]].astype(np.float64)
        squared = np.einsum("ij,ij->i", probes, probes)[:, None] + gallery_squared[None, :] - 2.0 * probes @ gallery.T
        best = squared.argmin(axis=1)
        nearest[start : start + probes.shape[0]] = best
        distances[start : start + probes.shape[0]] = np.sqrt(np.maximum(squared[np.arange(best.size), best], 0.0))
    return distances, nearest


def _figures(
    drawn: list[_Draw],
    size: int,
    people: int,
    target: float,
    thresholds: Sequence[float],
    shipped: float | None,
    true_match_rates: Sequence[float],
    rng: np.random.Generator,
    bootstrap: int,
) -> SizeFigures:
    passer_by = np.concatenate([draw.passer_by_distances for draw in drawn])
    owners = np.concatenate([draw.passer_by_owners for draw in drawn])
    mated = np.concatenate([draw.mated_distances for draw in drawn])
    ordered = np.sort(passer_by)
    allowed = math.floor(target * passer_by.size / FACES_PER_REPORT)
    # The largest threshold admitting at most `allowed` passers-by: just below the next one's distance.
    operating = float(np.nextafter(ordered[allowed], -np.inf)) if allowed < ordered.size else float(ordered[-1])
    reaching, unreached = _reaching(mated, true_match_rates)
    chosen = [operating, *thresholds, *([] if shipped is None else [shipped]), *reaching]
    hits = np.zeros((people, len(chosen)), dtype=np.int64)  # per person: their faces within each threshold
    totals = np.bincount(owners, minlength=people).astype(np.float64)
    for column, threshold in enumerate(chosen):
        hits[:, column] = np.bincount(owners[passer_by <= threshold], minlength=people)
    resampled = rng.multinomial(people, np.full(people, 1.0 / people), size=bootstrap).astype(np.float64)
    rates = (resampled @ hits) / np.maximum(resampled @ totals, 1.0)[:, None] * FACES_PER_REPORT
    low, high = np.percentile(rates, [2.5, 97.5], axis=0)
    points = [
        RatePoint(
            threshold=threshold,
            false_alerts_per_10k=float(hits[:, column].sum() / passer_by.size * FACES_PER_REPORT),
            false_alerts_per_10k_low=float(low[column]),
            false_alerts_per_10k_high=float(high[column]),
            true_match_rate=float(np.mean(mated <= threshold)) if mated.size else None,
        )
        for column, threshold in enumerate(chosen)
    ]
    warnings = [
        f"at W = {size:,} no threshold finds {rate:.0%} of the listed people's other faces: too many are nearer "
        "someone else"
        for rate in unreached
    ]
    if allowed < _PRECISE_COUNT:
        warnings.append(
            f"at W = {size:,} the target allows only {allowed} of {passer_by.size:,} passers-by's faces to match: "
            "the operating threshold is coarse; measure on more labelled people for a finer one"
        )
    return SizeFigures(
        watchlist_size=size,
        draws=len(drawn),
        passer_by_faces=int(passer_by.size),
        mated_searches=int(mated.size),
        operating_point=points[0],
        at_thresholds=points[1 : 1 + len(thresholds)],
        at_shipped_threshold=None if shipped is None else points[1 + len(thresholds)],
        at_true_match_rates=points[len(points) - len(reaching) :],
        warnings=warnings,
    )


def _reaching(mated: npt.NDArray[np.float64], rates: Sequence[float]) -> tuple[list[float], list[float]]:
    """The least threshold at which TPIR reaches each rate, and the rates no threshold reaches."""
    ordered = np.sort(mated)  # wrong-subject searches are inf and sort last
    reaching, unreached = [], []
    for rate in rates:
        needed = max(1, math.ceil(rate * mated.size - 1e-9))  # searches to find; the tolerance absorbs rounding
        if mated.size and np.isfinite(ordered[needed - 1]):
            reaching.append(float(ordered[needed - 1]))
        else:
            unreached.append(rate)
    return reaching, unreached
