"""What a face detector reports, and the interface every detector backend implements."""

from dataclasses import dataclass
from typing import Protocol

from vigil.vision.image import RgbImage


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in image pixels: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    def __post_init__(self) -> None:
        if not (self.right > self.left and self.bottom > self.top):
            raise ValueError(
                f"a box needs right > left and bottom > top, got "
                f"left={self.left}, top={self.top}, right={self.right}, bottom={self.bottom}"
            )

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.bottom - self.top

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return self.width * self.height

    def iou(self, other: "Box") -> float:
        """Intersection over union with another box, from 0 (disjoint) to 1 (identical)."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        if width <= 0 or height <= 0:
            return 0.0
        overlap = width * height
        return overlap / (self.area + other.area - overlap)

    def clipped(self, width: float, height: float) -> "Box | None":
        """The part of the box inside an image of ``width`` × ``height`` pixels; None when no part is inside.

        Detectors may report a face cut off by the image's edge with a box reaching past it (the landmark model
        wants the whole face's framing); choosing, measuring, cropping and comparing faces use the visible part.
        """
        left, top = max(self.left, 0.0), max(self.top, 0.0)
        right, bottom = min(self.right, float(width)), min(self.bottom, float(height))
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right, bottom)

    def area_within(self, width: float, height: float) -> float:
        """Area in square pixels of the part inside an image of ``width`` × ``height`` pixels (0 if none)."""
        visible = self.clipped(width, height)
        return 0.0 if visible is None else visible.area

    def scaled(self, factor: float) -> "Box":
        """The same box in an image resized by ``factor`` (new size / old size)."""
        return Box(self.left * factor, self.top * factor, self.right * factor, self.bottom * factor)


@dataclass(frozen=True)
class Detection:
    """One face found by a detector.

    Attributes:
        box: where the face is, in the pixels of the image given to the detector, framed the way dlib's
            HOG detector frames a face (the 5-point landmark model expects that framing).
        score: the detector's confidence; higher is surer. Scales differ between backends.
    """

    box: Box
    score: float


class Detector(Protocol):
    """Finds faces in an RGB image."""

    @property
    def name(self) -> str:
        """A short name for reports, e.g. ``"hog"`` or ``"blazeface"``."""
        ...

    def detect(self, image: RgbImage) -> list[Detection]:
        """Find every face in the image.

        Args:
            image: 8-bit RGB, shape (height, width, 3).

        Returns:
            The faces found, best score first; an empty list when there are none.
        """
        ...
