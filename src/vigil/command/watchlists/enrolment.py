"""Enrolment on the server: proposed photos become templates, each with the quality verdict it passed.

The face engine is built on first use (loading its models takes seconds) and shared by the server's requests
under a lock (one enrolment at a time: it is rare, and the engine's models are not shared between threads).
A photo lives only in this request's memory: nothing of it but the template is stored. Each template names the
face model that made it (the engine's embedder's), the server's model: a watchlist is made with it, and
re-embedding (:mod:`vigil.command.watchlists.reembedding`) borrows the same embedder, under the same lock.

A photo costs what its header says, checked before it is decoded (:data:`ENROLMENT_PHOTO_LIMITS`): at most a
48-megapixel phone photo, and a JPEG is decoded no larger than the engine will look at. Decoding happens under
the same lock, so requests at once decode one after another, and the memory a decode freed is handed back to
the operating system after each enrolment.
"""

import base64
import binascii
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from vigil.command.watchlists.errors import ProposalRefused
from vigil.command.watchlists.schemas import Photo
from vigil.vision.embedding import Embedder
from vigil.vision.engine import FaceEngine
from vigil.vision.errors import ImageError
from vigil.vision.face_model import ModelIdentity
from vigil.vision.image import ImageLimits, load_image
from vigil.vision.memory import return_freed_memory
from vigil.vision.settings import VisionSettings, build_engine, embedder_model
from vigil.watchlist.enrolment import EnrolledFace, enrol_face
from vigil.watchlist.errors import EnrolmentRefused

ENROLMENT_PHOTO_LIMITS = ImageLimits(max_pixels=50_000_000)
"""What an enrolment photo may be: a custody photo (a few megapixels) or a phone's photo, up to the 48 and 50 Mpx
of phones' full-resolution modes (8,064×6,048; 8,160×6,120 px); a default phone photo is 12 or 24 Mpx. A JPEG
this large is decoded at half size or less, as the engine looks at no more than its ``max_side_px``."""


class Enroller:
    """Turns proposed photos into templates with the server's face engine."""

    def __init__(self, settings: VisionSettings, *, limits: ImageLimits = ENROLMENT_PHOTO_LIMITS) -> None:
        """Prepare; the engine is built at the first enrolment.

        Args:
            settings: the face engine's settings.
            limits: what a photo may be, checked from its header before it is decoded.
        """
        self._settings = settings
        self._limits = limits
        self._lock = threading.Lock()
        self._engine: FaceEngine | None = None

    def model(self) -> ModelIdentity:
        """The face model the server enrols with (its engine's embedder's), known without building the engine.

        Raises:
            ModelManifestInvalid: a force's network's manifest cannot be read or is not valid.
        """
        return embedder_model(self._settings.embedder)

    @contextmanager
    def embedder(self) -> Iterator[Embedder]:
        """The server's embedder, held alone (no enrolment runs meanwhile) until the block ends.

        Raises:
            ModelError: the face engine's models cannot be loaded.
        """
        with self._lock:
            try:
                yield self._built().embedder
            finally:
                return_freed_memory()

    def enrol(self, photos: Sequence[Photo], *, subject_id: str) -> list[EnrolledFace]:
        """One template per photo, or every photo's problem at once; each names the server's face model.

        Raises:
            ProposalRefused: a photo is not valid base64, not a readable image, or shows no single face that
                passes the quality bar; the problems name each photo.
            ModelError: the face engine's models cannot be loaded.
        """
        with self._lock:
            engine = self._built()
            faces: list[EnrolledFace] = []
            problems: list[str] = []
            try:
                for photo in photos:
                    try:
                        faces.append(self._enrol_one(engine, photo, subject_id=subject_id))
                    except binascii.Error:
                        problems.append(f"{photo.name}: not valid base64")
                    except ImageError as exc:
                        problems.append(f"{photo.name}: {exc}")
                    except EnrolmentRefused as exc:
                        problems.append(f"{photo.name}: {'; '.join(exc.reasons)}")
            finally:
                return_freed_memory()
        if problems:
            raise ProposalRefused(problems)
        return faces

    def _built(self) -> FaceEngine:
        """The engine, built now if this is its first use; the caller holds the lock."""
        if self._engine is None:
            self._engine = build_engine(self._settings)
        return self._engine

    def _enrol_one(self, engine: FaceEngine, photo: Photo, *, subject_id: str) -> EnrolledFace:
        if not photo.image_base64.isascii():  # b64decode raises a plain ValueError for these, not binascii.Error
            raise binascii.Error("characters outside base64's alphabet")
        data = base64.b64decode(photo.image_base64, validate=True)
        image = load_image(data, self._limits, reduce_to_side_px=self._settings.max_side_px)
        return enrol_face(engine, image, subject_id=subject_id, source=photo.name)
