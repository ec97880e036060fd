from pathlib import Path

import pytest

from tests.watchlist.conftest import approved_subject
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.image import load_image
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.store import WatchlistEntry


@pytest.fixture(scope="session")
def watchlist_entries(hog_engine: FaceEngine, testdata: Path) -> dict[str, WatchlistEntry]:
    """Approved entries for every test identity, enrolled from identities/train."""
    entries = {}
    for folder in sorted((testdata / "identities" / "train").iterdir()):
        subject = approved_subject(folder.name)
        photos = sorted(folder.iterdir())
        # The patrol scene shows biden and rose_leslie in their last enrolment photo: enrol them from the others.
        if folder.name in {"biden", "rose_leslie"}:
            photos = photos[:-1]
        templates = tuple(enrol_photo(hog_engine, load_image(p), subject_id=folder.name, source=p.name) for p in photos)
        entries[folder.name] = WatchlistEntry(subject=subject, templates=templates)
    return entries


def active_watchlist(entries: dict[str, WatchlistEntry], people: list[str], *, version: int = 1) -> ActiveWatchlist:
    gallery = Gallery([entries[p] for p in people], threshold=threshold_for_size(len(people)), model=DLIB_MODEL_ID)
    return ActiveWatchlist(LoadedWatchlist(gallery=gallery, version=version, valid_until=None, package=None))
