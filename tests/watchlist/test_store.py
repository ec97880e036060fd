from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.watchlist.conftest import make_subject
from vigil.watchlist.errors import DuplicateSubject, SelfApproval, SubjectExpired, SubjectNotFound, WatchlistFileError
from vigil.watchlist.store import WatchlistStore
from vigil.watchlist.subject import Template


def _template(subject_id: str, seed: int = 0) -> Template:
    vector = np.random.default_rng(seed).normal(0, 0.1, 128).astype(np.float32)
    return Template(subject_id=subject_id, embedding=vector, chip_jpeg=b"\xff\xd8chip", quality=0.9)


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
    assert store.threshold == 0.45
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
        assert (store.watchlist_id, store.name, store.threshold, store.version) == (identity, "Op", 0.42, 2)
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
