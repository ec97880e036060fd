"""JPEGs made to attack a decoder, built in the test from small real ones (no image is committed)."""

import io

from PIL import Image


def encode_jpeg(picture: Image.Image, **options: object) -> bytes:
    """``picture`` as a JPEG file."""
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", **options)
    return out.getvalue()


def hollow_jpeg(width: int, height: int) -> bytes:
    """A whole, well-formed JPEG of a few hundred bytes whose frame header declares ``width`` × ``height`` px.

    Its one scan holds the data of an 8×8 image, then the end marker: libjpeg fills every block it lacks with
    grey, at the full cost of decoding an image of the declared size (the finding: 692 bytes declaring
    7,999×7,999 px took 15.9 s and about 1 GB).
    """
    data = bytearray(encode_jpeg(Image.new("RGB", (8, 8), (90, 120, 150)), quality=50))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def with_scans(jpeg: bytes, count: int) -> bytes:
    """A baseline JPEG with its one scan repeated to make ``count`` scans (what a progressive bomb looks like)."""
    scan = jpeg.index(b"\xff\xda")
    end = jpeg.rindex(b"\xff\xd9")
    return jpeg[:scan] + jpeg[scan:end] * count + jpeg[end:]
