from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from vigil.vision.engine import Face, FaceEngine
from vigil.vision.image import load_image
from vigil.vision.quality import QualityPolicy

PART_NAMES = ["face_size", "sharpness", "yaw", "roll", "brightness", "clipping"]


def _only_face(engine: FaceEngine, image: np.ndarray) -> Face:
    faces = engine.find_faces(image)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="module")
def portrait(testdata: Path) -> np.ndarray:
    return load_image(testdata / "faces" / "obama.jpg")


def test_good_portrait_passes_every_part(hog_engine: FaceEngine, portrait: np.ndarray) -> None:
    quality = _only_face(hog_engine, portrait).quality
    assert [part.name for part in quality.parts] == PART_NAMES
    assert quality.passed, quality.reasons
    assert quality.score > 0.8
    assert quality.reasons == []


@pytest.mark.parametrize(
    ("degrade", "failing_part", "reason"),
    [
        (lambda img: cv2.GaussianBlur(img, (0, 0), 12), "sharpness", "blurred"),
        (lambda img: (img * 0.2).astype(np.uint8), "brightness", "too dark"),
        (lambda img: np.clip(img.astype(np.int32) * 3, 0, 255).astype(np.uint8), "clipping", "blown out"),
        (lambda img: cv2.resize(img, None, fx=0.13, fy=0.13, interpolation=cv2.INTER_AREA), "face_size", "too small"),
    ],
    ids=["blur", "dark", "overexposed", "tiny"],
)
def test_poor_face_fails_with_the_part_that_is_poor(
    hog_engine: FaceEngine, portrait: np.ndarray, degrade, failing_part: str, reason: str
) -> None:
    from vigil.vision.settings import HogDetectorSettings, VisionSettings, build_engine

    engine = build_engine(VisionSettings(detector=HogDetectorSettings(upsample=2), max_side_px=1024))
    quality = _only_face(engine, np.ascontiguousarray(degrade(portrait))).quality
    assert not quality.passed
    failed = [part for part in quality.parts if not part.passed]
    assert failing_part in [part.name for part in failed]
    assert any(reason in text for text in quality.reasons)
    assert next(p for p in failed if p.name == failing_part).score == 0.0


def test_roll_is_measured_in_degrees(hog_engine: FaceEngine, portrait: np.ndarray) -> None:
    height, width = portrait.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    tilted = cv2.warpAffine(portrait, rotation, (width, height), borderMode=cv2.BORDER_REPLICATE)
    roll = next(p for p in _only_face(hog_engine, tilted).quality.parts if p.name == "roll")
    assert roll.value == pytest.approx(20, abs=4)


def test_policy_refuses_disordered_bounds() -> None:
    with pytest.raises(ValidationError, match=r"min_sharpness \(200\.0\) must be below good_sharpness"):
        QualityPolicy(min_sharpness=200, good_sharpness=100)


def test_policy_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        QualityPolicy(min_sharpnes=10)  # type: ignore[call-arg]
