"""Safe image loading: decode only what is a reasonable photo, always to 8-bit RGB in upright orientation.

Every image that enters Vigil passes through :func:`load_image`. It refuses a file before decoding it when
the header promises too many pixels (a decompression bomb), turns each decoder failure into a specific
:class:`~vigil.vision.errors.ImageError`, applies the EXIF orientation and converts any bit depth and
alpha channel to plain RGB, which is what every detector and embedder takes.
"""

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.vision.errors import (
    CorruptImage,
    EmptyImage,
    ImageTooLarge,
    NotAnImage,
    UnsupportedImage,
)

RgbImage = npt.NDArray[np.uint8]
"""An 8-bit RGB image, shape (height, width, 3), C-contiguous."""

READABLE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


@dataclass(frozen=True)
class ImageLimits:
    """What :func:`load_image` accepts.

    Attributes:
        max_pixels: the most pixels (width × height) an image may declare; larger ones are refused unread.
        max_bytes: the largest encoded file, in bytes.
    """

    max_pixels: int = 64_000_000
    max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_pixels <= 0 or self.max_bytes <= 0:
            raise ValueError(
                f"image limits must be positive, got max_pixels={self.max_pixels}, max_bytes={self.max_bytes}"
            )


def load_image(source: Path | bytes, limits: ImageLimits | None = None) -> RgbImage:
    """Decode a JPEG, PNG or WebP file (or its bytes) to upright 8-bit RGB.

    Args:
        source: a path to the file, or the encoded bytes themselves.
        limits: size limits; the defaults allow any ordinary camera photo.

    Returns:
        The image, shape (height, width, 3), dtype uint8, EXIF orientation applied, alpha composited on white.

    Raises:
        EmptyImage: the input has no bytes.
        NotAnImage: the bytes are no image format at all.
        UnsupportedImage: an image, but not JPEG, PNG or WebP, or in a pixel mode Vigil does not read.
        ImageTooLarge: over ``limits.max_bytes`` or ``limits.max_pixels``; the pixels are never decoded.
        CorruptImage: damaged or truncated data.
        FileNotFoundError: the path does not exist.
    """
    limits = limits or ImageLimits()
    label = str(source) if isinstance(source, Path) else "<bytes>"
    data = _read_bytes(source, label=label, limits=limits)
    if not data:
        raise EmptyImage("the file is empty (0 bytes)", source=label)
    picture = _open(data, label=label, limits=limits)
    try:
        picture.load()
        picture = ImageOps.exif_transpose(picture)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the {picture.format} data is damaged or cut short ({exc})", source=label) from exc
    return _to_rgb(picture, label=label)


def fit_within(image: RgbImage, max_side_px: int) -> tuple[RgbImage, float]:
    """Shrink an image so that its longer side is at most ``max_side_px``; smaller images pass unchanged.

    Args:
        image: the RGB image.
        max_side_px: the longest side allowed, in pixels.

    Returns:
        The (possibly) resized image and the scale applied (new size / old size, at most 1.0).
    """
    height, width = image.shape[:2]
    scale = max_side_px / max(height, width)
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized, dtype=np.uint8), scale


def _read_bytes(source: Path | bytes, *, label: str, limits: ImageLimits) -> bytes:
    if isinstance(source, bytes):
        size = len(source)
        data = source
    else:
        size = source.stat().st_size
        data = b""
    if size > limits.max_bytes:
        raise ImageTooLarge(f"the file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes", source=label)
    if isinstance(source, Path):
        data = source.read_bytes()
    return data


def _open(data: bytes, *, label: str, limits: ImageLimits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns before it raises; either way the answer is "too large".
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise NotAnImage("not a JPEG, PNG or WebP image (the first bytes match no image format)", source=label) from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(
            f"the image declares far too many pixels; the limit is {limits.max_pixels:,} px", source=label
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the image data is damaged or cut short ({exc})", source=label) from exc
    if picture.format not in READABLE_FORMATS:
        raise UnsupportedImage(
            f"{picture.format} images are not accepted; convert it to JPEG, PNG or WebP", source=label
        )
    width, height = picture.size
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {width:,}×{height:,} px ({width * height:,} px); the limit is {limits.max_pixels:,} px",
            source=label,
        )
    if width == 0 or height == 0:
        raise CorruptImage(f"the image declares a size of {width}×{height} px", source=label)
    return picture


def _to_rgb(picture: Image.Image, *, label: str) -> RgbImage:
    mode = picture.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        # 16-bit greyscale: keep the top 8 bits of the 0–65535 range.
        grey = np.asarray(picture, dtype=np.float64) / 257.0
        return _grey_to_rgb(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    if mode == "F":
        values = np.asarray(picture, dtype=np.float64)
        peak = float(np.nanmax(values)) if values.size else 0.0
        grey = values * 255.0 if peak <= 1.0 else values
        return _grey_to_rgb(np.clip(np.rint(np.nan_to_num(grey)), 0, 255).astype(np.uint8))
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, rgba)
    try:
        rgb = picture.convert("RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedImage(f"pixel mode {mode} cannot be converted to RGB", source=label) from exc
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _grey_to_rgb(grey: npt.NDArray[np.uint8]) -> RgbImage:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def encode_jpeg(image: RgbImage, *, quality: int = 90) -> bytes:
    """Encode an RGB image as JPEG.

    Args:
        image: 8-bit RGB, shape (height, width, 3).
        quality: JPEG quality, 1–100.

    Returns:
        The JPEG file's bytes.

    Raises:
        ValueError: the quality is out of range or the encoder refused the image.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality is 1–100, got {quality}")
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"the JPEG encoder refused an image of shape {image.shape}")
    return bytes(encoded.tobytes())
