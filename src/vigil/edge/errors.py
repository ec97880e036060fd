"""Errors of the edge agent (the body camera and its handset).

Hierarchy::

    VigilError
    └── EdgeError
        └── VideoSourceError        a video source cannot be chosen, opened or read
            ├── UnknownSourceSpec   the spec names no kind of source Vigil reads
            ├── SourceNotFound      a file or folder that does not exist
            ├── UnreadableSource    a file OpenCV cannot decode as video, or a folder with no images
            └── SourceUnavailable   a camera or stream cannot be opened, or was lost and did not come back
"""

from vigil.errors import VigilError


class EdgeError(VigilError):
    """Base class of every edge-agent error."""


class VideoSourceError(EdgeError):
    """A video source cannot be used.

    Attributes:
        source: the source concerned, as given (a path, camera index or URL).
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class UnknownSourceSpec(VideoSourceError):
    """The spec is no existing file or folder, camera index or supported stream URL."""


class SourceNotFound(VideoSourceError):
    """The spec names a file or folder that does not exist."""


class UnreadableSource(VideoSourceError):
    """A file that OpenCV cannot decode as video, or a folder that holds no images."""


class SourceUnavailable(VideoSourceError):
    """A camera or stream cannot be opened, or was lost and did not come back within the retry limit.

    Attributes:
        attempts: how many times opening it was tried, in the last round, before giving up.
    """

    def __init__(self, message: str, *, source: str, attempts: int) -> None:
        super().__init__(message, source=source)
        self.attempts = attempts
