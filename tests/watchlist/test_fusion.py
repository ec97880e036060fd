from pathlib import Path

import numpy as np
import pytest

from vigil.vision.engine import FaceEngine, photo_subject
from vigil.vision.image import load_image
from vigil.watchlist.fusion import WEIGHT_FLOOR, fuse, fuse_groups


def _face(engine: FaceEngine, path: Path) -> tuple[np.ndarray, float]:
    image = load_image(path)
    subject = photo_subject(engine.find_faces(image), width=image.shape[1], height=image.shape[0])
    assert subject is not None
    (embedded,) = engine.embed([subject])
    assert embedded.embedding is not None
    return embedded.embedding, subject.quality.score


def test_one_face_fuses_to_itself() -> None:
    face = np.random.default_rng(0).normal(size=(1, 128)).astype(np.float32)
    assert np.array_equal(fuse(face, np.array([0.7], dtype=np.float32), unit_length=False), face[0])


def test_faces_are_weighed_by_quality_each_at_least_the_floor() -> None:
    faces = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=np.float32)
    fused = fuse(faces, np.array([0.8, 0.2, 0.0], dtype=np.float32), unit_length=False)
    weights = np.array([0.8, 0.2, WEIGHT_FLOOR])
    assert fused == pytest.approx((weights @ faces) / weights.sum())
    assert fuse(faces[:2], None, unit_length=False) == pytest.approx([0.5, 0.5])
    # Faces that all scored 0 still fuse, equally.
    assert fuse(faces[:2], np.zeros(2, dtype=np.float32), unit_length=False) == pytest.approx([0.5, 0.5])


def test_a_cosine_models_fusion_is_scaled_back_to_unit_length() -> None:
    faces = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    fused = fuse(faces, None, unit_length=True)
    assert fused == pytest.approx([2**-0.5, 2**-0.5])
    assert fused.dtype == np.float32


def test_groups_fuse_as_each_group_alone() -> None:
    rng = np.random.default_rng(1)
    faces = rng.normal(size=(7, 16)).astype(np.float32)
    scores = rng.uniform(size=7).astype(np.float32)
    groups = np.array([0, 1, 0, 2, 1, 1, 0])
    fused = fuse_groups(faces, groups, scores, unit_length=True)
    for group in range(3):
        rows = groups == group
        assert fused[group] == pytest.approx(fuse(faces[rows], scores[rows], unit_length=True), abs=1e-6)


@pytest.mark.parametrize(
    ("faces", "weights", "message"),
    [
        (np.zeros((0, 4)), None, "at least one face"),
        (np.zeros(4), None, "at least one face"),
        (np.ones((2, 4)), np.ones(3), "2 finite quality scores"),
        (np.ones((2, 4)), np.array([1.0, np.nan]), "finite"),
        (np.array([[1.0, 0.0], [-1.0, 0.0]]), None, "cancel out"),
    ],
)
def test_refusals(faces: np.ndarray, weights: np.ndarray | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fuse(
            faces.astype(np.float32),
            None if weights is None else weights.astype(np.float32),
            unit_length=True,
        )


def test_a_group_without_faces_is_refused() -> None:
    with pytest.raises(ValueError, match="every group from 0 to 2"):
        fuse_groups(np.ones((2, 4), dtype=np.float32), np.array([0, 2]), None, unit_length=False)


def test_fused_photos_of_one_person_lie_nearer_their_other_photo_than_the_photos_do(
    hog_engine: FaceEngine, testdata: Path
) -> None:
    """Real faces: two photos of Obama fused lie nearer his third than the two do on average, never farther."""
    faces = testdata / "faces"
    (first, first_score), (second, second_score) = (
        _face(hog_engine, faces / name) for name in ("obama.jpg", "obama2.jpg")
    )
    other, _ = _face(hog_engine, faces / "obama3.jpg")
    scores = np.array([first_score, second_score], dtype=np.float32)
    fused = fuse(np.stack([first, second]), scores, unit_length=False)
    weights = np.maximum(scores, WEIGHT_FLOOR)
    singles = np.array([np.linalg.norm(other - first), np.linalg.norm(other - second)])
    assert np.linalg.norm(other - fused) <= (weights @ singles) / weights.sum() + 1e-6
    stranger, _ = _face(hog_engine, faces / "biden.jpg")
    assert np.linalg.norm(other - fused) < np.linalg.norm(stranger - fused)  # still Obama, not anyone's average
