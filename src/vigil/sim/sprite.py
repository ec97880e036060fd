"""Sprites: an actor's head-and-shoulders cut out of a photo, resized and alpha-composited over a frame.

The cut-out is the face box widened to about twice its size with the photo's own surroundings (hair, ears, neck and
shoulders), feathered at the edges so detectors see a natural face context. It is stored at a ladder of sizes, each
half the one before; a frame resizes the smallest level still at least as large as it needs
(:func:`level_for`), which is faster and alias-free. :mod:`vigil.sim.footage` places sprites along its walks.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vigil.vision.detection import Box
from vigil.vision.image import RgbImage

# The head-and-shoulders cut-out around a face box, in face widths (sideways from the face's centre) and face
# heights (above and below the box): hair, ears, neck and shoulders, as a detector sees them in a real frame.
_HEAD_SIDE = 1.1
_HEAD_ABOVE = 0.7
_HEAD_BELOW = 1.2
# The cut-out's edge fades over this fraction of its width.
_FEATHER = 0.06
# Cut-outs are stored with the face at most this wide (frames rarely show a larger face), and again at half,
# a quarter … of that size down to _SMALLEST_SPRITE_FACE_PX: each frame resizes the smallest one still at
# least as large as it needs, which is faster and alias-free.
_SPRITE_FACE_PX = 256
_SMALLEST_SPRITE_FACE_PX = 24


@dataclass(frozen=True)
class Sprite:
    """An actor's head-and-shoulders cut-out at one size.

    Attributes:
        rgba: RGB (0–255) and alpha (0–1), float32 (h, w, 4).
        face: where the face is in the cut-out, pixels.
    """

    rgba: npt.NDArray[np.float32]
    face: Box

    def resized(self, size: tuple[int, int]) -> npt.NDArray[np.float32]:
        """The cut-out resized to ``size`` (width, height), pixels: a new float32 (h, w, 4) array."""
        sprite_w, sprite_h = self.rgba.shape[1], self.rgba.shape[0]
        shrinking = size[0] < sprite_w or size[1] < sprite_h
        rgba = cv2.resize(self.rgba, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        return np.asarray(rgba, dtype=np.float32)


def cut_out(photo: RgbImage, face: Box) -> tuple[Sprite, ...]:
    """The head and shoulders around ``face`` with a feathered alpha edge, largest first (see _SPRITE_FACE_PX)."""
    centre_x = (face.left + face.right) / 2
    left = math.floor(centre_x - _HEAD_SIDE * face.width)
    right = math.ceil(centre_x + _HEAD_SIDE * face.width)
    top = math.floor(face.top - _HEAD_ABOVE * face.height)
    bottom = math.ceil(face.bottom + _HEAD_BELOW * face.height)
    height, width = photo.shape[:2]
    # Where the cut-out reaches past the photo, repeat its edge (no dark halo) and make it transparent.
    padded = cv2.copyMakeBorder(
        photo,
        max(0, -top),
        max(0, bottom - height),
        max(0, -left),
        max(0, right - width),
        cv2.BORDER_REPLICATE,
    )
    crop = padded[top + max(0, -top) : bottom + max(0, -top), left + max(0, -left) : right + max(0, -left)]
    inside = np.zeros(crop.shape[:2], dtype=np.float32)
    inside[max(0, -top) : height - top, max(0, -left) : width - left] = 1.0
    crop_h, crop_w = crop.shape[:2]
    ellipse = np.zeros((crop_h, crop_w), dtype=np.float32)
    cv2.ellipse(ellipse, (crop_w // 2, crop_h // 2), (round(crop_w * 0.46), round(crop_h * 0.46)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(ellipse * inside, (0, 0), _FEATHER * crop_w)
    rgba = np.dstack([crop.astype(np.float32), alpha]).astype(np.float32)
    factor = min(1.0, _SPRITE_FACE_PX / face.width)
    if factor < 1.0:
        size = (round(crop_w * factor), round(crop_h * factor))
        rgba = np.asarray(cv2.resize(rgba, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    levels = []
    while True:
        fx, fy = rgba.shape[1] / crop_w, rgba.shape[0] / crop_h
        level_face = Box(
            (face.left - left) * fx, (face.top - top) * fy, (face.right - left) * fx, (face.bottom - top) * fy
        )
        levels.append(Sprite(rgba=np.ascontiguousarray(rgba), face=level_face))
        if level_face.width < 2 * _SMALLEST_SPRITE_FACE_PX:
            return tuple(levels)
        half = (max(1, rgba.shape[1] // 2), max(1, rgba.shape[0] // 2))
        rgba = np.asarray(cv2.resize(rgba, half, interpolation=cv2.INTER_AREA), dtype=np.float32)


def level_for(levels: tuple[Sprite, ...], face_px: float) -> Sprite:
    """The smallest of ``levels`` (largest first) whose face is at least ``face_px`` wide; the largest if none is."""
    return next((level for level in reversed(levels) if level.face.width >= face_px), levels[0])


def composite(frame: RgbImage, rgba: npt.NDArray[np.float32], corner: tuple[int, int]) -> None:
    """Blend ``rgba`` (float32 (h, w, 4), alpha 0–1) into ``frame`` in place, its top-left corner at ``corner``.

    The parts outside the frame are left out.
    """
    frame_h, frame_w = frame.shape[:2]
    x0, y0 = corner
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(frame_w, x0 + rgba.shape[1]), min(frame_h, y0 + rgba.shape[0])
    if right <= left or bottom <= top:
        return
    part = rgba[top - y0 : bottom - y0, left - x0 : right - x0]
    alpha = part[:, :, 3:4]
    region = frame[top:bottom, left:right].astype(np.float32)
    blended = region + alpha * (part[:, :, :3] - region)
    frame[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
