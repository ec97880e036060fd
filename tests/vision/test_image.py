import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.jpegs import encode_jpeg, hollow_jpeg, with_scans
from vigil.vision.errors import CorruptImage, EmptyImage, ImageTooLarge, NotAnImage, UnsupportedImage
from vigil.vision.image import ImageLimits, fit_within, load_image, verify_jpeg


def _encode(picture: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    return Image.fromarray(pixels).convert(mode)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares a huge size, with no pixel data: what a decompression bomb starts with."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_reads_each_accepted_format_as_rgb(fmt: str) -> None:
    image = load_image(_encode(_gradient(), fmt))
    assert image.shape == (48, 64, 3)
    assert image.dtype == np.uint8
    # Red rises left to right in every format, lossy or not.
    assert image[24, 60, 0] > image[24, 4, 0] + 150


def test_reads_real_photo_from_path(testdata: Path) -> None:
    image = load_image(testdata / "faces" / "obama.jpg")
    assert image.shape == (1137, 910, 3)


def test_composites_alpha_on_white(testdata: Path) -> None:
    image = load_image(testdata / "faces" / "32bit.png")
    assert image.shape == (1200, 626, 3)
    transparent = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert (load_image(_encode(transparent, "PNG")) == 255).all()


def test_reads_16_bit_greyscale_keeping_the_top_byte() -> None:
    values = np.full((10, 12), 65535, dtype=np.uint16)
    values[:, :6] = 257 * 100
    picture = Image.fromarray(values)
    image = load_image(_encode(picture, "PNG"))
    assert image.shape == (10, 12, 3)
    assert image[0, 0].tolist() == [100, 100, 100]
    assert image[0, 11].tolist() == [255, 255, 255]


def test_applies_exif_orientation() -> None:
    picture = _gradient(size=(64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image = load_image(_encode(picture, "JPEG", exif=exif.tobytes()))
    assert image.shape == (64, 32, 3)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", EmptyImage, "empty"),
        (b"%PDF-1.7 this is a document, not a photo", NotAnImage, "not a JPEG, PNG or WebP"),
        (b"hello world\n" * 50, NotAnImage, "not a JPEG, PNG or WebP"),
        (_encode(_gradient(), "GIF"), UnsupportedImage, "GIF images are not accepted"),
        (_encode(_gradient(), "JPEG")[:300], CorruptImage, "damaged or cut short"),
        (_encode(_gradient(), "PNG")[:-40], CorruptImage, "damaged or cut short"),
        (_png_header_only(9_000, 8_000), ImageTooLarge, "9,000×8,000 px .*the limit is 64,000,000 px"),
        (_png_header_only(60_000, 60_000), ImageTooLarge, "too many pixels; the limit is 64,000,000 px"),
    ],
    ids=["empty", "pdf", "text", "gif", "truncated-jpeg", "truncated-png", "huge", "bomb"],
)
def test_bad_input_gets_a_specific_error(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load_image(data)


def test_pixel_limit_is_configurable_and_names_both_sizes() -> None:
    data = _encode(_gradient(size=(400, 300)), "PNG")
    with pytest.raises(ImageTooLarge, match=r"400×300 px .*the limit is 100,000 px"):
        load_image(data, ImageLimits(max_pixels=100_000))


def test_byte_limit_refuses_file_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(_encode(_gradient(), "JPEG"))
    with pytest.raises(ImageTooLarge, match="the limit is 100 bytes"):
        load_image(path, ImageLimits(max_bytes=100))


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(CorruptImage, match=r"broken\.jpg: the image data is damaged"):
        load_image(path)


@pytest.mark.parametrize(
    ("size", "max_side", "expected_shape", "expected_scale"),
    [((1000, 500), 250, (125, 250, 3), 0.25), ((100, 50), 250, (50, 100, 3), 1.0)],
)
def test_fit_within(
    size: tuple[int, int], max_side: int, expected_shape: tuple[int, ...], expected_scale: float
) -> None:
    image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    shrunk, scale = fit_within(image, max_side)
    assert shrunk.shape == expected_shape
    assert scale == expected_scale


# Decode cost, judged from the header before decoding (the finding: a 692-byte JPEG declaring 7,999×7,999 px).


def test_a_hollow_jpeg_declaring_a_huge_image_is_refused_unread() -> None:
    with pytest.raises(CorruptImage, match=r"7,999×7,999 px in only \d+ bytes"):
        load_image(hollow_jpeg(7999, 7999))
    with pytest.raises(ImageTooLarge, match="24,000,000 px"):
        load_image(hollow_jpeg(7999, 7999), ImageLimits(max_pixels=24_000_000))


def test_a_jpeg_of_too_many_scans_is_refused_unread() -> None:
    with pytest.raises(ImageTooLarge, match="101 scans, each a pass over the whole image; the limit is 100"):
        load_image(with_scans(encode_jpeg(_gradient()), 101))


def test_a_real_photo_and_its_progressive_copy_pass_the_cost_checks(testdata: Path) -> None:
    with Image.open(testdata / "faces" / "obama.jpg") as picture:
        progressive = encode_jpeg(picture, progressive=True, quality=90)
    assert load_image(progressive).shape == (1137, 910, 3)


@pytest.mark.parametrize(("side_px", "shape"), [(2048, (2000, 3000, 3)), (1400, (1000, 1500, 3)), (None, None)])
def test_a_large_jpeg_is_shrunk_while_decoding_to_no_less_than_the_side_asked(
    side_px: int | None, shape: tuple[int, int, int] | None
) -> None:
    photo = encode_jpeg(_gradient(size=(6000, 4000)), quality=80)
    image = load_image(photo, reduce_to_side_px=side_px)
    assert image.shape == (shape or (4000, 6000, 3))
    middle = image.shape[0] // 2
    assert image[middle, -10, 0] > image[middle, 10, 0] + 150  # the same picture, smaller


def test_a_whole_jpeg_verifies(testdata: Path) -> None:
    crop = (testdata / "faces" / "obama_small.jpg").read_bytes()
    with Image.open(io.BytesIO(crop)) as picture:
        assert verify_jpeg(crop, max_side_px=2048) == picture.size


# name, how a real crop is changed, the error, words of its message
UNVERIFIABLE: list[tuple[str, Callable[[bytes], bytes], type[Exception], str]] = [
    ("cut short", lambda jpeg: jpeg[: len(jpeg) // 2], CorruptImage, "cut short"),
    # libjpeg (so Pillow and load_image) fills the missing half in grey and calls this a whole image.
    ("cut short, end marker added", lambda jpeg: jpeg[: len(jpeg) // 2] + b"\xff\xd9", CorruptImage, "premature end"),
    ("an HTML page after it", lambda jpeg: jpeg + b"<html><script>alert(1)</script></html>", CorruptImage, "follow"),
    ("a second image after it", lambda jpeg: jpeg + jpeg, CorruptImage, "follow the JPEG's end marker"),
    ("over the side limit", lambda jpeg: hollow_jpeg(2049, 16), ImageTooLarge, "2,049×16 px; the limit is 2,048"),
    ("hollow", lambda jpeg: hollow_jpeg(2048, 2048), CorruptImage, "2,048×2,048 px in only"),
    ("a PNG", lambda jpeg: _encode(_gradient(), "PNG"), NotAnImage, "not a JPEG"),
    ("empty", lambda jpeg: b"", EmptyImage, "empty"),
]


@pytest.mark.parametrize(("change", "error", "words"), [c[1:] for c in UNVERIFIABLE], ids=[c[0] for c in UNVERIFIABLE])
def test_anything_but_one_whole_jpeg_fails_verification(
    testdata: Path, change: Callable[[bytes], bytes], error: type[Exception], words: str
) -> None:
    crop = (testdata / "faces" / "obama_small.jpg").read_bytes()
    with pytest.raises(error, match=words):
        verify_jpeg(change(crop), max_side_px=2048)
