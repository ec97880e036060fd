"""Run a verification benchmark: embed every image of a pairs list once, score the pairs, summarise.

Each image contributes the face it is of (:func:`~vigil.vision.engine.photo_subject`: the most central of its
large faces, sizes measured inside the image, so a bystander cut off at the edge does not beat the subject). An
image that cannot be read, or in which no face is found, makes
every pair it belongs to a *failed* pair, listed by file in the report: never silently dropped.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.embedding import face_distance
from vigil.vision.engine import FaceEngine, photo_subject
from vigil.vision.errors import ImageError
from vigil.vision.image import load_image
from vigil.vision.pairs import ImagePair
from vigil.vision.quality import FaceQuality
from vigil.vision.verification import FailedPair, PairVerdict, VerificationReport, summarise_verification

ProgressCallback = Callable[[int, int], None]
"""Called as ``(images_done, images_total)`` after each image."""


@dataclass(frozen=True)
class ScoredPairs:
    """The distances of labelled pairs, and the pairs that could not be scored.

    Attributes:
        genuine: distances of same-person pairs, shape (g,).
        impostor: distances of different-person pairs, shape (i,).
        failed: the pairs without a distance, with the reason.
        scored: every scored pair with its distance, in file order.
    """

    genuine: npt.NDArray[np.float64]
    impostor: npt.NDArray[np.float64]
    failed: list[FailedPair]
    scored: list[tuple[ImagePair, float]]


ImageEmbedder = Callable[[Path], "npt.NDArray[np.float32] | str"]
"""Embeds the face an image is of; returns why not (no face found, unreadable) as text."""


def score_pairs(
    engine: FaceEngine, pairs: Sequence[ImagePair], *, on_progress: ProgressCallback | None = None
) -> ScoredPairs:
    """Embed every image of the pairs once (the face it is of) and measure each pair's distance.

    Args:
        engine: the engine that finds and embeds faces.
        pairs: the labelled pairs, e.g. from :func:`vigil.vision.pairs.read_pairs`.
        on_progress: optional progress callback.

    Returns:
        Genuine and impostor distances, and the failed pairs.
    """
    return score_pairs_with(lambda path: embed_photo(engine, path), pairs, on_progress=on_progress)


def score_pairs_with(
    embed: ImageEmbedder, pairs: Sequence[ImagePair], *, on_progress: ProgressCallback | None = None
) -> ScoredPairs:
    """:func:`score_pairs` with any way of embedding an image (another library's, for a side-by-side run).

    Distances are Euclidean between the embeddings ``embed`` returns.
    """
    images = list(dict.fromkeys(path for pair in pairs for path in (pair.first, pair.second)))
    embeddings: dict[Path, npt.NDArray[np.float32]] = {}
    failures: dict[Path, str] = {}
    for done, path in enumerate(images, start=1):
        outcome = embed(path)
        if isinstance(outcome, str):
            failures[path] = outcome
        else:
            embeddings[path] = outcome
        if on_progress is not None:
            on_progress(done, len(images))

    genuine: list[float] = []
    impostor: list[float] = []
    failed: list[FailedPair] = []
    scored: list[tuple[ImagePair, float]] = []
    for pair in pairs:
        reasons = [f"{path.name}: {failures[path]}" for path in (pair.first, pair.second) if path in failures]
        if reasons:
            failed.append(FailedPair(first=pair.first, second=pair.second, same=pair.same, reason="; ".join(reasons)))
            continue
        distance = face_distance(embeddings[pair.first], embeddings[pair.second])
        (genuine if pair.same else impostor).append(distance)
        scored.append((pair, distance))
    return ScoredPairs(
        genuine=np.asarray(genuine, dtype=np.float64),
        impostor=np.asarray(impostor, dtype=np.float64),
        failed=failed,
        scored=scored,
    )


def evaluate_pairs(
    engine: FaceEngine,
    pairs: Sequence[ImagePair],
    *,
    threshold: float,
    details: bool = False,
    on_progress: ProgressCallback | None = None,
) -> VerificationReport:
    """Score labelled pairs with a face engine and summarise: TAR at FAR, EER, accuracy, failed pairs.

    Args:
        engine: the engine that finds and embeds faces.
        pairs: the labelled pairs.
        threshold: the distance threshold of the report's accuracy figures.
        details: list every scored pair with its distance and verdict in the report.
        on_progress: optional progress callback.

    Returns:
        The benchmark's report.
    """
    return summarise_scored(
        score_pairs(engine, pairs, on_progress=on_progress),
        total_pairs=len(pairs),
        threshold=threshold,
        details=details,
    )


def summarise_scored(
    scored: ScoredPairs, *, total_pairs: int, threshold: float, details: bool = False
) -> VerificationReport:
    """The report of scored pairs (see :func:`~vigil.vision.verification.summarise_verification`).

    Args:
        scored: the pairs' distances and failures.
        total_pairs: pairs in the pairs file.
        threshold: the distance threshold of the accuracy figures and verdicts.
        details: list every scored pair with its distance and verdict.
    """
    report = summarise_verification(
        genuine_distances=scored.genuine,
        impostor_distances=scored.impostor,
        failed=scored.failed,
        total_pairs=total_pairs,
        default_threshold=threshold,
    )
    if not details:
        return report
    verdicts = [
        PairVerdict(
            first=pair.first,
            second=pair.second,
            same=pair.same,
            distance=distance,
            accepted=distance <= threshold,
            correct=(distance <= threshold) == pair.same,
        )
        for pair, distance in scored.scored
    ]
    return report.model_copy(update={"details": verdicts})


def embed_photo(engine: FaceEngine, path: Path) -> npt.NDArray[np.float32] | str:
    """The embedding of the face a photo is of (:func:`~vigil.vision.engine.photo_subject`), or why there is none.

    Returns:
        The embedding, or the reason as text: the file is missing or unreadable, or no face was found.
    """
    subject = embed_photo_subject(engine, path)
    return subject if isinstance(subject, str) else subject[0]


def embed_photo_subject(engine: FaceEngine, path: Path) -> tuple[npt.NDArray[np.float32], FaceQuality] | str:
    """The embedding and quality verdict of the face a photo is of, or why there is none (see :func:`embed_photo`)."""
    try:
        image = load_image(path)
    except FileNotFoundError:
        return "image file not found"
    except ImageError as exc:
        return str(exc)
    subject = photo_subject(engine.find_faces(image), width=image.shape[1], height=image.shape[0])
    if subject is None:
        return "no face found"
    embedding = engine.embed([subject])[0].embedding
    if embedding is None:
        raise RuntimeError("the engine returned a face without an embedding")
    return embedding, subject.quality
