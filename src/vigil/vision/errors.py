"""Errors of the face engine.

Hierarchy::

    VigilError
    └── VisionError
        ├── ImageError                  the input is not an image Vigil can safely decode
        │   ├── EmptyImage              zero bytes
        │   ├── NotAnImage              bytes of some other format (text, PDF, …)
        │   ├── UnsupportedImage        an image format or pixel mode Vigil does not read
        │   ├── CorruptImage            the decoder failed part way, or the file is cut short
        │   └── ImageTooLarge           too many pixels or bytes (decompression bombs)
        ├── ModelError                  a model file is missing, damaged or will not load
        │   ├── ModelNotInstalled
        │   ├── ModelChecksumMismatch
        │   ├── ModelFormatError        a model file's bytes are not the network Vigil expects
        │   │   └── ModelTruncated      the file ends part way through
        │   ├── ModelLoadFailed         the inference runtime refuses a verified file
        │   ├── ModelCacheUnwritable    a converted model cannot be stored in the model cache
        │   ├── EmbedderVerificationFailed  a converted embedder does not reproduce dlib's embeddings
        │   ├── ModelManifestInvalid    a force's model manifest is unreadable, or does not describe its ONNX file
        │   └── ModelVerificationFailed a force's model gets known photos wrong, or cannot be checked
        │       └── CheckPhotosUnusable the known-answer photos are missing or too few
        ├── FaceError                   an image is fine but its faces do not allow the request
        │   ├── NoFaceFound
        │   └── MultipleFacesFound
        └── PairsFileError              a labelled pairs file (``vigil evaluate pairs``) cannot be read
"""

from pathlib import Path

from vigil.errors import VigilError


class VisionError(VigilError):
    """Base class of every face-engine error."""


class ImageError(VisionError):
    """The input cannot be used as an image.

    Attributes:
        source: what was being read (a path, or ``"<bytes>"``).
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class EmptyImage(ImageError):
    """The input has no bytes at all."""


class NotAnImage(ImageError):
    """The bytes are not in any image format Vigil reads (JPEG, PNG, WebP, BMP, TIFF)."""


class UnsupportedImage(ImageError):
    """An image, but in a format or pixel mode Vigil does not read."""


class CorruptImage(ImageError):
    """An image whose data is damaged or cut short."""


class ImageTooLarge(ImageError):
    """An image over the pixel or byte limit, refused before it is decoded."""


class ModelError(VisionError):
    """A model file cannot be used.

    Attributes:
        path: the model file concerned.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class ModelNotInstalled(ModelError):
    """The package that ships a model is not installed, or lacks the file."""


class ModelChecksumMismatch(ModelError):
    """A model file's sha256 differs from the one Vigil was built and tested with."""


class ModelFormatError(ModelError):
    """A model file's bytes do not hold the network Vigil expects: an unknown layer, version or shape.

    Attributes:
        offset: the byte offset in the file where reading failed.
    """

    def __init__(self, message: str, *, path: Path, offset: int) -> None:
        super().__init__(
            f"{path}, byte {offset:,}: {message}; the file is damaged or is not the model Vigil expects: "
            "reinstall the package that ships it",
            path=path,
        )
        self.offset = offset


class ModelTruncated(ModelFormatError):
    """A model file ends before the network it holds is complete (a cut-short copy or download)."""


class ModelLoadFailed(ModelError):
    """The inference runtime cannot load or prepare a model file whose checksum is right."""


class ModelCacheUnwritable(ModelError):
    """A model converted on this machine cannot be written to the model cache folder."""


class EmbedderVerificationFailed(ModelError):
    """A converted embedder's output differs from dlib's own on the verification chips; it is not installed.

    Attributes:
        min_cosine: the lowest cosine similarity between the two embedders' vectors for one chip.
        decisions_changed: pairs of chips whose same/different decision differs between the two.
    """

    def __init__(self, message: str, *, path: Path, min_cosine: float, decisions_changed: int) -> None:
        super().__init__(message, path=path)
        self.min_cosine = min_cosine
        self.decisions_changed = decisions_changed


class ModelManifestInvalid(ModelError):
    """A model manifest cannot be read, breaks its own rules, or describes a network other than its ONNX file's.

    Attributes:
        field: the manifest field at fault (``"embedding_size"``), or None when the whole file is.
    """

    def __init__(self, message: str, *, path: Path, field: str | None) -> None:
        super().__init__(message, path=path)
        self.field = field


class ModelVerificationFailed(ModelError):
    """A force's model, run on photos of known people, calls two photos of one person different or of two the same.

    Attributes:
        first: the first photo of the failing pair (None when no pair was compared).
        second: the second photo.
        distance: their distance, as the slot's embeddings give it.
        threshold: the manifest's threshold as a distance.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        first: Path | None = None,
        second: Path | None = None,
        distance: float | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.first = first
        self.second = second
        self.distance = distance
        self.threshold = threshold


class CheckPhotosUnusable(ModelVerificationFailed):
    """The known-answer photos are missing, hold no face, or give no same-person or no different-person pair."""


class FaceError(VisionError):
    """The image is readable but its faces do not allow what was asked."""

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class NoFaceFound(FaceError):
    """No face was detected where one was required."""


class MultipleFacesFound(FaceError):
    """Several faces were found where exactly one was required."""


class PairsFileError(VisionError):
    """A labelled pairs file is malformed: an unknown format, a bad line, or a count that does not add up.

    Attributes:
        path: the pairs file.
        line: the 1-based line number where the problem is.
    """

    def __init__(self, message: str, *, path: Path, line: int) -> None:
        super().__init__(f"{path}, line {line}: {message}")
        self.path = path
        self.line = line
