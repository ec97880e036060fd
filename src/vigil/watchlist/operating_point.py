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

W counts people, not photos: enrolling three photos per person raised the false alerts by 1.3–1.7× on LFW
(while raising the share found from 0.59 to 0.82 at 0.45), which this table does not yet account for.
"""

import math
from typing import NamedTuple

MODEL = "dlib_face_recognition_resnet_model_v1"
TARGET_FALSE_ALERTS_PER_10K = 1.0
_LEAST_THRESHOLD = 0.1


class OperatingPoint(NamedTuple):
    """One measured size.

    Attributes:
        watchlist_size: W, people on the watchlist.
        threshold: the largest distance threshold within the target at that size.
        true_match_rate: the share of listed people's other photos found at it (single photos).
    """

    watchlist_size: int
    threshold: float
    true_match_rate: float


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


def threshold_for_size(watchlist_size: int) -> float:
    """The operating threshold for a watchlist of this many people (module docstring).

    Args:
        watchlist_size: W, people on the watchlist; an empty watchlist takes the one-person threshold.

    Returns:
        The distance threshold, interpolated on log W between measured sizes, extrapolated beyond the largest
        (never below 0.1, where nobody would be found).
    """
    size = max(watchlist_size, 1)
    below = [point for point in MEASURED if point.watchlist_size <= size][-1]
    above = next((point for point in MEASURED if point.watchlist_size > size), None)
    if above is None:
        below, above = MEASURED[-2], MEASURED[-1]
    if below.watchlist_size == size:
        return below.threshold
    step = (math.log(size) - math.log(below.watchlist_size)) / (
        math.log(above.watchlist_size) - math.log(below.watchlist_size)
    )
    return max(_LEAST_THRESHOLD, below.threshold + step * (above.threshold - below.threshold))
