"""Several faces of one person made into one embedding: a subject's enrolment photos, or a track's frames.

The fused embedding is the quality-weighted mean of the faces' embeddings. A face's weight is its quality score
(:class:`~vigil.vision.quality.FaceQuality`, 0 to 1), raised to a small floor so that a set of faces that all
scored 0 still has a mean and no face is dropped outright. A cosine network compares directions, and the mean of
unit vectors is shorter than one, so its fused embedding is scaled back to unit length (``unit_length``); a
Euclidean network's (dlib's) mean is kept as it is, where its distances were measured.

Averaging cancels what differs between the faces (pose, light, blur) and keeps what they share, the person; how
much that moves the false-alert rate on real faces is measured by :func:`vigil.watchlist.open_set.measure_open_set`
with ``enrol_photos`` and ``probe_frames``.
"""

import numpy as np
import numpy.typing as npt

WEIGHT_FLOOR = 0.05
"""The least weight a face gets, whatever its quality score."""


def fuse(
    embeddings: npt.NDArray[np.float32], weights: npt.NDArray[np.float32] | None, *, unit_length: bool
) -> npt.NDArray[np.float32]:
    """One embedding for several faces of one person: their quality-weighted mean.

    Args:
        embeddings: (n, d) float32, n ≥ 1, the faces' embeddings.
        weights: (n,) quality scores, each raised to :data:`WEIGHT_FLOOR`; None weighs the faces equally.
        unit_length: scale the mean to unit length (for a cosine network).

    Returns:
        The (d,) float32 fused embedding.

    Raises:
        ValueError: no faces, embeddings not (n, d), weights not (n,) or not finite, or a mean of length 0 to
            scale to unit length.
    """
    if embeddings.ndim != 2 or embeddings.shape[0] == 0:
        raise ValueError(f"fusing needs (n, d) embeddings of at least one face, got shape {embeddings.shape}")
    groups = np.zeros(embeddings.shape[0], dtype=np.int64)
    fused: npt.NDArray[np.float32] = fuse_groups(embeddings, groups, weights, unit_length=unit_length)[0]
    return fused


def fuse_groups(
    embeddings: npt.NDArray[np.float32],
    groups: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32] | None,
    *,
    unit_length: bool,
) -> npt.NDArray[np.float32]:
    """:func:`fuse` for many people at once: the rows of each group fused into one.

    Args:
        embeddings: (n, d) float32.
        groups: (n,) int64, the group of each row, 0 to g − 1, every group with at least one row.
        weights: (n,) quality scores, or None for equal weights.
        unit_length: scale each mean to unit length.

    Returns:
        (g, d) float32, row ``j`` the fusion of group ``j``'s rows.

    Raises:
        ValueError: shapes that disagree, a group without rows, weights not finite, or a mean of length 0 to
            scale to unit length.
    """
    if embeddings.ndim != 2 or groups.shape != (embeddings.shape[0],):
        raise ValueError(f"embeddings must be (n, d) and groups (n,); got {embeddings.shape} and {groups.shape}")
    if groups.size and groups.min() < 0:
        raise ValueError("group numbers must not be negative")
    count = int(groups.max()) + 1 if groups.size else 0
    if np.bincount(groups, minlength=count).min(initial=1) == 0:
        raise ValueError(f"every group from 0 to {count - 1} needs at least one face")
    if weights is None:
        scaled = np.ones(groups.size, dtype=np.float64)
    else:
        if weights.shape != groups.shape or not np.all(np.isfinite(weights)):
            raise ValueError(f"weights must be {groups.shape[0]} finite quality scores, got shape {weights.shape}")
        scaled = np.maximum(weights.astype(np.float64), WEIGHT_FLOOR)
    sums = np.zeros((count, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, groups, embeddings.astype(np.float64) * scaled[:, None])
    means = sums / np.bincount(groups, weights=scaled, minlength=count)[:, None]
    if unit_length:
        lengths = np.linalg.norm(means, axis=1)
        if np.any(lengths == 0):
            raise ValueError("the faces' embeddings cancel out: their mean has no direction to scale to unit length")
        means = means / lengths[:, None]
    return means.astype(np.float32)
