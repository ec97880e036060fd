"""The layout of a JPEG file, read from its markers without decoding a pixel.

A JPEG is a run of marker segments (``FF xx`` and, for most, a two-byte length) from its start (SOI, ``FF D8``) to
its end (EOI, ``FF D9``); after each scan header (SOS) comes entropy-coded data, in which a ``FF`` byte is always
followed by ``00`` (stuffing) or a restart marker, so the next real marker is found by searching. Walking them
tells what decoding would cost and whether the file is whole, before the decoder is given it:

* the frame's size: the pixels decoding will fill, whatever the file's length;
* the number of scans: a progressive decoder passes over the whole image once per scan, so a file of many tiny
  scans costs far more than its size suggests;
* where the image ends: a file cut short has no end, and bytes after the end (an HTML page appended to a photo)
  are no part of the image.

Layout::

    SOI  [APPn, COM, DQT, DHT, DRI …]  SOFn  [DHT …]  SOS <entropy-coded data>  [… SOS <data>]  EOI  [trailer]
"""

import re
from dataclasses import dataclass

from vigil.vision.errors import CorruptImage, NotAnImage

_SOI = 0xD8
_EOI = 0xD9
_SOS = 0xDA
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
"""Markers without a length: TEM and the restart markers."""
_FRAMES = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)})
"""Start-of-frame markers (C4 is DHT, C8 reserved, CC is DAC)."""
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_ARITHMETIC = frozenset({*range(0xC9, 0xCC), *range(0xCD, 0xD0)})
_NEXT_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")
"""The next marker after entropy-coded data: ``FF`` (any fill ``FF`` s) then neither a stuffed ``00`` nor RSTn."""


@dataclass(frozen=True)
class JpegLayout:
    """What a JPEG's markers say about it.

    Attributes:
        width: the frame's width, pixels.
        height: the frame's height, pixels (0 when a DNL marker gives it later, which Vigil does not read).
        progressive: the image comes in several passes over the whole frame.
        arithmetic: arithmetic-coded rather than Huffman-coded.
        scans: start-of-scan segments up to the end.
        end: the length of the image, up to and including its EOI marker, bytes.
        trailing_bytes: bytes after the EOI marker.
    """

    width: int
    height: int
    progressive: bool
    arithmetic: bool
    scans: int
    end: int
    trailing_bytes: int


def read_jpeg_layout(data: bytes, *, source: str = "<bytes>") -> JpegLayout:
    """Walk a JPEG's markers from its start to its end.

    Args:
        data: the file's bytes.
        source: what is being read, for messages.

    Returns:
        The frame's size, its kind, its scan count, where it ends and what follows.

    Raises:
        NotAnImage: the bytes do not start as a JPEG does.
        CorruptImage: a segment runs past the end of the bytes, the image has no end marker (it is cut short),
            a marker is missing where one must be, or a scan comes before the frame header.
    """
    if data[:2] != b"\xff\xd8":
        raise NotAnImage("not a JPEG (it does not start with FF D8)", source=source)
    position = 2
    frame: tuple[int, int, int] | None = None
    scans = 0
    while True:
        marker, position = _marker_at(data, position, source=source)
        if marker == _EOI:
            if frame is None or scans == 0:
                raise CorruptImage("the JPEG ends before its first scan", source=source)
            marker_code, height, width = frame
            return JpegLayout(
                width=width,
                height=height,
                progressive=marker_code in _PROGRESSIVE,
                arithmetic=marker_code in _ARITHMETIC,
                scans=scans,
                end=position,
                trailing_bytes=len(data) - position,
            )
        if marker in _STANDALONE or marker == _SOI:
            continue
        segment_end = _segment_end(data, position, marker=marker, source=source)
        if marker in _FRAMES and frame is None:
            if segment_end - position < 8:
                raise CorruptImage("the JPEG's frame header is too short", source=source)
            height = int.from_bytes(data[position + 3 : position + 5], "big")
            width = int.from_bytes(data[position + 5 : position + 7], "big")
            frame = (marker, height, width)
        position = segment_end
        if marker == _SOS:
            if frame is None:
                raise CorruptImage("the JPEG has a scan before its frame header", source=source)
            scans += 1
            found = _NEXT_MARKER.search(data, position)
            if found is None:
                raise CorruptImage(
                    f"the JPEG is cut short: its scan {scans} runs to the end of the file ({len(data):,} bytes) "
                    "without an end marker",
                    source=source,
                )
            position = found.start(1) - 1


def _marker_at(data: bytes, position: int, *, source: str) -> tuple[int, int]:
    """The marker at ``position`` (after any fill ``FF`` bytes) and the position after it."""
    if position >= len(data):
        raise CorruptImage(
            f"the JPEG is cut short: it stops at byte {len(data):,} without an end marker", source=source
        )
    if data[position] != 0xFF:
        raise CorruptImage(f"the JPEG has no marker where one must be (byte {position:,})", source=source)
    while position < len(data) and data[position] == 0xFF:
        position += 1
    if position >= len(data):
        raise CorruptImage(
            f"the JPEG is cut short: it stops at byte {len(data):,} without an end marker", source=source
        )
    return data[position], position + 1


def _segment_end(data: bytes, position: int, *, marker: int, source: str) -> int:
    """Where the segment whose length field starts at ``position`` ends."""
    if position + 2 > len(data):
        raise CorruptImage(f"the JPEG is cut short in a segment header (byte {position:,})", source=source)
    length = int.from_bytes(data[position : position + 2], "big")
    if length < 2:
        raise CorruptImage(f"the JPEG's segment FF {marker:02X} declares a length of {length}", source=source)
    end = position + length
    if end > len(data):
        raise CorruptImage(
            f"the JPEG is cut short: segment FF {marker:02X} needs {length:,} bytes, {len(data) - position:,} remain",
            source=source,
        )
    return end
