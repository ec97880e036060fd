"""ArcFace alignment: the 112×112 five-point chip most face networks since 2018 expect, cut from a dlib chip.

Every embedder takes the engine's 150 px dlib chip (:mod:`vigil.vision.alignment`), so a stored chip is enough to
re-embed a watchlist with another network. A network trained on ArcFace's alignment (InsightFace, SFace …) wants
five points (eye centres, nose tip, mouth corners) on a fixed template in a 112 px square. Here dlib's 68-point
shape predictor finds those points in the chip, a similarity transform (rotation, uniform scale, shift; Umeyama's
least squares, as InsightFace fits it) takes them onto the template, and the chip is warped.

The ArcFace square is wider than the dlib chip's view of the face: eye to eye it spans about 172 of the chip's
pixels, so the top fifth of the 112 px chip (forehead and hair, about 21 rows) and a few columns at each side lie
outside the 150 px chip and are filled with black, as InsightFace fills what lies beyond a photo's edge. A
network that leans on the forehead loses a little there; cutting the ArcFace chip from the photo itself would
need the engine to keep more than the dlib chip.
"""

from collections.abc import Sequence

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from vigil.vision.embedding import validate_chips
from vigil.vision.image import RgbImage
from vigil.vision.models import DLIB_SHAPE_PREDICTOR_68, locate_model

ARCFACE_SIZE_PX = 112
"""Side of an ArcFace chip, pixels."""

ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
"""Where ArcFace puts the five points in its 112 px chip, (x, y): the eye nearer the image's left edge, the other
eye, the nose tip, the mouth corner nearer the image's left edge, the other mouth corner."""

# dlib's HOG detector box, mapped into the chips it leads to, lies on average at (6, 8)–(141, 137) (exclusive
# right and bottom; over the 29 faces of the project's test photos). The 68-point predictor, trained on such
# boxes, finds the five points in a chip 0.9 px on average from where it finds them in the photo itself; with the
# tighter (25, 25)–(125, 125) it is 1.1 px. dlib's rectangle takes inclusive right and bottom edges.
_CHIP_FACE_BOX = (6, 8, 140, 136)

# Index ranges in dlib's 68-point layout (iBUG 300-W).
_IMAGE_LEFT_EYE = slice(36, 42)
_IMAGE_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_IMAGE_LEFT_MOUTH = 48
_IMAGE_RIGHT_MOUTH = 54


def similarity_transform(source: npt.NDArray[np.float64], target: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The rotation, uniform scale and shift that best take ``source`` points onto ``target`` (least squares).

    Umeyama's closed form (1991), the fit InsightFace uses for its ArcFace crops.

    Args:
        source: (n, 2) points, n ≥ 2, not all at one place.
        target: (n, 2) points they should land on.

    Returns:
        The (2, 3) affine matrix ``[s·R | t]`` that ``cv2.warpAffine`` takes.

    Raises:
        ValueError: the arrays differ in shape, are not (n, 2) with n ≥ 2, or the source points coincide.
    """
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or source.shape[0] < 2:
        raise ValueError(f"need two equal (n, 2) point arrays with n >= 2, got {source.shape} and {target.shape}")
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    centred_source = source - source_mean
    centred_target = target - target_mean
    variance = float((centred_source**2).sum()) / len(source)
    if variance <= 0:
        raise ValueError("the source points all lie at one place; no transform is defined")
    covariance = centred_target.T @ centred_source / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflection[1, 1] = -1.0
    rotation = u @ reflection @ vt
    scale = float(np.trace(np.diag(singular) @ reflection)) / variance
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - scale * rotation @ source_mean
    return matrix


class ArcFaceAligner:
    """Cuts ArcFace's 112 px five-point chip from dlib chips, with dlib's 68-point shape predictor (~2 ms a chip)."""

    def __init__(self) -> None:
        """Load and checksum the 68-point shape predictor.

        Raises:
            ModelNotInstalled: ``face_recognition_models`` is missing.
            ModelChecksumMismatch: the model file is damaged.
        """
        self._predictor = dlib.shape_predictor(str(locate_model(DLIB_SHAPE_PREDICTOR_68)))
        self._box = dlib.rectangle(*_CHIP_FACE_BOX)

    def five_points(self, chip: RgbImage) -> npt.NDArray[np.float64]:
        """Find ArcFace's five points in a dlib chip.

        Args:
            chip: a (150, 150, 3) uint8 RGB chip from :func:`vigil.vision.alignment.align_face`.

        Returns:
            (5, 2) chip pixel positions (x, y) in :data:`ARCFACE_TEMPLATE`'s order.

        Raises:
            ValueError: the chip is not (150, 150, 3) uint8.
        """
        validate_chips([chip])
        shape = self._predictor(chip, self._box)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return np.stack(
            [
                points[_IMAGE_LEFT_EYE].mean(axis=0),
                points[_IMAGE_RIGHT_EYE].mean(axis=0),
                points[_NOSE_TIP],
                points[_IMAGE_LEFT_MOUTH],
                points[_IMAGE_RIGHT_MOUTH],
            ]
        )

    def transform(self, chip: RgbImage) -> npt.NDArray[np.float64]:
        """The (2, 3) affine matrix that takes a dlib chip's pixels to its ArcFace chip's.

        Raises:
            ValueError: the chip is not (150, 150, 3) uint8.
        """
        return similarity_transform(self.five_points(chip), ARCFACE_TEMPLATE)

    def align(self, chips: Sequence[RgbImage]) -> list[RgbImage]:
        """Cut the ArcFace chip from each dlib chip.

        Args:
            chips: (150, 150, 3) uint8 RGB chips.

        Returns:
            One (112, 112, 3) uint8 RGB chip each, in order; what lies outside the dlib chip is black.

        Raises:
            ValueError: a chip is not (150, 150, 3) uint8.
        """
        validate_chips(chips)
        aligned = []
        for chip in chips:
            warped = cv2.warpAffine(
                chip,
                self.transform(chip),
                (ARCFACE_SIZE_PX, ARCFACE_SIZE_PX),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0, 0, 0),
            )
            aligned.append(np.ascontiguousarray(warped, dtype=np.uint8))
        return aligned
