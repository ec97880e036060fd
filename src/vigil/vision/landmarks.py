"""Five facial landmarks from dlib's 5-point shape predictor: the corners of both eyes and the base of the nose.

Whatever the detector, these points align the face (see :mod:`vigil.vision.alignment`) and give the pose
used by :mod:`vigil.vision.quality`.
"""

from dataclasses import dataclass

import dlib
import numpy as np
import numpy.typing as npt

from vigil.vision.detection import Box
from vigil.vision.image import RgbImage
from vigil.vision.models import DLIB_SHAPE_PREDICTOR_5, locate_model

# Index ranges in dlib's 5-point layout: points 0–1 are the outer and inner corner of the eye on the image's
# right, points 2–3 the outer and inner corner of the eye on the image's left, point 4 the base of the nose.
_IMAGE_RIGHT_EYE = slice(0, 2)
_IMAGE_LEFT_EYE = slice(2, 4)
_NOSE = 4


@dataclass(frozen=True)
class FaceLandmarks:
    """The five landmarks of one face.

    Attributes:
        box: the detector box the points were predicted from, in image pixels.
        points: (5, 2) float32 array of (x, y) pixel positions in dlib's 5-point order.
    """

    box: Box
    points: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        if self.points.shape != (5, 2):
            raise ValueError(f"five (x, y) landmarks expected, got an array of shape {self.points.shape}")

    @property
    def image_left_eye(self) -> npt.NDArray[np.float32]:
        """Centre (x, y) of the eye nearer the image's left edge."""
        return np.asarray(self.points[_IMAGE_LEFT_EYE].mean(axis=0), dtype=np.float32)

    @property
    def image_right_eye(self) -> npt.NDArray[np.float32]:
        """Centre (x, y) of the eye nearer the image's right edge."""
        return np.asarray(self.points[_IMAGE_RIGHT_EYE].mean(axis=0), dtype=np.float32)

    @property
    def nose(self) -> npt.NDArray[np.float32]:
        """The base of the nose (x, y)."""
        return np.asarray(self.points[_NOSE], dtype=np.float32)

    @property
    def interocular_px(self) -> float:
        """Distance between the two eye centres, in pixels."""
        return float(np.linalg.norm(self.image_right_eye - self.image_left_eye))

    def to_dlib(self) -> "dlib.full_object_detection":
        """The same landmarks as the dlib object that ``dlib.get_face_chip`` takes."""
        return dlib.full_object_detection(
            to_dlib_rectangle(self.box), [dlib.point(round(x), round(y)) for x, y in self.points.tolist()]
        )


def to_dlib_rectangle(box: Box) -> "dlib.rectangle":
    """Convert a box to dlib's rectangle, whose right and bottom edges are inclusive."""
    return dlib.rectangle(round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1)


class FivePointLandmarker:
    """dlib's 5-point shape predictor (about 1 ms a face), loaded from ``face_recognition_models``."""

    def __init__(self) -> None:
        """Load and checksum the model.

        Raises:
            ModelNotInstalled: ``face_recognition_models`` is missing.
            ModelChecksumMismatch: the model file is damaged.
        """
        self._predictor = dlib.shape_predictor(str(locate_model(DLIB_SHAPE_PREDICTOR_5)))

    def locate(self, image: RgbImage, box: Box) -> FaceLandmarks:
        """Predict the five landmarks of the face in ``box``.

        Args:
            image: the RGB image the box refers to.
            box: a face box framed like dlib's HOG detector frames faces.

        Returns:
            The landmarks, in image pixels.
        """
        shape = self._predictor(image, to_dlib_rectangle(box))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return FaceLandmarks(box=box, points=points)
