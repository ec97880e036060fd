"""The threshold a watchlist runs at unless someone chooses one: by its size, from false alerts on real faces.

A passer-by raises a false alert when any of the W people on the watchlist is within the threshold of their face,
so the larger the watchlist, the stricter the threshold must be for the same rate of false alerts. The table
below gives, for dlib's ResNet (the network Vigil ships), the threshold at which 1 face in 10,000 of people *not*
on the watchlist raises an alert, the rate NPL measured for NEC's NeoFace in the Met's deployments (1 in 6,000 at
a 10,000-person watchlist), and the share of listed people's other photos found at it. It was measured with::

    vigil calibrate --identities ../shared/testdata/lfw/images --target 1 --watchlist-size 1
        --watchlist-size 2 (and so on for every size in the table) --watchlist-size 3000

(LFW: 10,776 photos of 4,872 people with a face HOG finds, three pictures filed under two names left out; each
listed person enrolled from one photo; from 10 to 200 watchlists drawn per size, 100,000 to 2.15 million
passers-by's faces searched; see :mod:`vigil.watchlist.open_set`). Between the sizes measured the threshold is
interpolated on log W; beyond 1,000 people it is extrapolated along the last step, and a force should measure it
on its own labelled faces (``vigil calibrate``). LFW cannot measure 3,000: there the few passers-by allowed at 1
in 10,000 are one of LFW's own label errors (Choi Sung-hong, filed under two names, 0.25 apart) found again in
draw after draw.

What it means: with the shipped network, a watchlist of a few people is searched at about 0.46 and finds about
half the listed people from a single photo; at 1,000 people the threshold (0.33) is so strict that a single photo
finds 1 in 15 of them. Several faces of one person in a video do better than one photo, but a force that needs
a watchlist of thousands needs a stronger network than dlib's.

Other networks: a manifest's ``operating_points`` (``vigil calibrate --model``) give that network's table
(:func:`table_for`); a manifest without them runs every size at its one threshold, and what it expects is not
measured. :meth:`OperatingTable.expected_at` says what a threshold is expected to do at a size, and only as
precisely as the table knows: at the table's own threshold the measured rates (interpolated on log W); at a
stricter one bounds; beyond the table's sizes, or for an uncalibrated network, "not measured".

W counts people, not photos: enrolling three photos per person raised the false alerts by 1.3–1.7× on LFW
(while raising the share found from 0.59 to 0.82 at 0.45), which this table does not yet account for.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vigil.vision.embedding import Embedder
from vigil.vision.face_model import DLIB_MODEL, DLIB_MODEL_ID, FaceModelManifest, ManifestOperatingPoint
from vigil.vision.model_slot import SlotEmbedder

MODEL = DLIB_MODEL.name
TARGET_FALSE_ALERTS_PER_10K = 1.0
_LEAST_THRESHOLD = 0.1
_SAME = 1e-6  # thresholds closer than this are the same one (they travel as floats)
_FACES = 10_000.0
_NOT_MEASURED = "not measured: "


class OperatingPoint(NamedTuple):
    """One measured size.

    Attributes:
        watchlist_size: W, people on the watchlist.
        threshold: the largest distance threshold within the target at that size.
        true_match_rate: the share of listed people's other photos found at it (single photos).
        false_alerts_per_10k: passers-by's faces alerted per 10,000 at it.
    """

    watchlist_size: int
    threshold: float
    true_match_rate: float
    false_alerts_per_10k: float = TARGET_FALSE_ALERTS_PER_10K


MEASURED: tuple[OperatingPoint, ...] = (
    OperatingPoint(1, 0.4796, 0.646),
    OperatingPoint(2, 0.4578, 0.605),
    OperatingPoint(3, 0.4500, 0.543),
    OperatingPoint(5, 0.4408, 0.505),
    OperatingPoint(10, 0.4183, 0.420),
    OperatingPoint(30, 0.3997, 0.312),
    OperatingPoint(100, 0.3827, 0.271),
    OperatingPoint(300, 0.3564, 0.155),
    OperatingPoint(1000, 0.3265, 0.065),
)
"""The thresholds at 1 false alert per 10,000 faces, by watchlist size (module docstring)."""


@dataclass(frozen=True)
class Expectation:
    """What a threshold is expected to do on a watchlist of some size, as precisely as it was measured.

    Attributes:
        watchlist_size: W, people on the watchlist (an empty one counts as one).
        threshold: the distance threshold.
        false_alerts_per_10k: passers-by's faces alerted per 10,000; None: not measured.
        false_alerts_at_most: the false alerts are an upper bound, not a measurement.
        true_match_rate: the share of listed people's other photos found (single photos); None: not measured.
        true_match_at_least: the share found is a rough lower bound, not a measurement.
        measured: both figures were measured at this threshold for this size (interpolated on log W between
            measured sizes); False for bounds, extrapolations and uncalibrated networks.
        note: where the figures come from, for a person.
    """

    watchlist_size: int
    threshold: float
    false_alerts_per_10k: float | None
    false_alerts_at_most: bool
    true_match_rate: float | None
    true_match_at_least: bool
    measured: bool
    note: str

    @property
    def sentence(self) -> str:
        """One sentence for the supervisor and the public report.

        Returns:
            E.g. "At 1,000 people this threshold expects 1.0 false alert per 10,000 faces and finds 6 % of the
            people on it (single photos)".
        """
        people = f"{self.watchlist_size:,} {'person' if self.watchlist_size == 1 else 'people'}"
        qualifier = "" if self.measured else f"; {self.note}"
        if self.false_alerts_per_10k is None and self.true_match_rate is None:
            return f"At {people} what this threshold does was not measured ({self.note.removeprefix(_NOT_MEASURED)})"
        if self.true_match_rate is None:
            found = "the share of the people on it found was not measured"
        else:
            share = f"{self.true_match_rate * 100:.0f} %"
            found = f"{f'about {share} or more' if self.true_match_at_least else share} of the people on it"
        if self.false_alerts_per_10k is None:
            found = f"it finds {found}" if self.true_match_rate is not None else found
            return f"At {people} this threshold's false alerts were not measured; {found} (single photos{qualifier})"
        figure = _per_10k(self.false_alerts_per_10k)
        alerts = (
            f"{'at most ' if self.false_alerts_at_most else ''}{figure} false alert{'' if figure == '1.0' else 's'}"
        )
        if self.true_match_rate is None:
            return f"At {people} this threshold expects {alerts} per 10,000 faces; {found} (single photos{qualifier})"
        return (
            f"At {people} this threshold expects {alerts} per 10,000 faces and finds {found} (single photos{qualifier})"
        )


@dataclass(frozen=True)
class OperatingTable:
    """One network's thresholds by watchlist size, and what each is expected to do.

    Attributes:
        model_id: the network (:attr:`vigil.vision.face_model.ModelIdentity.model_id`).
        points: measured sizes, increasing; empty for an uncalibrated network.
        uncalibrated_threshold: an uncalibrated network's one threshold (its manifest's), for every size.

    Raises:
        ValueError: neither or both of points and an uncalibrated threshold, sizes not increasing, or a value out
            of range.
    """

    model_id: str
    points: tuple[OperatingPoint, ...]
    uncalibrated_threshold: float | None = None

    def __post_init__(self) -> None:
        if bool(self.points) == (self.uncalibrated_threshold is not None):
            raise ValueError(
                f"a table for {self.model_id} has measured points or one uncalibrated threshold, "
                f"got {len(self.points)} points and threshold {self.uncalibrated_threshold}"
            )
        sizes = [point.watchlist_size for point in self.points]
        if sizes != sorted(set(sizes)) or (sizes and sizes[0] < 1):
            raise ValueError(f"watchlist sizes must be distinct, at least 1 and increasing, got {sizes}")
        thresholds = [point.threshold for point in self.points]
        if self.uncalibrated_threshold is not None:
            thresholds.append(self.uncalibrated_threshold)
        if any(not 0 < threshold <= 2 for threshold in thresholds):
            raise ValueError(f"thresholds are distances in (0, 2], got {thresholds}")

    @property
    def calibrated(self) -> bool:
        """Whether the table was measured (``vigil calibrate``)."""
        return bool(self.points)

    def threshold_for_size(self, watchlist_size: int) -> float:
        """The operating threshold for a watchlist of this many people (module docstring).

        Args:
            watchlist_size: W, people on the watchlist; an empty watchlist takes the one-person threshold.

        Returns:
            The distance threshold, interpolated on log W between measured sizes, extrapolated beyond the largest
            (never below 0.1, where nobody would be found); below the smallest measured size, the smallest's; an
            uncalibrated network's one threshold at every size.
        """
        if self.uncalibrated_threshold is not None:
            return self.uncalibrated_threshold
        return max(_LEAST_THRESHOLD, self._on_log_size(max(watchlist_size, 1), lambda point: point.threshold))

    def expected_at(self, watchlist_size: int, threshold: float) -> Expectation:
        """What ``threshold`` is expected to do on a watchlist of ``watchlist_size`` people.

        At the table's own threshold for a measured range of sizes: the measured rates, interpolated on log W.
        Otherwise only what follows from the measurements: a stricter threshold alerts on no more faces than the
        table's (and a smaller watchlist on no more than a larger one); W people alert on at most ⌈W/V⌉ times the
        faces a V-person watchlist does at the same threshold; the share found at a stricter threshold is
        interpolated from the larger watchlists whose thresholds bracket it (a larger watchlist finds fewer, so
        it is a rough lower bound); at a looser one it is at least the share at the table's threshold.

        Args:
            watchlist_size: W, people on the watchlist; an empty watchlist counts as one.
            threshold: the distance threshold.

        Returns:
            The expectation, with None for what was not measured and a note saying where the figures come from.
        """
        size = max(watchlist_size, 1)
        if not self.points:
            return Expectation(
                size,
                threshold,
                None,
                False,
                None,
                False,
                False,
                f"{_NOT_MEASURED}{self.model_id} has no measured operating points; run vigil calibrate --model "
                "MANIFEST on labelled faces and add them to its manifest",
            )
        first, last = self.points[0], self.points[-1]
        inside = first.watchlist_size <= size <= last.watchlist_size
        own = self.threshold_for_size(size)
        measured_at = f"measured at {first.watchlist_size:,}–{last.watchlist_size:,} people"
        if inside and abs(threshold - own) <= _SAME:
            return Expectation(
                size,
                threshold,
                self._on_log_size(size, lambda point: point.false_alerts_per_10k),
                False,
                self._on_log_size(size, lambda point: point.true_match_rate),
                False,
                True,
                f"{measured_at}, interpolated on log W",
            )
        if size > last.watchlist_size:
            where = f"beyond the largest watchlist measured ({last.watchlist_size:,} people): bounds only"
        elif size < first.watchlist_size:
            where = f"below the smallest watchlist measured ({first.watchlist_size:,} people): bounds only"
        elif threshold < own:
            where = f"stricter than the {own:.3f} measured for this size: bounds only"
        else:
            where = f"looser than the {own:.3f} measured for this size: bounds only"
        return Expectation(
            size,
            threshold,
            self._false_alerts_bound(size, threshold, own if inside else None),
            True,
            self._true_match_floor(size, threshold, own if inside else None),
            True,
            False,
            f"{where}, {measured_at}",
        )

    def _on_log_size(self, size: int, value: Callable[[OperatingPoint], float]) -> float:
        """``value`` interpolated on log W between the measured sizes around ``size``, extrapolated beyond."""
        if len(self.points) == 1 or size <= self.points[0].watchlist_size:
            return value(self.points[0])
        below = [point for point in self.points if point.watchlist_size <= size][-1]
        above = next((point for point in self.points if point.watchlist_size > size), None)
        if above is None:
            below, above = self.points[-2], self.points[-1]
        if below.watchlist_size == size:
            return value(below)
        step = (math.log(size) - math.log(below.watchlist_size)) / (
            math.log(above.watchlist_size) - math.log(below.watchlist_size)
        )
        return value(below) + step * (value(above) - value(below))

    def _false_alerts_bound(self, size: int, threshold: float, own: float | None) -> float | None:
        """The fewest false alerts per 10,000 faces the measurements guarantee at ``threshold``; None: none do."""
        bounds = []
        if own is not None and threshold <= own + _SAME:
            bounds.append(self._on_log_size(size, lambda point: point.false_alerts_per_10k))
        for point in self.points:
            if point.threshold + _SAME >= threshold:
                groups = 1 if point.watchlist_size >= size else math.ceil(size / point.watchlist_size)
                bounds.append(min(_FACES, groups * point.false_alerts_per_10k))
        return min(bounds) if bounds else None

    def _true_match_floor(self, size: int, threshold: float, own: float | None) -> float | None:
        """Roughly the least share found at ``threshold`` the measurements support; None: not measured."""
        if own is not None and threshold >= own - _SAME:
            return self._on_log_size(size, lambda point: point.true_match_rate)
        larger = [point for point in self.points if point.watchlist_size >= size]
        for looser, stricter in itertools.pairwise(larger):
            if looser.threshold >= threshold >= stricter.threshold and looser.threshold > stricter.threshold:
                step = (threshold - looser.threshold) / (stricter.threshold - looser.threshold)
                return looser.true_match_rate + step * (stricter.true_match_rate - looser.true_match_rate)
        exact = [point for point in larger if abs(point.threshold - threshold) <= _SAME]
        return exact[0].true_match_rate if exact else None


def _per_10k(rate: float) -> str:
    return f"{rate:,.1f}" if rate >= 0.1 else f"{rate:.2g}"


DLIB_TABLE = OperatingTable(DLIB_MODEL_ID, MEASURED)
"""dlib's ResNet, measured on LFW (module docstring)."""


def table_for(
    model_id: str,
    manifest_points: Sequence[ManifestOperatingPoint] = (),
    *,
    distance_threshold: float | None = None,
) -> OperatingTable:
    """The operating table of a network.

    Args:
        model_id: the network's id.
        manifest_points: its manifest's ``operating_points`` (ignored for dlib's, whose table ships).
        distance_threshold: its manifest's :attr:`~vigil.vision.face_model.FaceModelManifest.distance_threshold`,
            run at every size when the manifest has no operating points.

    Returns:
        :data:`DLIB_TABLE` for dlib's ResNet; else the manifest's measured points; else an uncalibrated table.

    Raises:
        ValueError: a network other than dlib's with neither operating points nor a threshold.
    """
    if model_id == DLIB_MODEL_ID:
        return DLIB_TABLE
    if manifest_points:
        return OperatingTable(
            model_id,
            tuple(
                OperatingPoint(p.watchlist_size, p.threshold, p.true_match_rate, p.false_alerts_per_10k)
                for p in manifest_points
            ),
        )
    if distance_threshold is None:
        raise ValueError(f"{model_id} is not dlib's ResNet: give its manifest's operating points or threshold")
    return OperatingTable(model_id, (), uncalibrated_threshold=distance_threshold)


def table_for_manifest(manifest: FaceModelManifest) -> OperatingTable:
    """The operating table a manifest's network runs by: its measured points, else its one threshold."""
    return table_for(
        manifest.identity.model_id, manifest.operating_points, distance_threshold=manifest.distance_threshold
    )


def table_for_embedder(embedder: Embedder) -> OperatingTable:
    """The operating table of the network an embedder runs: dlib's shipped one, or its manifest's."""
    if isinstance(embedder, SlotEmbedder):
        return table_for_manifest(embedder.manifest)
    return table_for(embedder.model.model_id)


def threshold_for_size(watchlist_size: int) -> float:
    """The operating threshold of dlib's ResNet for a watchlist of this many people (see :data:`DLIB_TABLE`).

    Args:
        watchlist_size: W, people on the watchlist; an empty watchlist takes the one-person threshold.

    Returns:
        The distance threshold.
    """
    return DLIB_TABLE.threshold_for_size(watchlist_size)
