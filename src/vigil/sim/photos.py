"""The demo's photos: who is on the watchlist, who walks past as a member of the public, and where their photos are.

Photos come from a folder with one sub-folder of photos per person (``--photos DIR``; this repository's tests use
``../shared/testdata/identities/train``), or, on a fresh machine, from the ``face_recognition`` 1.3.0 source
distribution on PyPI (MIT licence), whose ``tests/test_images/`` hold Barack Obama three times and Joe Biden
once. :func:`fetch_face_recognition_photos` downloads it once with pip into the data folder (the set-up script
does it; nothing is downloaded while the demo runs) and unpacks the photos into a folder per person.

Roles are explicit: the people named as watchlist subjects (by default :data:`DEFAULT_SUBJECTS`, ``obama``) are
enrolled from all their photos but the last, which the street camera shows, so the camera is matched against a
photo the watchlist never saw; everyone else walks past as a member of the public, never enrolled, and must
never raise an alert.
"""

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.edge.video import IMAGE_SUFFIXES
from vigil.sim.errors import DemoPhotosMissing, PhotoFetchFailed, UnusablePhotos

DEFAULT_DATA_DIR = Path(".vigil/demo")
"""Where the demo keeps its state, and the fetched photos under ``photos/``."""

DEFAULT_SUBJECTS = ("obama",)
"""The watchlist subjects unless told otherwise: the person the face_recognition photos show three times."""

SDIST_REQUIREMENT = "face_recognition==1.3.0"
SDIST_FILE = "face_recognition-1.3.0.tar.gz"
PIP_DOWNLOAD = ("download", "--no-binary", ":all:", "--no-deps", SDIST_REQUIREMENT)
"""pip's arguments that fetch the source distribution (and nothing else)."""

_SDIST_IMAGES = "face_recognition-1.3.0/tests/test_images/"
_SDIST_LICENSE = "face_recognition-1.3.0/LICENSE"
# Whole-face portraits: the person's name and an optional number (obama.jpg, obama2.jpg …), not the partial faces.
_PORTRAIT = re.compile(r"^(?P<person>[a-z]+)\d*\.jpg$")
_MAX_PHOTO_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class DemoPerson:
    """Someone in the demo.

    Attributes:
        person_id: the folder's name.
        on_watchlist: a watchlist subject (True) or a member of the public (False).
        enrolment_photos: the photos the watchlist is enrolled from; none for the public.
        scene_photo: the photo the street camera shows them in.
    """

    person_id: str
    on_watchlist: bool
    enrolment_photos: tuple[Path, ...]
    scene_photo: Path


@dataclass(frozen=True)
class DemoPhotos:
    """The demo's people, from one folder.

    Attributes:
        folder: the folder of per-person folders.
        subjects: the watchlist subjects.
        public: everyone else.
    """

    folder: Path
    subjects: tuple[DemoPerson, ...]
    public: tuple[DemoPerson, ...]

    @property
    def people(self) -> tuple[DemoPerson, ...]:
        """Subjects, then the public."""
        return self.subjects + self.public


def photos_folder(data_dir: Path) -> Path:
    """Where :func:`fetch_face_recognition_photos` unpacks the photos in a data folder."""
    return data_dir / "photos"


def find_demo_photos(*, photos: Path | None, data_dir: Path, subjects: Sequence[str] = DEFAULT_SUBJECTS) -> DemoPhotos:
    """The demo's people: from ``photos`` if given, else from the face_recognition photos fetched into ``data_dir``.

    Args:
        photos: a folder with a sub-folder of photos per person; None to use the fetched ones.
        data_dir: the demo's data folder.
        subjects: who is on the watchlist (folder names); everyone else is the public.

    Returns:
        The people and their roles.

    Raises:
        DemoPhotosMissing: no ``photos`` and nothing fetched yet.
        UnusablePhotos: the folder has no per-person photos, or lacks a named subject.
    """
    if photos is not None:
        return read_photo_folders(photos, subjects=subjects)
    fetched = photos_folder(data_dir)
    if not fetched.is_dir():
        raise DemoPhotosMissing(
            f"the demo's photos are not in {fetched}: run ./scripts/setup (it fetches them once from PyPI with "
            f"`pip {' '.join(PIP_DOWNLOAD)}`), or `vigil sim photos --fetch --data-dir {data_dir}`, "
            "or give --photos DIR with a folder of photos per person"
        )
    return read_photo_folders(fetched, subjects=subjects)


def read_photo_folders(folder: Path, *, subjects: Sequence[str] = DEFAULT_SUBJECTS) -> DemoPhotos:
    """Read a folder of per-person folders (photos ending in .jpg, .jpeg, .png or .webp; other files ignored).

    Raises:
        UnusablePhotos: no such folder, no person with photos, no subject named, or a subject not in it.
    """
    if not folder.is_dir():
        raise UnusablePhotos("no such folder; give a folder with one folder of photos per person", path=folder)
    people = {
        person.name: photos
        for person in sorted(p for p in folder.iterdir() if p.is_dir())
        if (photos := sorted(p for p in person.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
    }
    if not people:
        raise UnusablePhotos(
            "no person's photos here: put each person's photos in a folder named after them (obama/obama.jpg …)",
            path=folder,
        )
    if not subjects:
        raise UnusablePhotos("name at least one person to put on the watchlist", path=folder)
    missing = [name for name in subjects if name not in people]
    if missing:
        raise UnusablePhotos(
            f"no photos of {', '.join(missing)} to put on the watchlist; the people here are {', '.join(people)}",
            path=folder,
        )
    on_list = tuple(
        DemoPerson(
            person_id=name,
            on_watchlist=True,
            enrolment_photos=tuple(people[name][:-1] or people[name]),
            scene_photo=people[name][-1],
        )
        for name in subjects
    )
    public = tuple(
        DemoPerson(person_id=name, on_watchlist=False, enrolment_photos=(), scene_photo=photos[-1])
        for name, photos in people.items()
        if name not in subjects
    )
    return DemoPhotos(folder=folder, subjects=on_list, public=public)


def fetch_face_recognition_photos(data_dir: Path, *, pip: Sequence[str] | None = None) -> Path:
    """Download the face_recognition source distribution once, and unpack its photos into a folder per person.

    Nothing is downloaded when the photos are already unpacked, or the archive already downloaded.

    Args:
        data_dir: the demo's data folder; the archive goes to ``downloads/``, the photos to ``photos/``.
        pip: the command that runs pip; this Python's own pip by default.

    Returns:
        The folder of per-person folders.

    Raises:
        PhotoFetchFailed: pip failed or did not leave the archive.
        UnusablePhotos: the archive does not hold the photos it should.
    """
    destination = photos_folder(data_dir)
    if destination.is_dir():
        return destination
    downloads = data_dir / "downloads"
    archive = downloads / SDIST_FILE
    if not archive.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        command = [*(pip or (sys.executable, "-m", "pip")), *PIP_DOWNLOAD, "--dest", str(downloads)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PhotoFetchFailed(f"`{' '.join(command)}` could not run: {exc}") from exc
        if done.returncode != 0 or not archive.is_file():
            said = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise PhotoFetchFailed(
                f"`{' '.join(command)}` failed (exit status {done.returncode}): {' / '.join(said) or 'no output'}; "
                "check that PyPI can be reached, or give --photos DIR"
            )
    return unpack_face_recognition_sdist(archive, destination)


def unpack_face_recognition_sdist(archive: Path, destination: Path) -> Path:
    """Unpack the whole-face portraits of the face_recognition source distribution into a folder per person.

    Only the portraits (``tests/test_images/<name><number>.jpg``) and the licence are read from the archive, by
    name, so nothing else in it is ever written. The folder appears complete or not at all.

    Returns:
        ``destination``, holding ``<person>/<photo>.jpg`` and ``LICENSE-face_recognition.txt``.

    Raises:
        UnusablePhotos: the archive cannot be read, or holds no portraits of two people.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".photos-", dir=destination.parent))
    try:
        people: set[str] = set()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    name = member.name.removeprefix(_SDIST_IMAGES)
                    portrait = _PORTRAIT.match(name) if member.name.startswith(_SDIST_IMAGES) else None
                    if member.name == _SDIST_LICENSE:
                        target = staging / "LICENSE-face_recognition.txt"
                    elif portrait is not None:
                        people.add(portrait["person"])
                        target = staging / portrait["person"] / name
                    else:
                        continue
                    if not member.isfile() or member.size > _MAX_PHOTO_BYTES:
                        raise UnusablePhotos(f"{member.name} is not a photo file of a sensible size", path=archive)
                    data = tar.extractfile(member)
                    if data is None:
                        raise UnusablePhotos(f"{member.name} cannot be read", path=archive)
                    target.parent.mkdir(exist_ok=True)
                    target.write_bytes(data.read())
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise UnusablePhotos(
                f"not a readable .tar.gz archive ({exc}); delete it and fetch again", path=archive
            ) from exc
        if len(people) < 2:
            raise UnusablePhotos(
                f"expected portraits of two people under {_SDIST_IMAGES}, found {sorted(people) or 'none'}",
                path=archive,
            )
        staging.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
