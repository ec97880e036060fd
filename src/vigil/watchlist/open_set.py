"""The false-alert rate at watchlist scale, measured on real faces rather than extrapolated from pairs.

With W people on the watchlist, every face a camera sees is searched against all of them, and an alert is raised
when the nearest subject is within the threshold. The police figures ("1 false alert in 6,000 faces with a
10,000-person watchlist", NPL on NEC's NeoFace; "10 false alerts in 3.15 million faces", the Met in 2024–25)
count exactly that. This module measures it on a labelled set of many people (LFW), in NIST's open-set terms:

* W of the set's people are drawn as the watchlist, each enrolled from one photo (their first, in file order);
* every photo of every *other* person is a passer-by's face, a non-mated search: the false-positive
  identification rate FPIR(t) is the share of them whose nearest subject is within t, quoted per 10,000 faces;
* every other photo of a listed person is a mated search: the true-positive identification rate TPIR(t) is the
  share whose nearest subject is the right one, within t.

Which W people are drawn matters (most at small W, where one look-alike makes the figure), so several draws are
pooled. The 95 % interval of FPIR comes from a bootstrap that resamples people (one person's photos are not
independent of one another), the draws kept as they are. The operating threshold for a target F is the largest
distance at which the pooled FPIR stays within F; with fewer than ten false alerts allowed at it, the estimate is
coarse and the report says so.

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
    passer_by_faces: int = Field(description="Non-mated searches, all draws together.")
    mated_searches: int = Field(description="Mated searches, all draws together.")
    operating_point: RatePoint = Field(description="At the largest threshold meeting the target.")
    at_thresholds: list[RatePoint] = Field(description="At each threshold asked for.")
    at_shipped_threshold: RatePoint | None = Field(
        None, description="At the threshold a watchlist of this size runs at unless a supervisor chooses one."
    )
    warnings: list[str] = Field(default_factory=list)


class OpenSetReport(BaseModel):
    """The false-alert rate at each watchlist size; part of what ``vigil calibrate`` prints."""

    model_config = ConfigDict(frozen=True)

    identities: int = Field(description="People in the labelled set with a usable face.")
    photos: int = Field(description="Photos with a usable face.")
    target_false_alerts_per_10k: float = Field(description="F: the rate the operating thresholds are chosen for.")
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

    Returns:
        The figures per size.

    Raises:
        CalibrationError: a size below 1 or leaving fewer than 50 people to pass by, a target outside
            (0, 10,000), or fewer than one draw.
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
    rng = np.random.default_rng(seed)
    first_photo = _first_rows(faces.owners)
    figures = []
    for size in sizes:
        passers_by = faces.owners.size - np.isin(faces.owners, people[:size]).sum()  # about, per draw
        wanted = max(math.ceil(_ENOUGH_FACES / max(passers_by, 1)), math.ceil(_ENOUGH_LISTED / size))
        count = max(draws, min(_MOST_DRAWS, wanted))
        drawn = [_search(faces, rng.choice(people, size, replace=False), first_photo) for _ in range(count)]
        figures.append(
            _figures(
                drawn,
                size,
                len(faces.people),
                target_false_alerts_per_10k,
                thresholds,
                None if shipped_threshold is None else shipped_threshold(size),
                rng,
                bootstrap,
            )
        )
    return OpenSetReport(
        identities=int(people.size),
        photos=int(faces.owners.size),
        target_false_alerts_per_10k=target_false_alerts_per_10k,
        sizes=figures,
    )


def _first_rows(owners: npt.NDArray[np.int64]) -> dict[int, int]:
    """Each person's first row (their enrolment photo)."""
    first: dict[int, int] = {}
    for row, owner in enumerate(owners.tolist()):
        first.setdefault(owner, row)
    return first


def _search(faces: LabelledFaces, listed: npt.NDArray[np.int64], first_photo: dict[int, int]) -> _Draw:
    """Enrol the listed people from their first photo and search every other photo against them."""
    gallery_rows = np.array([first_photo[int(person)] for person in listed], dtype=np.int64)
    gallery = faces.embeddings[gallery_rows].astype(np.float64)
    is_listed = np.isin(faces.owners, listed)
    is_probe = np.ones(faces.owners.size, dtype=bool)
    is_probe[gallery_rows] = False
    passers_by = np.flatnonzero(~is_listed)
    mated = np.flatnonzero(is_listed & is_probe)
    distances, nearest = _nearest(faces.embeddings, np.concatenate([passers_by, mated]), gallery)
    mated_distances = distances[passers_by.size :]
    right = listed[nearest[passers_by.size :]] == faces.owners[mated]
    return _Draw(
        passer_by_distances=distances[: passers_by.size],
        passer_by_owners=faces.owners[passers_by],
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
    chosen = [operating, *thresholds, *([] if shipped is None else [shipped])]
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
    warnings = []
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
        at_shipped_threshold=None if shipped is None else points[-1],
        warnings=warnings,
    )
