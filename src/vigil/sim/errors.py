"""Errors of the simulation.

Hierarchy::

    VigilError
    └── SimError
        └── FootageError            test video cannot be made
            ├── UnknownPerson       a scene names a person the test photos do not show
            └── FootageWriteFailed  the video file cannot be written
"""

from pathlib import Path

from vigil.errors import VigilError


class SimError(VigilError):
    """Base class of every simulation error."""


class FootageError(SimError):
    """Test video cannot be made."""


class UnknownPerson(FootageError):
    """A scene names a person with no photos in the test data.

    Attributes:
        person_id: the name asked for.
    """

    def __init__(self, message: str, *, person_id: str) -> None:
        super().__init__(message)
        self.person_id = person_id


class FootageWriteFailed(FootageError):
    """OpenCV cannot write the video file.

    Attributes:
        path: the file that was to be written.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
