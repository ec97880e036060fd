"""The gallery knows the face network its templates were made with and refuses another's probes."""

from pathlib import Path

import numpy as np
import pytest

from tests.watchlist.conftest import approved_subject
from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.image import load_image
from vigil.watchlist.errors import ModelMismatch, WatchlistError
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.store import WatchlistEntry, WatchlistStore
from vigil.watchlist.subject import Template

OTHER_MODEL = "arcface_r100:1:0123456789ab"


def _unit(rng: np.random.Generator, width: int) -> np.ndarray:
    vector = rng.normal(0, 1, width)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _entries(width: int, model: str, count: int = 4, seed: int = 0) -> list[WatchlistEntry]:
    """Subjects with unit-length embeddings (as a cosine network's embedder returns them), two templates each."""
    rng = np.random.default_rng(seed)
    entries = []
    for number in range(count):
        centre = _unit(rng, width)
        templates = tuple(
            Template(f"s{number}", _unit_near(centre, rng), b"\xff\xd8chip", 0.8, model) for _ in range(2)
        )
        entries.append(WatchlistEntry(subject=approved_subject(f"s{number}"), templates=templates))
    return entries


def _unit_near(centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    near = centre + rng.normal(0, 0.2 / np.sqrt(centre.shape[0]), centre.shape[0])
    return (near / np.linalg.norm(near)).astype(np.float32)


@pytest.mark.parametrize("width", [2, 128, 512, 4096])
def test_a_gallery_of_any_width_finds_its_subjects(width: int) -> None:
    entries = _entries(width, OTHER_MODEL)
    gallery = Gallery(entries, threshold=0.9, model=OTHER_MODEL)
    assert gallery.model == OTHER_MODEL
    rng = np.random.default_rng(5)
    for entry in entries:
        probe = _unit_near(entry.templates[0].embedding, rng)
        match = gallery.identify(probe, model=OTHER_MODEL)
        if width > 2:  # two numbers cannot keep four people apart; the search still runs
            assert match is not None
            assert match.subject.subject_id == entry.subject.subject_id
    ranked = gallery.search(entries[0].templates[0].embedding, k=4, model=OTHER_MODEL)
    assert [m.distance for m in ranked] == sorted(m.distance for m in ranked)
    assert ranked[0].distance == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("search", ["identify", "search", "search_many"])
def test_a_probe_of_another_model_is_refused(search: str) -> None:
    gallery = Gallery(_entries(128, DLIB_MODEL_ID), threshold=0.6, model=DLIB_MODEL_ID)
    probe = np.zeros(128, dtype=np.float32)
    calls = {
        "identify": lambda: gallery.identify(probe, model=OTHER_MODEL),
        "search": lambda: gallery.search(probe, model=OTHER_MODEL),
        "search_many": lambda: gallery.search_many(probe[None, :], model=OTHER_MODEL),
    }
    with pytest.raises(
        ModelMismatch, match=f"uses face model {OTHER_MODEL}, but the watchlist was made with"
    ) as caught:
        calls[search]()
    assert (caught.value.expected, caught.value.got) == (DLIB_MODEL_ID, OTHER_MODEL)
    assert isinstance(caught.value, WatchlistError)
    assert "re-embed the watchlist" in str(caught.value)
    assert f"run the device with {DLIB_MODEL_ID}" in str(caught.value)


def test_an_empty_gallery_has_the_model_it_is_told() -> None:
    gallery = Gallery([], threshold=0.5, model=OTHER_MODEL)
    assert gallery.model == OTHER_MODEL
    assert gallery.identify(np.zeros(512, dtype=np.float32), model=OTHER_MODEL) is None
    with pytest.raises(ModelMismatch):
        gallery.identify(np.zeros(128, dtype=np.float32), model=DLIB_MODEL_ID)


def test_templates_of_another_model_than_the_gallery_are_refused() -> None:
    entries = _entries(128, DLIB_MODEL_ID)
    expected = f"subject 's0' has a template made with face model {DLIB_MODEL_ID}, but the watchlist's are made with"
    with pytest.raises(ModelMismatch, match=f"{expected} {OTHER_MODEL}"):
        Gallery(entries, threshold=0.6, model=OTHER_MODEL)
    mixed = [*entries, *_entries(128, OTHER_MODEL, count=1)]
    with pytest.raises(ModelMismatch):
        Gallery(mixed, threshold=0.6, model=DLIB_MODEL_ID)


def test_templates_of_one_model_but_two_widths_are_refused() -> None:
    mixed = [*_entries(128, OTHER_MODEL), *_entries(512, OTHER_MODEL, count=1)]
    with pytest.raises(ValueError, match=r"differ in width \(\[128, 512\]\)"):
        Gallery(mixed, threshold=0.6, model=OTHER_MODEL)


def test_a_probe_of_another_width_is_refused() -> None:
    gallery = Gallery(_entries(512, OTHER_MODEL), threshold=0.6, model=OTHER_MODEL)
    with pytest.raises(ValueError, match=r"must be \(n, 512\), got \(1, 128\)"):
        gallery.search(np.zeros(128, dtype=np.float32), model=OTHER_MODEL)


def test_a_real_probe_searches_a_gallery_made_by_its_own_model(
    enrolled_store: WatchlistStore, hog_engine: FaceEngine, testdata: Path
) -> None:
    model = hog_engine.embedder.model.model_id
    gallery = Gallery(enrolled_store.live_entries(), threshold=0.6, model=model)
    probe = hog_engine.analyse(load_image(testdata / "identities" / "test" / "obama1.jpg"))[0].embedding
    match = gallery.identify(probe, model=model)
    assert match is not None
    assert match.subject.subject_id == "obama"
    with pytest.raises(ModelMismatch):
        gallery.identify(probe, model=OTHER_MODEL)


@pytest.mark.parametrize(
    ("embedding", "model", "message"),
    [
        (np.zeros(1, dtype=np.float32), DLIB_MODEL_ID, r"d from 2 to 4,096, got \(1,\)"),
        (np.zeros(4097, dtype=np.float32), DLIB_MODEL_ID, r"got \(4097,\)"),
        (np.zeros((2, 64), dtype=np.float32), DLIB_MODEL_ID, r"got \(2, 64\)"),
        (np.zeros(128, dtype=np.float64), DLIB_MODEL_ID, "float64"),
        (np.zeros(128, dtype=np.float32), "dlib", "a template's model is an id"),
        (np.zeros(128, dtype=np.float32), "dlib:1:ABCDEF123456", "a template's model is an id"),
    ],
)
def test_a_template_refuses_a_malformed_embedding_or_model(embedding: np.ndarray, model: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Template("s1", embedding, b"\xff\xd8", 0.5, model)
