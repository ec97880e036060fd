from pathlib import Path

import pytest

from vigil.vision.errors import ModelChecksumMismatch, ModelNotInstalled
from vigil.vision.models import (
    BLAZEFACE_SHORT_RANGE,
    DLIB_FACE_RECOGNITION,
    DLIB_SHAPE_PREDICTOR_5,
    ModelFile,
    locate_model,
    verify_checksum,
)


@pytest.mark.parametrize("model", [DLIB_FACE_RECOGNITION, DLIB_SHAPE_PREDICTOR_5, BLAZEFACE_SHORT_RANGE])
def test_installed_models_are_found_and_verified(model: ModelFile) -> None:
    path = locate_model(model)
    assert path.is_file()
    assert path.name == Path(model.path).name


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        (ModelFile("no-such-distribution-vigil", "x/model.dat", "0" * 64), ModelNotInstalled, "is not installed"),
        (
            ModelFile("face_recognition_models", "face_recognition_models/models/gone.dat", "0" * 64),
            ModelNotInstalled,
            "missing from the installed",
        ),
        (
            ModelFile(DLIB_SHAPE_PREDICTOR_5.distribution, DLIB_SHAPE_PREDICTOR_5.path, "0" * 64),
            ModelChecksumMismatch,
            "damaged or was replaced",
        ),
    ],
)
def test_missing_or_altered_model_is_refused(model: ModelFile, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        locate_model(model)


def test_a_damaged_copy_fails_its_checksum(tmp_path: Path) -> None:
    original = locate_model(DLIB_SHAPE_PREDICTOR_5).read_bytes()
    damaged = tmp_path / "shape_predictor_5_face_landmarks.dat"
    damaged.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    verify_checksum(locate_model(DLIB_SHAPE_PREDICTOR_5), DLIB_SHAPE_PREDICTOR_5.sha256)
    with pytest.raises(ModelChecksumMismatch, match=str(damaged)):
        verify_checksum(damaged, DLIB_SHAPE_PREDICTOR_5.sha256)
