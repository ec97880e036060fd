"""Face embeddings: a vector per aligned chip, near for the same person, far for different people.

:class:`Embedder` is the seam: dlib's ResNet (:class:`DlibEmbedder`) is the reference implementation; a faster
backend only has to turn the same chips into the same vectors, as
:class:`~vigil.vision.onnx_embedder.OnnxEmbedder` does with the same network run by ONNX Runtime. Another network
(:class:`~vigil.vision.model_slot.SlotEmbedder`, a force's own) takes the same 150 px dlib chips, cuts its own
alignment from them, and returns vectors of its own size; every embedder names its network
(:attr:`Embedder.model`), because vectors of two networks cannot be compared.
"""

from collections.abc import Sequence
from typing import Protocol

import dlib
import numpy as np
import numpy.typing as npt

from vigil.vision.alignment import CHIP_SIZE_PX
from vigil.vision.face_model import DLIB_MODEL, ModelIdentity
from vigil.vision.image import RgbImage
from vigil.vision.models import DLIB_FACE_RECOGNITION, locate_model

Embeddings = npt.NDArray[np.float32]
"""Face embeddings, shape (n, d), one row per chip; d is the network's ``embedding_size`` (128 for dlib's)."""

DEFAULT_THRESHOLD = 0.6
"""Euclidean distance at or below which dlib's model calls two faces the same person (dlib's own figure)."""


class Embedder(Protocol):
    """Turns aligned face chips into embeddings."""

    @property
    def name(self) -> str:
        """A short name for reports, e.g. ``"dlib"``."""
        ...

    @property
    def model(self) -> ModelIdentity:
        """The network the embeddings come from; only embeddings of the same model may be compared."""
        ...

    def embed(self, chips: Sequence[RgbImage]) -> Embeddings:
        """Embed a batch of aligned chips.

        Args:
            chips: RGB chips from :func:`vigil.vision.alignment.align_face`, each (150, 150, 3) uint8, whatever
                the network; one that wants another alignment cuts it from the chip.

        Returns:
            One row per chip, shape (len(chips), d) with d = ``model.embedding_size``, float32; (0, d) for no
            chips. A cosine network's rows have unit length.
        """
        ...


class DlibEmbedder:
    """dlib's ResNet-29 face recognition model (99.38 % on LFW), from ``face_recognition_models``."""

    def __init__(self) -> None:
        """Load and checksum the model.

        Raises:
            ModelNotInstalled: ``face_recognition_models`` is missing.
            ModelChecksumMismatch: the model file is damaged.
        """
        self._model = dlib.face_recognition_model_v1(str(locate_model(DLIB_FACE_RECOGNITION)))

    @property
    def name(self) -> str:
        """``"dlib"``."""
        return "dlib"

    @property
    def model(self) -> ModelIdentity:
        """The network: dlib's ResNet (:data:`~vigil.vision.face_model.DLIB_MODEL`)."""
        return DLIB_MODEL

    def embed(self, chips: Sequence[RgbImage]) -> Embeddings:
        """Embed a batch of chips; see :meth:`Embedder.embed`.

        Raises:
            ValueError: a chip is not (150, 150, 3) uint8.
        """
        validate_chips(chips)
        if not chips:
            return np.zeros((0, DLIB_MODEL.embedding_size), dtype=np.float32)
        vectors = self._model.compute_face_descriptor(list(chips))
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


def validate_chips(chips: Sequence[RgbImage]) -> None:
    """Check that every chip is what :meth:`Embedder.embed` takes.

    Raises:
        ValueError: a chip is not (150, 150, 3) uint8; the message names the first such chip.
    """
    for index, chip in enumerate(chips):
        if chip.shape != (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) or chip.dtype != np.uint8:
            raise ValueError(
                f"chip {index} must be ({CHIP_SIZE_PX}, {CHIP_SIZE_PX}, 3) uint8, got {chip.shape} {chip.dtype}"
            )


def face_distance(first: npt.NDArray[np.float32], second: npt.NDArray[np.float32]) -> float:
    """Euclidean distance between two embeddings; compare with :data:`DEFAULT_THRESHOLD`."""
    return float(np.linalg.norm(first.astype(np.float64) - second.astype(np.float64)))
