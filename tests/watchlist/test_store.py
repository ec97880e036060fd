import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.watchlist.conftest import make_subject
from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.watchlist.errors import (
    DuplicateSubject,
    ModelMismatch,
    SelfApproval,
    SubjectExpired,
    SubjectNotFound,
    WatchlistFileError,
)
from vigil.watchlist.operating_point import DLIB_TABLE, table_for
from vigil.watchlist.store import SCHEMA_VERSION, WatchlistStore
from vigil.watchlist.subject import Template

OTHER_MODEL = "arcface_r100:1:0123456789ab"


def _template(subject_id: str, seed: int = 0, *, model: str = DLIB_MODEL_ID, width: int = 128) -> Template:
    vector = np.random.default_rng(seed).normal(0, 0.1, width).astype(np.float32)
    return Template(subject_id=subject_id, embedding=vector, chip_jpeg=b"\xff\xd8chip", quality=0.9, model=model)


@pytest.fixture
def store(tmp_path: Path) -> WatchlistStore:
    with WatchlistStore.create(tmp_path / "w.sqlite", name="Op") as created:
        yield created


def test_entry_is_live_only_after_a_second_person_approves(store: WatchlistStore) -> None:
    store.add(make_subject("s1", proposed_by="pc.smith"), [_template("s1")])
    assert store.live_entries() == []
    with pytest.raises(SelfApproval, match=r"pc\.smith proposed 's1' and cannot also approve it"):
        store.approve("s1", approver="PC.Smith ")
    approved = store.approve("s1", approver="sgt.jones")
    assert approved.approved_by == "sgt.jones"
    [entry] = store.live_entries()
    assert entry.subject.subject_id == "s1"
    np.testing.assert_array_equal(entry.templates[0].embedding, _template("s1").embedding)


def test_expired_entry_is_never_live_and_cannot_be_approved(store: WatchlistStore) -> None:
    store.add(make_subject("s1", expires_in=timedelta(hours=1)), [_template("s1")])
    store.approve("s1", approver="sgt.jones")
    later = datetime.now(UTC) + timedelta(hours=2)
    assert store.live_entries(later) == []
    assert store.subject("s1").status(later) == "expired"
    store.add(make_subject("s2", expires_in=timedelta(hours=1)), [_template("s2")])
    with pytest.raises(SubjectExpired, match="cannot go live"):
        store.approve("s2", approver="sgt.jones", now=later)


def test_every_change_raises_the_version(store: WatchlistStore) -> None:
    versions = [store.version]
    store.add(make_subject("s1"), [_template("s1"), _template("s1", 1)])
    versions.append(store.version)
    store.approve("s1", approver="sgt.jones")
    versions.append(store.version)
    store.set_threshold(0.45)
    versions.append(store.version)
    store.remove("s1")
    versions.append(store.version)
    assert versions == [1, 2, 3, 4, 5]
    assert store.operating_threshold(DLIB_TABLE) == 0.45
    assert store.template_counts() == {}


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda s: s.remove("nobody"), SubjectNotFound, "no subject with id 'nobody'"),
        (lambda s: s.approve("nobody", approver="x"), SubjectNotFound, "nobody"),
        (lambda s: s.add(make_subject("s1"), [_template("s1")]), DuplicateSubject, "already on this watchlist"),
        (lambda s: s.add(make_subject("s2"), []), ValueError, "at least one template"),
        (lambda s: s.add(make_subject("s3"), [_template("s1")]), ValueError, "must belong to subject 's3'"),
        (lambda s: s.set_threshold(3.0), ValueError, r"lies in \(0, 2\]"),
        (
            lambda s: s.add(make_subject("s4"), [_template("s4", model=OTHER_MODEL, width=512)]),
            ModelMismatch,
            f"subject 's4' has a template made with face model {OTHER_MODEL}, but the watchlist's are made with "
            f"{DLIB_MODEL_ID}: one watchlist holds one model's templates. Enrol the subject with {DLIB_MODEL_ID}",
        ),
        (
            lambda s: s.add(make_subject("s5"), [_template("s5"), _template("s5", model=OTHER_MODEL)]),
            ModelMismatch,
            "re-embed the whole watchlist",
        ),
    ],
)
def test_refusals(store: WatchlistStore, action, error: type[Exception], message: str) -> None:
    store.add(make_subject("s1"), [_template("s1")])
    before = store.version
    with pytest.raises(error, match=message):
        action(store)
    assert store.version == before
    assert [s.subject_id for s in store.subjects()] == ["s1"]


def test_reopened_file_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    with WatchlistStore.create(path, name="Op", threshold=0.42) as store:
        store.add(make_subject("s1"), [_template("s1")])
        identity = store.watchlist_id
    with WatchlistStore.open(path) as store:
        assert (store.watchlist_id, store.name, store.operating_threshold(DLIB_TABLE), store.version) == (
            identity,
            "Op",
            0.42,
            2,
        )
        assert store.subject("s1").legal_basis.startswith("Warrant")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(WatchlistFileError, match="no watchlist file"):
        WatchlistStore.open(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WatchlistFileError, match="not a Vigil watchlist file"):
        WatchlistStore.open(junk)
    WatchlistStore.create(tmp_path / "w.sqlite", name="Op").close()
    with pytest.raises(WatchlistFileError, match="already exists"):
        WatchlistStore.create(tmp_path / "w.sqlite", name="Op")


@pytest.mark.parametrize(("model", "width"), [(DLIB_MODEL_ID, 128), (OTHER_MODEL, 512), ("tiny:2:abcdefabcdef", 2)])
def test_templates_keep_their_model_and_width(tmp_path: Path, model: str, width: int) -> None:
    path = tmp_path / "w.sqlite"
    with WatchlistStore.create(path, name="Op") as store:
        assert store.model is None  # nothing enrolled yet: any model may start it
        store.add(make_subject("s1"), [_template("s1", model=model, width=width)])
        store.approve("s1", approver="sgt.jones")
    with WatchlistStore.open(path) as store:
        [entry] = store.live_entries()
        assert (store.model, entry.templates[0].model, entry.templates[0].embedding.shape) == (model, model, (width,))
        np.testing.assert_array_equal(entry.templates[0].embedding, _template("s1", model=model, width=width).embedding)


def test_an_emptied_watchlist_may_be_enrolled_with_another_model(store: WatchlistStore) -> None:
    store.add(make_subject("s1"), [_template("s1")])
    store.remove("s1")
    assert store.model is None
    store.add(make_subject("s2"), [_template("s2", model=OTHER_MODEL, width=512)])
    assert store.model == OTHER_MODEL


_FORMAT_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE subjects (
    subject_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, category TEXT NOT NULL, legal_basis TEXT NOT NULL,
    expires_at TEXT NOT NULL, notes TEXT NOT NULL, proposed_by TEXT NOT NULL, proposed_at TEXT NOT NULL,
    approved_by TEXT, approved_at TEXT
);
CREATE TABLE templates (
    template_id INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects(subject_id) ON DELETE CASCADE,
    embedding BLOB NOT NULL, chip_jpeg BLOB NOT NULL, quality REAL NOT NULL
);
CREATE INDEX templates_by_subject ON templates(subject_id);
PRAGMA user_version = 1;
"""


def test_a_file_from_before_templates_named_their_model_reads_as_dlib(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    now = datetime.now(UTC)
    embedding = _template("s1").embedding
    with sqlite3.connect(path) as old:
        old.executescript(_FORMAT_1)
        old.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("watchlist_id", "wl-old"), ("name", "Old"), ("threshold", "0.5"), ("version", "3"), ("created_at", "x")],
        )
        old.execute(
            "INSERT INTO subjects VALUES ('s1', 'S One', 'wanted_suspect', 'Warrant 1', ?, '', 'pc.a', ?, 'sgt.b', ?)",
            ((now + timedelta(days=1)).isoformat(), now.isoformat(), now.isoformat()),
        )
        old.execute(
            "INSERT INTO templates (subject_id, embedding, chip_jpeg, quality) VALUES ('s1', ?, ?, 0.7)",
            (embedding.tobytes(), b"\xff\xd8old"),
        )
    old.close()
    with WatchlistStore.open(path) as store:
        [entry] = store.live_entries()
        assert (store.model, entry.templates[0].model, store.version) == (DLIB_MODEL_ID, DLIB_MODEL_ID, 3)
        np.testing.assert_array_equal(entry.templates[0].embedding, embedding)
        with pytest.raises(ModelMismatch):
            store.add(make_subject("s2"), [_template("s2", model=OTHER_MODEL, width=512)])
        store.add(make_subject("s3"), [_template("s3")])
    with sqlite3.connect(path) as upgraded:
        assert upgraded.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    upgraded.close()
    with WatchlistStore.open(path) as store:  # opens again as the current format
        assert store.template_counts() == {"s1": 1, "s3": 1}


def test_a_file_of_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    WatchlistStore.create(path, name="Op").close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(WatchlistFileError, match="has watchlist format 99; this Vigil reads format 2"):
        WatchlistStore.open(path)


def test_enrolment_names_the_engine_model(hog_engine: FaceEngine, train_templates: dict[str, list[Template]]) -> None:
    models = {template.model for templates in train_templates.values() for template in templates}
    assert models == {hog_engine.embedder.model.model_id} == {DLIB_MODEL_ID}


def test_a_watchlist_runs_at_the_threshold_of_its_own_network(store: WatchlistStore) -> None:
    store.add(make_subject("s1"), [_template("s1", model=OTHER_MODEL, width=64)])
    store.approve("s1", approver="sgt.jones")
    other_table = table_for(OTHER_MODEL, distance_threshold=0.7)
    assert store.operating_threshold(other_table) == 0.7
    with pytest.raises(ModelMismatch, match=f"the threshold table uses face model {DLIB_MODEL_ID}"):
        store.operating_threshold(DLIB_TABLE)
