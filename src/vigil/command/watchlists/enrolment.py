"""Enrolment on the server: proposed photos become templates, each with the quality verdict it passed.

The face engine is built on first use (loading its models takes seconds) and shared by the server's requests
under a lock (one enrolment at a time: it is rare, and the engine's models are not shared between threads).
A photo lives only in this request's memory: nothing of it but the template is stored.
"""

import base64
import binascii
import threading
from collections.abc import Sequence

from vigil.command.watchlists.errors import ProposalRefused
from vigil.command.watchlists.schemas import Photo
from vigil.vision.engine import FaceEngine
from vigil.vision.errors import ImageError
from vigil.vision.image import load_image
from vigil.vision.settings import VisionSettings, build_engine
from vigil.watchlist.enrolment import EnrolledFace, enrol_face
from vigil.watchlist.errors import EnrolmentRefused


class Enroller:
    """Turns proposed photos into templates with the server's face engine."""

    def __init__(self, settings: VisionSettings) -> None:
        """Prepare; the engine is built at the first enrolment."""
        self._settings = settings
        self._lock = threading.Lock()
        self._engine: FaceEngine | None = None

    def enrol(self, photos: Sequence[Photo], *, subject_id: str) -> list[EnrolledFace]:
        """One template per photo, or every photo's problem at once.

        Raises:
            ProposalRefused: a photo is not valid base64, not a readable image, or shows no single face that
                passes the quality bar; the problems name each photo.
            ModelError: the face engine's models cannot be loaded.
        """
        with self._lock:
            if self._engine is None:
                self._engine = build_engine(self._settings)
            faces: list[EnrolledFace] = []
            problems: list[str] = []
            for photo in photos:
                try:
                    data = base64.b64decode(photo.image_base64, validate=True)
                    image = load_image(data)
                    faces.append(enrol_face(self._engine, image, subject_id=subject_id, source=photo.name))
                except binascii.Error:
                    problems.append(f"{photo.name}: not valid base64")
                except ImageError as exc:
                    problems.append(f"{photo.name}: {exc}")
                except EnrolmentRefused as exc:
                    problems.append(f"{photo.name}: {'; '.join(exc.reasons)}")
        if problems:
            raise ProposalRefused(problems)
        return faces
