"""Drawn face chips: inputs for checking an embedder against dlib on any machine, with no photos at hand.

No face photograph ships with Vigil or its dependencies, so a check that must run everywhere (building the
ONNX embedder, :mod:`vigil.vision.embedder_build`) draws its own chips: a face-shaped head at the aligned
chip's landmark positions (eyes, nose, mouth where dlib's alignment puts them), in varied skin tones, feature
sizes, lighting and backgrounds, with camera-like noise and blur. They are not people, but they drive dlib's
network through the same face-tuned filters a photo does, and their embeddings spread both sides of the 0.6
decision threshold, so a conversion error shows up in vectors and in decisions alike.
"""

import cv2
import numpy as np

from vigil.vision.alignment import CHIP_SIZE_PX
from vigil.vision.image import RgbImage

# Where dlib's 5-point alignment (padding 0.25) puts the features in a 150 px chip, measured on the mean chip
# of the project's test photos.
_LEFT_EYE = (48, 47)
_RIGHT_EYE = (102, 47)
_NOSE_TIP = (75, 80)
_MOUTH = (75, 106)


def synthetic_face_chips(count: int, *, seed: int = 0) -> list[RgbImage]:
    """Draw ``count`` different face-like chips.

    Args:
        count: how many chips.
        seed: the random seed; the same seed gives the same chips with the same NumPy.

    Returns:
        RGB chips, each (150, 150, 3) uint8.

    Raises:
        ValueError: ``count`` is negative.
    """
    if count < 0:
        raise ValueError(f"count must be at least 0, got {count}")
    rng = np.random.default_rng(seed)
    return [_draw_face(rng) for _ in range(count)]


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in rng.integers(low, high, size=3))
    return red, green, blue


def _draw_face(rng: np.random.Generator) -> RgbImage:
    size = CHIP_SIZE_PX
    chip = np.empty((size, size, 3), dtype=np.uint8)
    chip[:] = _colour(rng, 30, 220)
    shift = rng.integers(-3, 4, size=2)  # alignment is never exact
    left_eye, right_eye, nose_tip, mouth = (
        (int(x + shift[0]), int(y + shift[1])) for x, y in (_LEFT_EYE, _RIGHT_EYE, _NOSE_TIP, _MOUTH)
    )

    skin_level = float(rng.uniform(0.3, 1.0))
    skin = (int(235 * skin_level), int(185 * skin_level), int(150 * skin_level))
    centre = (75 + int(shift[0]), 72 + int(shift[1]))
    axes = (int(rng.integers(46, 62)), int(rng.integers(62, 78)))
    hair = _colour(rng, 10, 140)
    cv2.ellipse(chip, centre, (axes[0] + 4, axes[1] + 4), 0, 0, 360, hair, -1)
    head = np.zeros((size, size), dtype=np.uint8)
    cv2.ellipse(head, centre, axes, 0, 0, 360, 255, -1)
    head[: int(rng.integers(5, 30))] = 0  # the hairline
    chip[head > 0] = skin
    if rng.random() < 0.35:  # a beard
        beard = np.zeros_like(head)
        cv2.ellipse(beard, (mouth[0], mouth[1] + 4), (axes[0] - 6, 30), 0, 0, 180, 255, -1)
        chip[(beard > 0) & (head > 0)] = hair

    eye_size = (int(rng.integers(9, 14)), int(rng.integers(4, 7)))
    iris = _colour(rng, 20, 140)
    brow_lift = int(rng.integers(9, 16))
    brow_width = int(rng.integers(2, 6))
    for eye in (left_eye, right_eye):
        cv2.ellipse(chip, eye, eye_size, 0, 0, 360, (235, 235, 230), -1)
        cv2.circle(chip, eye, eye_size[1], iris, -1)
        cv2.circle(chip, eye, max(1, eye_size[1] // 2), (15, 15, 15), -1)
        cv2.line(
            chip,
            (eye[0] - eye_size[0], eye[1] - brow_lift),
            (eye[0] + eye_size[0], eye[1] - brow_lift - int(rng.integers(-3, 4))),
            hair,
            brow_width,
        )
    if rng.random() < 0.3:  # glasses
        frame = _colour(rng, 0, 90)
        for eye in (left_eye, right_eye):
            cv2.circle(chip, eye, eye_size[0] + 5, frame, 2)
        cv2.line(
            chip, (left_eye[0] + eye_size[0] + 5, left_eye[1]), (right_eye[0] - eye_size[0] - 5, right_eye[1]), frame, 2
        )

    shade = tuple(int(c * 0.7) for c in skin)
    nose_width = int(rng.integers(6, 13))
    nose = np.array(
        [
            (nose_tip[0], nose_tip[1] - 28),
            (nose_tip[0] - nose_width, nose_tip[1]),
            (nose_tip[0] + nose_width, nose_tip[1]),
        ],
        dtype=np.int32,
    )
    cv2.polylines(chip, [nose], isClosed=False, color=shade, thickness=2)
    lips = (int(rng.integers(110, 200)), int(rng.integers(40, 90)), int(rng.integers(50, 100)))
    mouth_size = (int(rng.integers(14, 26)), int(rng.integers(3, 10)))
    cv2.ellipse(chip, mouth, mouth_size, 0, 0, 180 if rng.random() < 0.6 else 360, lips, -1)

    # Light from one side, sensor noise and a little defocus, as in a real frame.
    gradient = np.linspace(-1.0, 1.0, size, dtype=np.float32)[None, :, None] * float(rng.uniform(-40, 40))
    noise = rng.normal(0.0, float(rng.uniform(2, 8)), size=chip.shape).astype(np.float32)
    lit = np.clip(chip.astype(np.float32) + gradient + noise, 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(lit, (0, 0), float(rng.uniform(0.6, 1.6)))
    return np.ascontiguousarray(blurred, dtype=np.uint8)
