"""The face engine: one image in, every face out with its box, landmarks, quality and (on request) embedding.

It composes the plug-in parts (a :class:`~vigil.vision.detection.Detector`, the 5-point landmarker, alignment,
quality and an :class:`~vigil.vision.embedding.Embedder`) and bounds the work: an image larger than
``max_side_px`` is shrunk before detection, and every box and landmark is reported in the original image's
pixels. Faces, chips and embeddings live in memory only; nothing here writes or logs them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vigil.vision.alignment import align_face
from vigil.vision.detection import Detection, Detector
from vigil.vision.embedding import Embedder
from vigil.vision.image import RgbImage, fit_within
from vigil.vision.landmarks import FaceLandmarks, FivePointLandmarker
from vigil.vision.quality import FaceQuality, QualityPolicy, assess_quality


@dataclass(frozen=True)
class Face:
    """One face found in an image.

    Attributes:
        detection: the detector's box (original image pixels) and score.
        landmarks: the five landmarks, in original image pixels.
        quality: the quality verdict, measured at the size the engine processed.
        chip: the aligned 150×150 RGB chip. Biometric data: keep it in memory only.
        embedding: the (128,) float32 embedding, or None when not computed (see :meth:`FaceEngine.embed`).
    """

    detection: Detection
    landmarks: FaceLandmarks
    quality: FaceQuality
    chip: RgbImage
    embedding: npt.NDArray[np.float32] | None = None


class FaceEngine:
    """Finds, measures and embeds faces with the parts it is given."""

    def __init__(
        self,
        *,
        detector: Detector,
        landmarker: FivePointLandmarker,
        embedder: Embedder,
        quality_policy: QualityPolicy,
        max_side_px: int = 1600,
    ) -> None:
        """Assemble an engine.

        Args:
            detector: the face detector backend.
            landmarker: the 5-point landmark model.
            embedder: the embedding backend.
            quality_policy: the bounds faces are judged by.
            max_side_px: images are shrunk to at most this many pixels on the long side before detection.

        Raises:
            ValueError: ``max_side_px`` is below 64.
        """
        if max_side_px < 64:
            raise ValueError(f"max_side_px must be at least 64, got {max_side_px}")
        self.detector = detector
        self.embedder = embedder
        self._landmarker = landmarker
        self._policy = quality_policy
        self._max_side_px = max_side_px

    def find_faces(self, image: RgbImage) -> list[Face]:
        """Detect, align and judge every face, without embedding.

        Args:
            image: 8-bit RGB, shape (height, width, 3).

        Returns:
            The faces, in the detector's order (best score first), without embeddings.
        """
        working, scale = fit_within(image, self._max_side_px)
        faces = []
        for detection in self.detector.detect(working):
            landmarks = self._landmarker.locate(working, detection.box)
            chip = align_face(working, landmarks)
            quality = assess_quality(chip, landmarks, self._policy)
            faces.append(
                Face(
                    detection=replace(detection, box=detection.box.scaled(1 / scale)),
                    landmarks=FaceLandmarks(
                        box=landmarks.box.scaled(1 / scale), points=landmarks.points / np.float32(scale)
                    ),
                    quality=quality,
                    chip=chip,
                )
            )
        return faces

    def embed(self, faces: Sequence[Face]) -> list[Face]:
        """Embed faces in one batch.

        Args:
            faces: faces from :meth:`find_faces`.

        Returns:
            The same faces, in the same order, each with its embedding.
        """
        embeddings = self.embedder.embed([face.chip for face in faces])
        return [replace(face, embedding=row) for face, row in zip(faces, embeddings, strict=True)]

    def analyse(self, image: RgbImage) -> list[Face]:
        """Find and embed every face: :meth:`find_faces` then :meth:`embed`."""
        return self.embed(self.find_faces(image))
