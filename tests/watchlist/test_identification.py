from pathlib import Path

import numpy as np
import pytest

from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.image import load_image
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.identification import identify_faces
from vigil.watchlist.store import WatchlistStore


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("alex_lacamoire1.jpg", ["alex_lacamoire"]),
        ("johnsnow_test1.jpg", ["kit_harington"]),
        ("obama1.jpg", ["obama"]),
        ("kit_with_rose.jpg", ["kit_harington", "rose_leslie"]),
        ("obama_and_biden.jpg", ["biden", "obama"]),
    ],
)
def test_every_test_photo_names_the_right_people(
    enrolled_store: WatchlistStore, hog_engine: FaceEngine, testdata: Path, photo: str, expected: list[str]
) -> None:
    gallery = Gallery(enrolled_store.live_entries(), threshold=0.6, model=DLIB_MODEL_ID)
    found = identify_faces(hog_engine, gallery, load_image(testdata / "identities" / "test" / photo))
    names = sorted(f.match.subject.subject_id for f in found if f.match is not None)
    # Each face gets its own answer: the two-person photos give both names, one per face.
    assert names == expected


def test_a_face_not_on_the_watchlist_matches_nobody(
    enrolled_store: WatchlistStore, hog_engine: FaceEngine, testdata: Path
) -> None:
    enrolled_store.remove("obama")
    gallery = Gallery(enrolled_store.live_entries(), threshold=0.6, model=DLIB_MODEL_ID)
    for photo in ["faces/obama.jpg", "faces/obama3.jpg", "identities/test/obama1.jpg"]:
        found = identify_faces(hog_engine, gallery, load_image(testdata / photo))
        assert found, photo
        assert [f.match for f in found] == [None] * len(found), photo


def test_search_ranks_subjects_with_fused_templates(
    enrolled_store: WatchlistStore, hog_engine: FaceEngine, testdata: Path
) -> None:
    gallery = Gallery(enrolled_store.live_entries(), threshold=0.6, model=DLIB_MODEL_ID)
    probe = hog_engine.analyse(load_image(testdata / "identities" / "test" / "obama1.jpg"))[0].embedding
    ranked = gallery.search(probe, k=5, model=hog_engine.embedder.model.model_id)
    assert ranked[0].subject.subject_id == "obama"
    assert len({m.subject.subject_id for m in ranked}) == 5  # one entry per subject, though some have 2 templates
    assert [m.distance for m in ranked] == sorted(m.distance for m in ranked)
    assert gallery.template_chip(ranked[0].template)[:2] == b"\xff\xd8"  # the enrolled chip, as JPEG


def test_empty_gallery_matches_nobody() -> None:
    gallery = Gallery([], threshold=0.5, model=DLIB_MODEL_ID)
    assert gallery.identify(np.zeros(128, dtype=np.float32), model=DLIB_MODEL_ID) is None
    assert gallery.search(np.zeros(128, dtype=np.float32), model=DLIB_MODEL_ID) == []
