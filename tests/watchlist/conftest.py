from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.vision.engine import FaceEngine
from vigil.vision.image import load_image
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.store import WatchlistStore
from vigil.watchlist.subject import Subject, SubjectCategory, Template

PEOPLE = ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]


def approved_subject(subject_id: str) -> Subject:
    """A subject proposed by one officer and approved by a sergeant: live."""
    return make_subject(subject_id).model_copy(update={"approved_by": "sgt.jones", "approved_at": datetime.now(UTC)})


def make_subject(
    subject_id: str, *, expires_in: timedelta = timedelta(days=30), proposed_by: str = "pc.smith"
) -> Subject:
    now = datetime.now(UTC)
    return Subject(
        subject_id=subject_id,
        display_name=subject_id.replace("_", " ").title(),
        category=SubjectCategory.WANTED_ON_WARRANT,
        legal_basis="Warrant 2026/0042, Magistrates' Court",
        expires_at=now + expires_in,
        notes="Approach with care.",
        proposed_by=proposed_by,
        proposed_at=now,
    )


@pytest.fixture(scope="session")
def train_templates(hog_engine: FaceEngine, testdata: Path) -> dict[str, list[Template]]:
    """Templates of the five enrolment identities, made once per session."""
    root = testdata / "identities" / "train"
    return {
        person: [
            enrol_photo(hog_engine, load_image(photo), subject_id=person, source=photo.name)
            for photo in sorted((root / person).iterdir())
        ]
        for person in PEOPLE
    }


@pytest.fixture
def enrolled_store(tmp_path: Path, train_templates: dict[str, list[Template]]) -> WatchlistStore:
    """A watchlist with the five people proposed by one officer and approved by a supervisor."""
    store = WatchlistStore.create(tmp_path / "watchlist.sqlite", name="Operation Test")
    for person, templates in train_templates.items():
        store.add(make_subject(person), templates)
        store.approve(person, approver="sgt.jones")
    yield store
    store.close()
