"""Enrolment: turn a subject's photo into a template, refusing, with the reason, a photo unfit for search."""

from dataclasses import dataclass

from vigil.vision.detection import Box
from vigil.vision.engine import Face, FaceEngine
from vigil.vision.image import RgbImage, encode_jpeg
from vigil.vision.quality import FaceQuality
from vigil.watchlist.errors import EnrolmentRefused
from vigil.watchlist.subject import Template

_MIN_BOX_OVERLAP = 0.3


@dataclass(frozen=True)
class EnrolledFace:
    """A template and the quality verdict it passed, which the approver is shown.

    Attributes:
        template: the embedding and aligned chip.
        quality: every quality part with its value, score and verdict.
    """

    template: Template
    quality: FaceQuality


def enrol_photo(
    engine: FaceEngine, image: RgbImage, *, subject_id: str, source: str, box: Box | None = None
) -> Template:
    """Make a template from one photo of a subject (:func:`enrol_face` without the verdict)."""
    return enrol_face(engine, image, subject_id=subject_id, source=source, box=box).template


def enrol_face(
    engine: FaceEngine, image: RgbImage, *, subject_id: str, source: str, box: Box | None = None
) -> EnrolledFace:
    """Make a template from one photo of a subject, with the quality verdict it passed.

    Only the embedding and the aligned chip are kept; the photo itself is not.

    Args:
        engine: the face engine.
        image: the photo, RGB.
        subject_id: whose photo it is.
        source: the photo's name, for messages.
        box: which face to take when the photo shows several (image pixels); any face it overlaps by IoU ≥ 0.3.

    Returns:
        The template and its quality verdict.

    Raises:
        EnrolmentRefused: no face, several faces and no box, no face in the box, or a face below the quality bar.
    """
    face = _the_face(engine.find_faces(image), source=source, box=box)
    if not face.quality.passed:
        raise EnrolmentRefused(source, face.quality.reasons)
    embedded = engine.embed([face])[0]
    if embedded.embedding is None:
        raise RuntimeError("the engine returned a face without an embedding")
    template = Template(
        subject_id=subject_id,
        embedding=embedded.embedding,
        chip_jpeg=encode_jpeg(face.chip),
        quality=face.quality.score,
    )
    return EnrolledFace(template=template, quality=face.quality)


def _the_face(faces: list[Face], *, source: str, box: Box | None) -> Face:
    if not faces:
        raise EnrolmentRefused(source, ["no face found; use a photo where the face is at least 40 px wide"])
    if box is None:
        if len(faces) > 1:
            raise EnrolmentRefused(source, [f"{len(faces)} faces found; give a box to choose the subject's face"])
        return faces[0]
    overlap, chosen = max(((box.iou(f.detection.box), f) for f in faces), key=lambda pair: pair[0])
    if overlap < _MIN_BOX_OVERLAP:
        raise EnrolmentRefused(source, ["no face found inside the given box"])
    return chosen
