"""The project's test photographs: where they are, and the hand-drawn face boxes that come with them."""

import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import VigilError
from vigil.vision.detection import Box
from vigil.vision.engine import FaceEngine
from vigil.vision.image import RgbImage, load_image

TESTDATA_ENV = "VIGIL_TESTDATA"
_PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


class TestdataMissing(VigilError):
    """The test photographs are not where Vigil looked for them."""

    __test__ = False  # not a pytest test class, despite its name


@dataclass(frozen=True)
class AnnotatedImage:
    """A photo and every face box a detector should find in it."""

    path: Path
    boxes: tuple[Box, ...]


def locate_testdata(explicit: Path | None = None) -> Path:
    """Find the test-data folder: ``explicit``, else ``$VIGIL_TESTDATA``, else ``../shared/testdata``.

    Raises:
        TestdataMissing: the folder does not exist.
    """
    candidate = explicit or Path(os.environ.get(TESTDATA_ENV, "../shared/testdata"))
    if not (candidate / "faces").is_dir():
        raise TestdataMissing(f"no test photos at {candidate.resolve()}; pass --testdata DIR or set {TESTDATA_ENV}")
    return candidate


def read_imglab_boxes(xml_file: Path) -> list[AnnotatedImage]:
    """Read face boxes from dlib's imglab XML (``<image file=…><box top left width height/>``).

    Args:
        xml_file: the XML file; image paths in it are relative to its folder.

    Returns:
        One entry per image, boxes in pixels (right and bottom exclusive).
    """
    root = ElementTree.parse(xml_file).getroot()
    images = []
    for element in root.iter("image"):
        boxes = []
        for box in element.iter("box"):
            left, top = float(box.attrib["left"]), float(box.attrib["top"])
            boxes.append(Box(left, top, left + float(box.attrib["width"]), top + float(box.attrib["height"])))
        images.append(AnnotatedImage(path=xml_file.parent / element.attrib["file"], boxes=tuple(boxes)))
    return images


def face_photos(testdata: Path) -> list[Path]:
    """The portraits of the test data: every photo under ``faces/`` and ``identities/``, sorted."""
    folders = (testdata / "faces", testdata / "identities")
    return sorted(path for folder in folders for path in folder.rglob("*") if path.suffix.lower() in _PHOTO_SUFFIXES)


def face_chips(testdata: Path, engine: FaceEngine) -> list[RgbImage]:
    """The aligned chip of every face the engine finds in :func:`face_photos`, photo by photo.

    Raises:
        ImageError: a test photo cannot be read.
    """
    return [face.chip for photo in face_photos(testdata) for face in engine.find_faces(load_image(photo))]
