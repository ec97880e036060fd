"""Alignment: cut a face out of an image as the 150×150 chip dlib's face recognition network was trained on."""

import dlib
import numpy as np

from vigil.vision.image import RgbImage
from vigil.vision.landmarks import FaceLandmarks

CHIP_SIZE_PX = 150
"""Side of an aligned chip, in pixels; dlib's ResNet takes exactly this size."""

CHIP_PADDING = 0.25
"""Margin around the landmarks, as a fraction of the face size; dlib's default and the network's training."""


def align_face(image: RgbImage, landmarks: FaceLandmarks) -> RgbImage:
    """Rotate, scale and crop one face to the standard chip.

    The transform maps the five landmarks onto dlib's mean face shape, exactly as ``dlib.get_face_chip``
    does, so every embedder backend sees the pixels the reference dlib network would.

    Args:
        image: the RGB image the landmarks refer to.
        landmarks: the face's five landmarks.

    Returns:
        The aligned chip: RGB, shape (150, 150, 3), dtype uint8.
    """
    chip = dlib.get_face_chip(image, landmarks.to_dlib(), size=CHIP_SIZE_PX, padding=CHIP_PADDING)
    return np.ascontiguousarray(chip, dtype=np.uint8)
