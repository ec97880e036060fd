"""``vigil bench lfw``: Vigil's verification beside the plain ``face_recognition`` library, on the same LFW pairs.

Both use dlib's HOG detector (upsample 1) and dlib's ResNet (Vigil through its ONNX port) on the standard LFW pairs
of folds 3–10 (4,800 pairs) in one run, so the figures differ only by what each does around the network. The plain
library is used as its README shows: ``face_encodings(image)[0]``, the first face its detector reports; Vigil
takes the face the photo is of (:func:`~vigil.vision.engine.photo_subject`). A pair with an image in which no face
is found is a failed pair for both, counted as "not the same person" in the all-pairs accuracy.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from vigil.errors import VigilError
from vigil.vision.embedding import DEFAULT_THRESHOLD
from vigil.vision.evaluation import ProgressCallback, ScoredPairs, score_pairs, score_pairs_with, summarise_scored
from vigil.vision.pairs import read_pairs
from vigil.vision.settings import HogDetectorSettings, VisionSettings, build_engine
from vigil.vision.verification import VerificationReport

PAIRS = Path("lfw") / "pairs_folds3-10.csv"
IMAGES = Path("lfw") / "images"


class ReferenceMissing(VigilError):
    """The plain face_recognition library, the reference, is not installed."""


class LfwSide(BaseModel):
    """One system's figures."""

    system: str
    seconds: float = Field(description="Wall time to embed every image and score every pair.")
    report: VerificationReport


class LfwBenchReport(BaseModel):
    """What ``vigil bench lfw`` prints."""

    pairs_file: str
    threshold: float = Field(description="The distance threshold of the accuracy figures (dlib's 0.6).")
    sides: list[LfwSide] = Field(description="Vigil first, then the plain face_recognition library.")


def run_lfw_bench(
    testdata: Path, *, threshold: float = DEFAULT_THRESHOLD, on_progress: ProgressCallback | None = None
) -> LfwBenchReport:
    """Score the LFW pairs with Vigil and with the plain face_recognition library, one after the other.

    Raises:
        ReferenceMissing: face_recognition is not installed.
        PairsFileError: the pairs file cannot be read.
    """
    try:
        import face_recognition
    except ImportError as exc:
        raise ReferenceMissing(
            "the reference library is not installed: pip install --no-deps face_recognition==1.3.0 "
            "(./scripts/setup does)"
        ) from exc
    pairs = read_pairs(testdata / PAIRS, testdata / IMAGES)
    engine = build_engine(VisionSettings(detector=HogDetectorSettings(upsample=1)))

    def plain(path: Path) -> npt.NDArray[np.float32] | str:
        try:
            image = face_recognition.load_image_file(str(path))
        except OSError as exc:
            return str(exc)
        encodings = face_recognition.face_encodings(image)
        return np.asarray(encodings[0], dtype=np.float32) if encodings else "no face found"

    scorers: list[tuple[str, Callable[[], ScoredPairs]]] = [
        ("vigil", lambda: score_pairs(engine, pairs, on_progress=on_progress)),
        ("face_recognition 1.3.0", lambda: score_pairs_with(plain, pairs, on_progress=on_progress)),
    ]
    sides = []
    for system, scoring in scorers:
        started = time.perf_counter()
        scored = scoring()
        report = summarise_scored(scored, total_pairs=len(pairs), threshold=threshold)
        sides.append(LfwSide(system=system, seconds=time.perf_counter() - started, report=report))
    return LfwBenchReport(pairs_file=str(testdata / PAIRS), threshold=threshold, sides=sides)
