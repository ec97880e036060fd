import importlib
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFile

from vigil.vision.embedding import DEFAULT_THRESHOLD, face_distance
from vigil.vision.engine import FaceEngine
from vigil.vision.image import load_image
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings, build_engine


def _largest_embedding(engine: FaceEngine, path: Path) -> np.ndarray:
    faces = engine.analyse(load_image(path))
    assert faces, f"no face found in {path}"
    largest = max(faces, key=lambda f: f.detection.box.area)
    assert largest.embedding is not None
    return largest.embedding


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("faces/obama.jpg", "faces/obama2.jpg", True),
        ("faces/obama.jpg", "faces/obama3.jpg", True),
        ("faces/obama.jpg", "faces/obama-240p.jpg", True),
        ("faces/obama.jpg", "faces/obama_small.jpg", True),
        ("faces/obama.jpg", "faces/biden.jpg", False),
        ("identities/train/kit_harington/john1.jpeg", "identities/test/johnsnow_test1.jpg", True),
        ("identities/train/rose_leslie/img1.jpg", "identities/train/kit_harington/john2.jpeg", False),
        ("identities/train/alex_lacamoire/img1.jpg", "identities/test/alex_lacamoire1.jpg", True),
        ("identities/train/biden/biden2.jpg", "identities/train/obama/obama.jpg", False),
    ],
)
def test_same_and_different_people(hog_engine: FaceEngine, testdata: Path, first: str, second: str, same: bool) -> None:
    distance = face_distance(
        _largest_embedding(hog_engine, testdata / first), _largest_embedding(hog_engine, testdata / second)
    )
    assert (distance <= DEFAULT_THRESHOLD) is same, f"distance {distance:.3f}"


def test_every_enrolment_photo_is_nearer_its_own_person_than_any_other(hog_engine: FaceEngine, testdata: Path) -> None:
    people = {
        person.name: [_largest_embedding(hog_engine, photo) for photo in sorted(person.iterdir())]
        for person in sorted((testdata / "identities" / "train").iterdir())
    }
    genuine = [face_distance(a, b) for vectors in people.values() for a, b in combinations(vectors, 2)]
    impostor = [
        face_distance(a, b)
        for (name_a, vectors_a), (name_b, vectors_b) in combinations(people.items(), 2)
        for a in vectors_a
        for b in vectors_b
    ]
    assert max(genuine) < min(impostor)


def test_two_people_are_two_faces_with_boxes_in_original_pixels(hog_engine: FaceEngine, testdata: Path) -> None:
    image = load_image(testdata / "faces" / "two_people.jpg")
    faces = hog_engine.find_faces(image)
    assert len(faces) == 2
    for face in faces:
        box = face.detection.box
        assert 0 <= box.left < box.right <= image.shape[1]
        assert 0 <= box.top < box.bottom <= image.shape[0]
        # Landmarks lie inside (or very near) their box, in the same coordinates.
        assert (face.landmarks.points[:, 0] > box.left - 10).all()
        assert (face.landmarks.points[:, 0] < box.right + 10).all()
        assert face.chip.shape == (150, 150, 3)
        assert face.embedding is None


def test_large_photo_is_processed_at_bounded_size_with_boxes_mapped_back(testdata: Path) -> None:
    photo = load_image(testdata / "faces" / "obama3.jpg")  # 1434×2333
    full = build_engine(VisionSettings(detector=HogDetectorSettings(upsample=0), max_side_px=4096)).find_faces(photo)
    small = build_engine(VisionSettings(detector=HogDetectorSettings(upsample=0), max_side_px=800)).find_faces(photo)
    assert len(full) == len(small) == 1
    assert full[0].detection.box.iou(small[0].detection.box) > 0.7


def test_no_face_in_a_blank_image(hog_engine: FaceEngine) -> None:
    assert hog_engine.analyse(np.full((360, 640, 3), 128, dtype=np.uint8)) == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_embeddings_equal_the_face_recognition_package(testdata: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vigil's dlib pipeline gives the plain face_recognition package's embeddings (the reference)."""
    # face_recognition sets Pillow's global LOAD_TRUNCATED_IMAGES on import; restore it after this test.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    face_recognition = importlib.import_module("face_recognition")
    engine = build_engine(
        VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=4096)
    )
    for name in ("obama.jpg", "biden.jpg", "two_people.jpg", "obama_small.jpg"):
        image = load_image(testdata / "faces" / name)
        ours = engine.analyse(image)
        locations = [
            (
                round(f.detection.box.top),
                round(f.detection.box.right) - 1,
                round(f.detection.box.bottom) - 1,
                round(f.detection.box.left),
            )
            for f in ours
        ]
        assert sorted(locations) == sorted(face_recognition.face_locations(image)), name
        theirs = face_recognition.face_encodings(image, known_face_locations=locations)
        for face, reference in zip(ours, theirs, strict=True):
            assert face.embedding is not None
            assert face_distance(face.embedding, reference.astype(np.float32)) < 1e-5, name
