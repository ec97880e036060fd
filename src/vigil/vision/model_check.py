"""The known-answer check a face network passes before Vigil uses it: known people's photos told apart.

Photos of known people (a folder with a sub-folder per person; by default the demo's photos, Barack Obama three
times and Joe Biden once) are found and cut out as the engine does (dlib's HOG detector, 5-point landmarks, dlib
chip, the photo's central large face), embedded, and every pair held against the network's threshold: two photos of
one person must come out within it and two of different people beyond it. A file that is not what its manifest
says (a wrong mean, scale or threshold gives vectors, just wrong ones) is caught here rather than on the street; the
more people the folder holds, the more it catches (the demo's four photos did not catch a swapped colour order).
"""

from itertools import combinations
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from vigil.vision.embedding import Embedder
from vigil.vision.engine import FaceEngine, photo_subject
from vigil.vision.errors import CheckPhotosUnusable, ModelVerificationFailed
from vigil.vision.face_model import FaceModelManifest, Metric, distance_to_cosine
from vigil.vision.hog import HogDetector
from vigil.vision.image import load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy

DEFAULT_CHECK_PHOTOS = Path(".vigil/demo/photos")
"""Where ``vigil sim photos --fetch`` (and ``scripts/setup``) put the demo's photos: the known-answer set when no
other folder is given. Relative to the working directory, as the demo's data folder is."""

_CHECK_SIDE_PX = 1024  # check photos are portraits; HOG finds their faces at this size, and faster than at full size
_PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


class CheckPair(BaseModel):
    """Two check photos and how far apart the model puts them."""

    first: str = Field(description="One photo, as person/file.")
    second: str = Field(description="The other photo, as person/file.")
    same_person: bool = Field(description="Whether the folders say they show one person.")
    distance: float = Field(description="Euclidean distance between their embeddings (the chord for cosine models).")


class ModelCheck(BaseModel):
    """The known-answer check a slot model passed."""

    folder: Path = Field(description="The folder of per-person photo folders.")
    people: int = Field(description="People (sub-folders) with photos.")
    photos: int = Field(description="Photos compared, one face each.")
    threshold: float = Field(description="The manifest's threshold as a distance.")
    pairs: list[CheckPair] = Field(description="Every pair of photos.")


def verify_on_photos(
    embedder: Embedder, manifest: FaceModelManifest, *, manifest_path: Path, folder: Path
) -> ModelCheck:
    """Embed one face from each photo of known people and hold every pair's distance against the threshold.

    Each photo's face is found as the engine finds it (dlib's HOG detector, 5-point landmarks, dlib chip), the
    photo's central large face where it has several.

    Args:
        embedder: the loaded network.
        manifest: its manifest, whose threshold the pairs are held against.
        manifest_path: where the manifest is, for the messages.
        folder: a folder with a sub-folder of photos (JPEG, PNG, WebP) per person.

    Returns:
        Every pair's distance, all on the right side of the threshold.

    Raises:
        CheckPhotosUnusable: the folder is missing, a photo has no face, or there is no pair of one person's
            photos or none of two people's.
        ModelVerificationFailed: a pair of one person lies beyond the threshold, or of two within it.
        ImageError: a photo cannot be read.
    """
    photos = _check_photos(folder, manifest_path)
    engine = FaceEngine(
        detector=HogDetector(upsample=1),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        max_side_px=_CHECK_SIDE_PX,
    )
    chips = []
    for photo in photos:
        image = load_image(photo, reduce_to_side_px=_CHECK_SIDE_PX)
        subject = photo_subject(engine.find_faces(image), width=image.shape[1], height=image.shape[0])
        if subject is None:
            raise CheckPhotosUnusable(
                f"no face found in the check photo {photo}; every check photo must show its person's face, "
                "frontal and at least 40 px wide",
                path=manifest_path,
                first=photo,
            )
        chips.append(subject.chip)
    embeddings = embedder.embed(chips).astype(np.float64)
    threshold = manifest.distance_threshold
    pairs = []
    for (first, first_vector), (second, second_vector) in combinations(zip(photos, embeddings, strict=True), 2):
        pairs.append(
            CheckPair(
                first=_label(first),
                second=_label(second),
                same_person=first.parent == second.parent,
                distance=float(np.linalg.norm(first_vector - second_vector)),
            )
        )
    if all(pair.same_person for pair in pairs) or not any(pair.same_person for pair in pairs):
        raise CheckPhotosUnusable(
            f"the check photos in {folder} ({len(photos)} photos of {len({p.parent for p in photos})} people) "
            "cannot test a model: give at least two photos of one person and one of another, in a sub-folder "
            "per person",
            path=manifest_path,
        )
    _refuse_wrong_pairs(embedder, manifest, pairs, manifest_path=manifest_path, folder=folder)
    return ModelCheck(
        folder=folder,
        people=len({photo.parent for photo in photos}),
        photos=len(photos),
        threshold=threshold,
        pairs=pairs,
    )


def _check_photos(folder: Path, manifest_path: Path) -> list[Path]:
    if not folder.is_dir():
        raise CheckPhotosUnusable(
            f"no check photos at {folder.resolve()}: a model is only used once it has told known people apart. "
            "Run `vigil sim photos --fetch` (it puts the demo's photos of Barack Obama and Joe Biden there), or "
            "give a folder with a sub-folder of photos per person (--check-photos DIR, or check_photos in the "
            "settings)",
            path=manifest_path,
        )
    return sorted(
        photo
        for person in folder.iterdir()
        if person.is_dir()
        for photo in person.iterdir()
        if photo.is_file() and photo.suffix.lower() in _PHOTO_SUFFIXES
    )


def _label(photo: Path) -> str:
    return f"{photo.parent.name}/{photo.name}"


def _refuse_wrong_pairs(
    embedder: Embedder, manifest: FaceModelManifest, pairs: list[CheckPair], *, manifest_path: Path, folder: Path
) -> None:
    threshold = manifest.distance_threshold
    wrong = [pair for pair in pairs if (pair.distance <= threshold) != pair.same_person]
    if not wrong:
        return
    # The pair furthest on the wrong side names the failure; the others are counted.
    worst = max(wrong, key=lambda pair: abs(pair.distance - threshold))
    verdict = "different people" if worst.same_person else "the same person"
    sign = ">" if worst.same_person else "<="
    cosine = (
        f" (cosine similarity {distance_to_cosine(worst.distance):.4f}, its threshold {manifest.threshold:g})"
        if manifest.metric is Metric.COSINE
        else ""
    )
    raise ModelVerificationFailed(
        f"{embedder.model.model_id} ({manifest_path}) calls {worst.first} and {worst.second} {verdict}: "
        f"distance {worst.distance:.4f} {sign} threshold {threshold:.4f}{cosine}; {len(wrong)} of {len(pairs)} "
        "check pairs are wrong. The manifest's threshold, or how it says faces are prepared (alignment, "
        "colour_order, layout, mean, std), does not fit the network; the model is not used",
        path=manifest_path,
        first=folder / worst.first,
        second=folder / worst.second,
        distance=worst.distance,
        threshold=threshold,
    )
