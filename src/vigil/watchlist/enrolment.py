"""Enrolment: a subject's photos, or a video's best frames of them, become templates; what is unfit is refused.

Each template is tagged with the face network that embedded it (the engine's embedder's model).

A refusal says why (no face, several faces, a face below the quality bar), so the person enrolling can choose
another photo.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
        box: which face to take when the photo shows several (image pixels); the face whose visible box it
            overlaps most, by IoU ≥ 0.3.

    Returns:
        The template and its quality verdict.

    Raises:
        EnrolmentRefused: no face, several faces and no box, no face in the box, or a face below the quality bar.
    """
    face = _the_face(engine.find_faces(image), source=source, box=box)
    if not face.quality.passed:
        raise EnrolmentRefused(source, face.quality.reasons)
    embedded = engine.embed([face])[0]
    template = Template(
        subject_id=subject_id,
        embedding=_embedding_of(embedded),
        chip_jpeg=encode_jpeg(face.chip),
        quality=face.quality.score,
        model=engine.embedder.model.model_id,
    )
    return EnrolledFace(template=template, quality=face.quality)


def _the_face(faces: list[Face], *, source: str, box: Box | None) -> Face:
    if not faces:
        raise EnrolmentRefused(source, ["no face found; use a photo where the face is at least 40 px wide"])
    if box is None:
        if len(faces) > 1:
            raise EnrolmentRefused(source, [f"{len(faces)} faces found; give a box to choose the subject's face"])
        return faces[0]
    overlap, chosen = max(((box.iou(f.visible_box), f) for f in faces), key=lambda pair: pair[0])
    if overlap < _MIN_BOX_OVERLAP:
        raise EnrolmentRefused(source, ["no face found inside the given box"])
    return chosen


def enrol_best_frames(
    engine: FaceEngine,
    frames: Iterable[tuple[int, RgbImage]],
    *,
    subject_id: str,
    source: str,
    box: Box | None = None,
    count: int = 3,
    spacing_frames: int = 6,
) -> list[EnrolledFace]:
    """Make templates from the best faces of a video of a subject: the highest quality, at moments apart.

    A frame counts only when it shows the subject's face alone (or the face ``box`` overlaps, when several
    people are in view) and the face passes the quality bar. Of those, the best ``count`` are taken, no two
    within ``spacing_frames`` of each other, so the templates see the subject at different moments. Only the
    templates are kept, never a frame.

    Args:
        engine: the face engine.
        frames: (frame index, RGB image) in order.
        subject_id: whose video it is.
        source: the video's name, for messages and the record.
        box: the subject's face when several people are in view (frame pixels).
        count: templates wanted, at least 1.
        spacing_frames: the fewest frames between two templates' frames.

    Returns:
        The templates with their verdicts, best first (fewer than ``count`` when fewer frames qualify).

    Raises:
        EnrolmentRefused: no frame shows one good face of the subject.
        ValueError: ``count`` below 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    usable: list[tuple[float, float, int, Face]] = []
    for index, image in frames:
        try:
            face = _the_face(engine.find_faces(image), source=source, box=box)
        except EnrolmentRefused:
            continue
        if face.quality.passed:
            usable.append((face.quality.score, face.landmarks.interocular_px, index, face))
    chosen: list[tuple[int, Face]] = []
    for _, _, index, face in sorted(usable, key=lambda entry: (entry[0], entry[1]), reverse=True):
        if all(abs(index - taken) >= spacing_frames for taken, _ in chosen):
            chosen.append((index, face))
        if len(chosen) == count:
            break
    if not chosen:
        raise EnrolmentRefused(
            source, ["no frame shows the subject's face alone and good enough; give --box when others are in view"]
        )
    embedded = engine.embed([face for _, face in chosen])
    model = engine.embedder.model.model_id
    return [
        EnrolledFace(
            template=Template(
                subject_id=subject_id,
                embedding=_embedding_of(face),
                chip_jpeg=encode_jpeg(face.chip),
                quality=face.quality.score,
                model=model,
            ),
            quality=face.quality,
        )
        for face in embedded
    ]


def _embedding_of(face: Face) -> npt.NDArray[np.float32]:
    if face.embedding is None:
        raise RuntimeError("the engine returned a face without an embedding")
    return face.embedding
