"""Safe image loading: decode only what is a reasonable photo, always to 8-bit RGB in upright orientation.

Every image that enters Vigil passes through :func:`load_image`. It refuses a file before decoding it when
the header promises too many pixels (a decompression bomb) or, for a JPEG, a decode far costlier than its pixels
(:mod:`vigil.vision.jpeg`: too many progressive scans, or far too few bytes for the size it declares, which the
decoder would fill in at full cost); it shrinks a JPEG while decoding when the caller needs fewer pixels; it turns
each decoder failure into a specific :class:`~vigil.vision.errors.ImageError`, applies the EXIF orientation and
converts any bit depth and alpha channel to plain RGB, which is what every detector and embedder takes.

:func:`verify_jpeg` is the stricter check for a JPEG that is kept and served as it came (an alert's face crop):
exactly one whole image, nothing after its end, every scan complete.
"""

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.vision.errors import (
    CorruptImage,
    EmptyImage,
    ImageTooLarge,
    NotAnImage,
    UnsupportedImage,
)
from vigil.vision.jpeg import JpegLayout, read_jpeg_layout

RgbImage = npt.NDArray[np.uint8]
"""An 8-bit RGB image, shape (height, width, 3), C-contiguous."""

READABLE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

PIXELS_PER_JPEG_BYTE = 1024
"""A whole Huffman-coded JPEG spends at least one bit on each 8×8 block: 512 px a byte at most; twice that allows
for rounding. A file declaring more pixels per byte is cut short or hollow, and libjpeg would fill the blocks it
lacks at the full cost of decoding them."""


@dataclass(frozen=True)
class ImageLimits:
    """What :func:`load_image` accepts.

    Attributes:
        max_pixels: the most pixels (width × height) an image may declare; larger ones are refused unread.
        max_bytes: the largest encoded file, in bytes.
        max_jpeg_scans: the most scans a JPEG may have (a progressive decoder passes over the whole image once
            per scan; encoders write about 10).
    """

    max_pixels: int = 64_000_000
    max_bytes: int = 64 * 1024 * 1024
    max_jpeg_scans: int = 100

    def __post_init__(self) -> None:
        if self.max_pixels <= 0 or self.max_bytes <= 0 or self.max_jpeg_scans <= 0:
            raise ValueError(
                f"image limits must be positive, got max_pixels={self.max_pixels}, max_bytes={self.max_bytes}, "
                f"max_jpeg_scans={self.max_jpeg_scans}"
            )


def load_image(
    source: Path | bytes, limits: ImageLimits | None = None, *, reduce_to_side_px: int | None = None
) -> RgbImage:
    """Decode a JPEG, PNG or WebP file (or its bytes) to upright 8-bit RGB.

    Args:
        source: a path to the file, or the encoded bytes themselves.
        limits: size limits; the defaults allow any ordinary camera photo.
        reduce_to_side_px: the longest side the caller will use: a larger JPEG is decoded at the smallest of
            1/2, 1/4 or 1/8 of its size whose long side is still at least this (libjpeg scales while decoding, so
            the full-size image is never in memory). None, other formats and smaller JPEGs: full size.

    Returns:
        The image, shape (height, width, 3), dtype uint8, EXIF orientation applied, alpha composited on white.

    Raises:
        EmptyImage: the input has no bytes.
        NotAnImage: the bytes are no image format at all.
        UnsupportedImage: an image, but not JPEG, PNG or WebP, or in a pixel mode Vigil does not read, or an
            arithmetic-coded JPEG.
        ImageTooLarge: over ``limits.max_bytes`` or ``limits.max_pixels``, or a JPEG of more than
            ``limits.max_jpeg_scans`` scans; the pixels are never decoded.
        CorruptImage: damaged or truncated data, or a JPEG with far too few bytes for its size (refused unread).
        FileNotFoundError: the path does not exist.
    """
    limits = limits or ImageLimits()
    label = str(source) if isinstance(source, Path) else "<bytes>"
    data = _read_bytes(source, label=label, limits=limits)
    if not data:
        raise EmptyImage("the file is empty (0 bytes)", source=label)
    picture = _open(data, label=label, limits=limits)
    if picture.format == "JPEG":
        _check_jpeg_cost(read_jpeg_layout(data, source=label), size=len(data), limits=limits, label=label)
    try:
        if picture.format == "JPEG" and reduce_to_side_px is not None:
            picture.draft(None, _reduced_size(picture.size, reduce_to_side_px))
        picture.load()
        picture = ImageOps.exif_transpose(picture)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the {picture.format} data is damaged or cut short ({exc})", source=label) from exc
    return _to_rgb(picture, label=label)


def verify_jpeg(
    data: bytes, *, max_side_px: int, limits: ImageLimits | None = None, source: str = "<bytes>"
) -> tuple[int, int]:
    """Check that bytes are exactly one whole JPEG that decodes without a fault, within a size.

    Stricter than :func:`load_image`, for an image kept and served as it came: nothing may follow the image's end
    marker (an appended HTML page, a second file), and every scan must be complete (libjpeg quietly fills in a
    scan cut short; here that is an error). The image is decoded at 1/8 scale, which reads every byte of its
    scans at a 64th of the memory.

    Args:
        data: the file's bytes.
        max_side_px: the longest side allowed, pixels.
        limits: byte, pixel and scan limits.
        source: what the bytes are, for messages.

    Returns:
        The image's (width, height) in pixels, as its header declares them.

    Raises:
        EmptyImage: no bytes.
        NotAnImage: the bytes do not start as a JPEG does.
        UnsupportedImage: an arithmetic-coded JPEG.
        ImageTooLarge: over ``max_side_px`` on the long side or over ``limits``; refused before decoding.
        CorruptImage: cut short, bytes after its end, a scan cut short or damaged, or a decoder fault.
    """
    limits = limits or ImageLimits()
    label = source
    if not data:
        raise EmptyImage("the file is empty (0 bytes)", source=label)
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file is {len(data):,} bytes; the limit is {limits.max_bytes:,} bytes", source=label)
    layout = read_jpeg_layout(data, source=label)
    if layout.trailing_bytes:
        raise CorruptImage(
            f"{layout.trailing_bytes:,} bytes follow the JPEG's end marker (at byte {layout.end:,}); send the "
            "image alone",
            source=label,
        )
    if max(layout.width, layout.height) > max_side_px:
        raise ImageTooLarge(
            f"the image is {layout.width:,}×{layout.height:,} px; the limit is {max_side_px:,} px on the long side",
            source=label,
        )
    _check_jpeg_cost(layout, size=len(data), limits=limits, label=label)
    try:
        simplejpeg.decode_jpeg(data, colorspace="RGB", min_factor=8, strict=True)
    except ValueError as exc:
        raise CorruptImage(f"the JPEG data is damaged or cut short ({exc})", source=label) from exc
    return layout.width, layout.height


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


def _check_jpeg_cost(layout: JpegLayout, *, size: int, limits: ImageLimits, label: str) -> None:
    """Refuse a JPEG whose decode would cost far more than its pixels, or that is hollow, before decoding it."""
    pixels = layout.width * layout.height
    if pixels == 0:
        raise CorruptImage(f"the JPEG declares a size of {layout.width}×{layout.height} px", source=label)
    if pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {layout.width:,}×{layout.height:,} px ({pixels:,} px); the limit is "
            f"{limits.max_pixels:,} px",
            source=label,
        )
    if layout.arithmetic:
        raise UnsupportedImage("arithmetic-coded JPEGs are not accepted; save it as an ordinary JPEG", source=label)
    if layout.scans > limits.max_jpeg_scans:
        raise ImageTooLarge(
            f"the JPEG has {layout.scans:,} scans, each a pass over the whole image; the limit is "
            f"{limits.max_jpeg_scans:,}",
            source=label,
        )
    if size * PIXELS_PER_JPEG_BYTE < pixels:
        raise CorruptImage(
            f"the JPEG declares {layout.width:,}×{layout.height:,} px in only {size:,} bytes, fewer than any whole "
            "image of that size needs: it is cut short or damaged",
            source=label,
        )


def _reduced_size(size: tuple[int, int], side_px: int) -> tuple[int, int]:
    """The size asked of the decoder: ``size`` shrunk so its long side is ``side_px`` (never enlarged)."""
    width, height = size
    scale = min(1.0, side_px / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


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
