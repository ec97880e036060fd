"""Labelled faces: a folder with a sub-folder of photos per person, embedded once for calibration.

Each photo contributes the face it is of (:func:`~vigil.vision.engine.photo_subject`); a photo without one is
skipped and listed. The embeddings live in memory only, as long as the measurement that needs them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.engine import FaceEngine
from vigil.vision.evaluation import embed_photo
from vigil.watchlist.errors import CalibrationError

_PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
_CHUNK = 2048
DUPLICATE_DISTANCE = 0.2
"""Photos of two people nearer than this are one picture filed twice (see :meth:`LabelledFaces.without_duplicates`)."""


@dataclass(frozen=True)
class LabelledFaces:
    """Embeddings of several people's photos, and whose each one is.

    Attributes:
        embeddings: (n, d) float32, one row per photo with a usable face, people in name order and each
            person's photos in file-name order.
        owners: (n,) int64, the person of each row, an index into ``people``.
        people: the people's names (their folders' names), sorted.
        skipped: photos without a usable face, each with the reason.
    """

    embeddings: npt.NDArray[np.float32]
    owners: npt.NDArray[np.int64]
    people: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.owners.shape != (self.embeddings.shape[0],):
            raise ValueError(
                f"embeddings must be (n, d) and owners (n,); got {self.embeddings.shape} and {self.owners.shape}"
            )
        if self.owners.size and (self.owners.min() < 0 or self.owners.max() >= len(self.people)):
            raise ValueError(f"owners must index the {len(self.people)} people")

    @property
    def identities(self) -> int:
        """People with at least one usable photo."""
        return int(np.unique(self.owners).size)

    def without_duplicates(self, *, within: float = DUPLICATE_DISTANCE) -> "LabelledFaces":
        """The same faces less the photos filed under two people (the later of each such pair), listed as skipped.

        Labelled sets carry a little label noise: LFW holds the very same picture under two names
        (Carlos_Beltran_0001 and Raul_Ibanez_0001, 0.00 apart). Two photos of different people are never this
        near (on LFW's different-person pairs the nearest is 0.35), so they would count as false alerts that no
        threshold can prevent.

        Args:
            within: photos of two people nearer than this are taken as one photo.
        """
        matrix = self.embeddings.astype(np.float64)
        squared = np.einsum("ij,ij->i", matrix, matrix)
        dropped: set[int] = set()
        for start in range(0, matrix.shape[0], _CHUNK):
            block = matrix[start : start + _CHUNK]
            distances = squared[start : start + _CHUNK, None] + squared[None, :] - 2.0 * block @ matrix.T
            rows, columns = np.nonzero(distances < within**2)
            for row, column in zip((rows + start).tolist(), columns.tolist(), strict=True):
                if row < column and self.owners[row] != self.owners[column]:
                    dropped.add(column)
        if not dropped:
            return self
        kept = np.setdiff1d(np.arange(self.owners.size), sorted(dropped))
        noted = tuple(
            f"{self.people[self.owners[row]]} (photo {row}): the same picture as another person's" for row in dropped
        )
        return LabelledFaces(
            embeddings=self.embeddings[kept],
            owners=self.owners[kept],
            people=self.people,
            skipped=self.skipped + noted,
        )


def embed_identities(
    engine: FaceEngine, folder: Path, *, on_progress: Callable[[int, int], None] | None = None
) -> LabelledFaces:
    """Embed the face of every photo in a folder of identities (one sub-folder of photos per person).

    Args:
        engine: the face engine.
        folder: the folder; photos end in .jpg, .jpeg, .png or .webp.
        on_progress: called as ``(photos_done, photos_total)`` after each photo.

    Returns:
        The embeddings and their owners.

    Raises:
        CalibrationError: fewer than two people with a usable face.
    """
    people = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    photos = [
        (photo, number)
        for number, person in enumerate(people)
        for photo in sorted(person.iterdir())
        if photo.suffix.lower() in _PHOTO_SUFFIXES
    ]
    embeddings: list[npt.NDArray[np.float32]] = []
    owners: list[int] = []
    skipped = []
    for done, (photo, owner) in enumerate(photos, start=1):
        embedding = embed_photo(engine, photo)
        if isinstance(embedding, str):
            skipped.append(f"{photo}: {embedding}")
        else:
            embeddings.append(embedding)
            owners.append(owner)
        if on_progress is not None:
            on_progress(done, len(photos))
    if len(set(owners)) < 2:
        raise CalibrationError(
            f"{folder} needs a sub-folder of photos for each of at least two people; found {len(set(owners))} "
            "with a usable face"
        )
    return LabelledFaces(
        embeddings=np.stack(embeddings).astype(np.float32),
        owners=np.asarray(owners, dtype=np.int64),
        people=tuple(person.name for person in people),
        skipped=tuple(skipped),
    )
