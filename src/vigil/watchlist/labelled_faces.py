"""Labelled faces: a folder with a sub-folder of photos per person, embedded once for calibration.

Each photo contributes the face it is of (:func:`~vigil.vision.engine.photo_subject`), with its quality score; a
photo without one is skipped and listed. The embeddings live in memory, as long as the measurement that needs
them, or in a cache file the person calibrating names (:func:`save_labelled_faces`), so that several measurements
of one labelled set embed it once: embedding LFW's 10,844 photos takes minutes.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.engine import FaceEngine
from vigil.vision.evaluation import embed_photo_subject
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
        qualities: (n,) float32, each row's face quality score (0 to 1), or None where not measured.
    """

    embeddings: npt.NDArray[np.float32]
    owners: npt.NDArray[np.int64]
    people: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    qualities: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.owners.shape != (self.embeddings.shape[0],):
            raise ValueError(
                f"embeddings must be (n, d) and owners (n,); got {self.embeddings.shape} and {self.owners.shape}"
            )
        if self.qualities is not None and self.qualities.shape != self.owners.shape:
            raise ValueError(f"qualities must be (n,) like owners; got {self.qualities.shape}")
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
            qualities=None if self.qualities is None else self.qualities[kept],
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
        The embeddings, their owners and their faces' quality scores.

    Raises:
        CalibrationError: fewer than two people with a usable face.
    """
    people, photos = _listing(folder)
    embeddings: list[npt.NDArray[np.float32]] = []
    owners: list[int] = []
    qualities: list[float] = []
    skipped = []
    for done, (photo, owner) in enumerate(photos, start=1):
        embedded = _embed_photo(engine, photo)
        if isinstance(embedded, str):
            skipped.append(f"{photo}: {embedded}")
        else:
            embeddings.append(embedded[0])
            qualities.append(embedded[1])
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
        qualities=np.asarray(qualities, dtype=np.float32),
    )


def _listing(folder: Path) -> tuple[list[Path], list[tuple[Path, int]]]:
    """The folder's people (sorted) and their photos (each person's in name order), with their person's number."""
    people = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    photos = [
        (photo, number)
        for number, person in enumerate(people)
        for photo in sorted(person.iterdir())
        if photo.suffix.lower() in _PHOTO_SUFFIXES
    ]
    return people, photos


def _embed_photo(engine: FaceEngine, path: Path) -> tuple[npt.NDArray[np.float32], float] | str:
    """The embedding and quality score of the face a photo is of, or why there is none."""
    subject = embed_photo_subject(engine, path)
    return subject if isinstance(subject, str) else (subject[0], subject[1].score)


def listing_digest(folder: Path) -> str:
    """A digest of what a folder of identities holds: each photo's path within it and its size in bytes.

    A cache of the folder's embeddings is valid while this is unchanged (a photo added, removed, renamed or
    rewritten at another size changes it).
    """
    digest = hashlib.sha256()
    for photo, _ in _listing(folder)[1]:
        digest.update(f"{photo.relative_to(folder).as_posix()}\t{photo.stat().st_size}\n".encode())
    return digest.hexdigest()


def save_labelled_faces(faces: LabelledFaces, path: Path, *, model: str, folder: Path) -> None:
    """Keep a folder's embeddings in a file (NumPy ``.npz``) for :func:`load_labelled_faces`.

    The file holds biometric data of the labelled people: keep it where the photos are kept.

    Args:
        faces: the folder's labelled faces, as :func:`embed_identities` made them.
        path: the file to write.
        model: the id of the network that made the embeddings (:attr:`ModelIdentity.model_id`).
        folder: the folder they were made from.
    """
    qualities = np.full(faces.owners.shape, np.nan, dtype=np.float32) if faces.qualities is None else faces.qualities
    with path.open("wb") as file:  # a file, not a name: np.savez adds ".npz" to a name without it
        np.savez(
            file,
            embeddings=faces.embeddings,
            owners=faces.owners,
            people=np.asarray(faces.people, dtype=np.str_),
            skipped=np.asarray(faces.skipped, dtype=np.str_),
            qualities=qualities,
            model=np.asarray(model),
            listing=np.asarray(listing_digest(folder)),
        )


def load_labelled_faces(path: Path, *, model: str, folder: Path) -> LabelledFaces:
    """A folder's embeddings kept by :func:`save_labelled_faces`.

    Args:
        path: the file.
        model: the id of the network the measurement runs with.
        folder: the folder of identities the measurement is of.

    Returns:
        The labelled faces.

    Raises:
        CalibrationError: the file is not such a cache, or it was made with another network or from a folder
            that has changed since.
    """
    try:
        with np.load(path, allow_pickle=False) as cached:
            stored = {name: cached[name] for name in cached.files}
    except (OSError, ValueError) as exc:
        raise CalibrationError(
            f"{path} is not an embeddings cache ({exc}); delete it to embed the photos again"
        ) from exc
    wanted = {"embeddings", "owners", "people", "skipped", "qualities", "model", "listing"}
    if not wanted <= stored.keys():
        raise CalibrationError(
            f"{path} lacks {', '.join(sorted(wanted - stored.keys()))}: it is not an embeddings cache; "
            "delete it to embed the photos again"
        )
    if str(stored["model"]) != model:
        raise CalibrationError(
            f"{path} holds embeddings of {stored['model']}, not of {model}: give another --embeddings-cache file "
            "or delete this one"
        )
    if str(stored["listing"]) != listing_digest(folder):
        raise CalibrationError(
            f"{path} was made from another listing of {folder} (photos added, removed or changed since): delete it "
            "to embed the photos again"
        )
    qualities = stored["qualities"].astype(np.float32)
    return LabelledFaces(
        embeddings=stored["embeddings"].astype(np.float32),
        owners=stored["owners"].astype(np.int64),
        people=tuple(str(name) for name in stored["people"]),
        skipped=tuple(str(reason) for reason in stored["skipped"]),
        qualities=None if np.isnan(qualities).any() else qualities,
    )
