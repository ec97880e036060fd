from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.support.jpegs import encode_jpeg, hollow_jpeg, with_scans
from vigil.vision.errors import CorruptImage, ImageError, NotAnImage
from vigil.vision.jpeg import read_jpeg_layout


@pytest.fixture(scope="module")
def photo(testdata: Path) -> bytes:
    return (testdata / "faces" / "obama.jpg").read_bytes()


def test_reads_a_real_photos_layout(photo: bytes) -> None:
    layout = read_jpeg_layout(photo)
    assert (layout.width, layout.height, layout.scans, layout.progressive) == (910, 1137, 1, False)
    assert (layout.end, layout.trailing_bytes) == (len(photo), 0)


def _before_scan(jpeg: bytes) -> bytes:
    return jpeg[: jpeg.index(b"\xff\xda")]


def test_counts_a_progressive_photos_scans(testdata: Path) -> None:
    with Image.open(testdata / "faces" / "obama.jpg") as picture:
        progressive = encode_jpeg(picture, progressive=True, quality=90)
    layout = read_jpeg_layout(progressive)
    assert layout.progressive
    assert layout.scans == 10  # libjpeg's standard progression for colour images


def test_reads_a_hollow_files_declared_size_and_repeated_scans() -> None:
    hollow = read_jpeg_layout(hollow_jpeg(7999, 6000))
    assert (hollow.width, hollow.height, hollow.trailing_bytes) == (7999, 6000, 0)
    assert read_jpeg_layout(with_scans(hollow_jpeg(64, 64), 300)).scans == 300


def test_finds_bytes_after_the_end(photo: bytes) -> None:
    html = b"<html><script>alert(1)</script></html>"
    layout = read_jpeg_layout(photo + html)
    assert (layout.end, layout.trailing_bytes) == (len(photo), len(html))


# name, how the photo is damaged, the error, words of its message
DAMAGED: list[tuple[str, Callable[[bytes], bytes], type[ImageError], str]] = [
    ("not a JPEG", lambda data: b"<html>" + data, NotAnImage, "FF D8"),
    ("end marker cut off", lambda data: data[:-2], CorruptImage, "cut short: its scan 1 runs to the end"),
    ("cut in its scan", lambda data: data[: len(data) // 2], CorruptImage, "cut short"),
    ("cut in a header segment", lambda data: data[:300], CorruptImage, "cut short"),
    ("only the start marker", lambda data: data[:2], CorruptImage, "cut short"),
    # The photo's EXIF thumbnail holds FF DA too: only walking the segments finds the real scan.
    ("no scan before the end", lambda data: _before_scan(hollow_jpeg(8, 8)) + b"\xff\xd9", CorruptImage, "scan"),
]


@pytest.mark.parametrize(("damage", "error", "words"), [c[1:] for c in DAMAGED], ids=[c[0] for c in DAMAGED])
def test_refuses_a_damaged_file(
    photo: bytes, damage: Callable[[bytes], bytes], error: type[ImageError], words: str
) -> None:
    with pytest.raises(error, match=words):
        read_jpeg_layout(damage(photo))
