"""Backgrounds for test video: a generated street-like texture, or a photo cropped to the frame."""

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vigil.vision.image import RgbImage, load_image


def textured_background(width: int, height: int, *, seed: int) -> RgbImage:
    """An empty street-like scene in muted colours: a gradient, blocks, soft shading and grain; no faces.

    Args:
        width: pixels.
        height: pixels.
        seed: the random seed; the same seed gives the same image with the same NumPy and OpenCV.

    Returns:
        8-bit RGB, shape (height, width, 3).

    Raises:
        ValueError: a side is below 16 px.
    """
    if width < 16 or height < 16:
        raise ValueError(f"a background is at least 16×16 px, got {width}×{height}")
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    upper, lower = _muted(rng, 110, 200), _muted(rng, 60, 140)
    image = np.broadcast_to(upper * (1 - ramp) + lower * ramp, (height, width, 3)).copy()
    for _ in range(14):  # facades, windows, doors
        x0, x1 = sorted(rng.integers(0, width, size=2))
        y0, y1 = sorted(rng.integers(0, height, size=2))
        image[y0:y1, x0:x1] = 0.5 * image[y0:y1, x0:x1] + 0.5 * _muted(rng, 40, 220)
    image = cv2.GaussianBlur(image, (0, 0), 1.5)
    shading = _smooth_noise(rng, (5, 8), (width, height), sigma=20.0, interpolation=cv2.INTER_CUBIC)
    texture = _smooth_noise(rng, (height // 8 + 1, width // 8 + 1), (width, height), sigma=7.0)
    grain = rng.normal(0, 3, size=(height, width)).astype(np.float32)
    light = (shading + texture + grain)[:, :, None]
    return np.ascontiguousarray(np.clip(np.rint(image + light), 0, 255).astype(np.uint8))


def _muted(rng: np.random.Generator, low: float, high: float) -> npt.NDArray[np.float32]:
    """A greyish RGB colour: a grey level between ``low`` and ``high`` with a slight tint, shape (3,)."""
    return (rng.uniform(low, high) + rng.uniform(-18, 18, size=3)).astype(np.float32)


def _smooth_noise(
    rng: np.random.Generator,
    grid: tuple[int, int],
    size: tuple[int, int],
    *,
    sigma: float,
    interpolation: int = cv2.INTER_LINEAR,
) -> npt.NDArray[np.float32]:
    """Gaussian noise on a (rows, columns) grid, resized smoothly to ``size`` (width, height)."""
    noise = rng.normal(0, sigma, size=grid).astype(np.float32)
    return np.asarray(cv2.resize(noise, size, interpolation=interpolation), dtype=np.float32)


def photo_background(photo: Path, width: int, height: int) -> RgbImage:
    """A photo scaled to cover ``width`` × ``height`` and cropped to it about its centre.

    Returns:
        8-bit RGB, shape (height, width, 3).

    Raises:
        ImageError: the photo cannot be read.
    """
    image = load_image(photo)
    photo_h, photo_w = image.shape[:2]
    scale = max(width / photo_w, height / photo_h)
    scaled_w, scaled_h = max(width, round(photo_w * scale)), max(height, round(photo_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (scaled_w, scaled_h), interpolation=interpolation)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])
