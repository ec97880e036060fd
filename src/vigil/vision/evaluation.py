"""Run a verification benchmark: embed every image of a pairs list once, score the pairs, summarise.

Each image contributes its largest face. An image that cannot be read, or in which no face is found, makes
every pair it belongs to a *failed* pair, listed by file in the report: never silently dropped.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.embedding import face_distance
from vigil.vision.engine import FaceEngine
from vigil.vision.errors import ImageError
from vigil.vision.image import load_image
from vigil.vision.pairs import ImagePair
from vigil.vision.verification import FailedPair, VerificationReport, summarise_verification

ProgressCallback = Callable[[int, int], None]
"""Called as ``(images_done, images_total)`` after each image."""


@dataclass(frozen=True)
class ScoredPairs:
    """The distances of labelled pairs, and the pairs that could not be scored.

    Attributes:
        genuine: distances of same-person pairs, shape (g,).
        impostor: distances of different-person pairs, shape (i,).
        failed: the pairs without a distance, with the reason.
    """

    genuine: npt.NDArray[np.float64]
    impostor: npt.NDArray[np.float64]
    failed: list[FailedPair]


def score_pairs(
    engine: FaceEngine, pairs: Sequence[ImagePair], *, on_progress: ProgressCallback | None = None
) -> ScoredPairs:
    """Embed every image of the pairs once (its largest face) and measure each pair's distance.

    Args:
        engine: the engine that finds and embeds faces.
        pairs: the labelled pairs, e.g. from :func:`vigil.vision.pairs.read_pairs`.
        on_progress: optional progress callback.

    Returns:
        Genuine and impostor distances, and the failed pairs.
    """
    images = list(dict.fromkeys(path for pair in pairs for path in (pair.first, pair.second)))
    embeddings: dict[Path, npt.NDArray[np.float32]] = {}
    failures: dict[Path, str] = {}
    for done, path in enumerate(images, start=1):
        outcome = _embed_largest_face(engine, path)
        if isinstance(outcome, str):
            failures[path] = outcome
        else:
            embeddings[path] = outcome
        if on_progress is not None:
            on_progress(done, len(images))

    genuine: list[float] = []
    impostor: list[float] = []
    failed: list[FailedPair] = []
    for pair in pairs:
        reasons = [f"{path.name}: {failures[path]}" for path in (pair.first, pair.second) if path in failures]
        if reasons:
            failed.append(FailedPair(first=pair.first, second=pair.second, same=pair.same, reason="; ".join(reasons)))
            continue
        distance = face_distance(embeddings[pair.first], embeddings[pair.second])
        (genuine if pair.same else impostor).append(distance)
    return ScoredPairs(
        genuine=np.asarray(genuine, dtype=np.float64), impostor=np.asarray(impostor, dtype=np.float64), failed=failed
    )


def evaluate_pairs(
    engine: FaceEngine,
    pairs: Sequence[ImagePair],
    *,
    threshold: float,
    on_progress: ProgressCallback | None = None,
) -> VerificationReport:
    """Score labelled pairs with a face engine and summarise: TAR at FAR, EER, accuracy, failed pairs.

    Args:
        engine: the engine that finds and embeds faces.
        pairs: the labelled pairs.
        threshold: the distance threshold of the report's accuracy figures.
        on_progress: optional progress callback.

    Returns:
        The benchmark's report.
    """
    scored = score_pairs(engine, pairs, on_progress=on_progress)
    return summarise_verification(
        genuine_distances=scored.genuine,
        impostor_distances=scored.impostor,
        failed=scored.failed,
        total_pairs=len(pairs),
        default_threshold=threshold,
    )


def _embed_largest_face(engine: FaceEngine, path: Path) -> npt.NDArray[np.float32] | str:
    """The embedding of the image's largest face, or why there is none."""
    try:
        image = load_image(path)
    except FileNotFoundError:
        return "image file not found"
    except ImageError as exc:
        return str(exc)
    faces = engine.find_faces(image)
    if not faces:
        return "no face found"
    largest = max(faces, key=lambda face: face.detection.box.area)
    embedding = engine.embed([largest])[0].embedding
    if embedding is None:
        raise RuntimeError("the engine returned a face without an embedding")
    return embedding
