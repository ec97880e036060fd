"""Identify every face in an image against a watchlist gallery."""

from dataclasses import dataclass

from vigil.vision.engine import Face, FaceEngine
from vigil.vision.image import RgbImage
from vigil.watchlist.gallery import Gallery, Match


@dataclass(frozen=True)
class Identification:
    """One face and its watchlist match.

    Attributes:
        face: the face (box, landmarks, quality; its chip and embedding stay in memory).
        match: the matching subject, or None for nobody on the watchlist or a face too poor to search.
        searched: False when the face failed the quality bar and was not searched.
    """

    face: Face
    match: Match | None
    searched: bool


def identify_faces(engine: FaceEngine, gallery: Gallery, image: RgbImage) -> list[Identification]:
    """Find every face and search the good ones against the gallery.

    Faces below the quality bar are reported but not searched: a poor face gives unreliable distances.

    Returns:
        One identification per face, in the detector's order.

    Raises:
        ModelMismatch: the engine's face network is not the one the gallery was made with.
    """
    faces = engine.find_faces(image)
    good = engine.embed([face for face in faces if face.quality.passed])
    model = engine.embedder.model.model_id
    matches = iter([gallery.identify(face.embedding, model=model) for face in good if face.embedding is not None])
    embedded = iter(good)
    identifications = []
    for face in faces:
        if face.quality.passed:
            identifications.append(Identification(face=next(embedded), match=next(matches), searched=True))
        else:
            identifications.append(Identification(face=face, match=None, searched=False))
    return identifications
