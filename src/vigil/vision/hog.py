"""dlib's HOG + linear SVM face detector: accurate on frontal faces, slow on small ones (it must upsample)."""

import dlib

from vigil.vision.detection import Box, Detection
from vigil.vision.image import RgbImage


class HogDetector:
    """The HOG detector shipped inside dlib.

    Each upsample doubles the image before scanning: dlib's 80×80 px window then finds faces down to about
    40 px wide, at about four times the cost.
    """

    def __init__(self, *, upsample: int = 1, min_score: float = 0.0) -> None:
        """Create the detector.

        Args:
            upsample: how many times to double the image before scanning (0 to 3).
            min_score: the lowest SVM score kept; 0 is dlib's own default.

        Raises:
            ValueError: ``upsample`` is outside 0–3.
        """
        if not 0 <= upsample <= 3:
            raise ValueError(f"upsample must be between 0 and 3, got {upsample}")
        self._detector = dlib.get_frontal_face_detector()
        self._upsample = upsample
        self._min_score = min_score

    @property
    def name(self) -> str:
        """``"hog"``."""
        return "hog"

    def detect(self, image: RgbImage) -> list[Detection]:
        """Find every face; see :meth:`vigil.vision.detection.Detector.detect`."""
        rectangles, scores, _ = self._detector.run(image, self._upsample, self._min_score)
        detections = [
            Detection(Box(r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(score))
            for r, score in zip(rectangles, scores, strict=True)
        ]
        return sorted(detections, key=lambda d: d.score, reverse=True)
