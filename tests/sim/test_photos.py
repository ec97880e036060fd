"""The demo's photos: a folder per person with explicit roles, or the face_recognition sdist fetched once with pip.

The sdist is never downloaded here: ``sdist`` builds an archive of the same layout from the shared test photos
(which came from that very sdist), and a stand-in for pip writes it where pip would.
"""

import io
import stat
import sys
import tarfile
from pathlib import Path

import pytest

from vigil.sim.errors import DemoPhotosMissing, PhotoFetchFailed, UnusablePhotos
from vigil.sim.photos import (
    PIP_DOWNLOAD,
    SDIST_FILE,
    fetch_face_recognition_photos,
    find_demo_photos,
    read_photo_folders,
    unpack_face_recognition_sdist,
)

SDIST_IMAGES = ["32bit.png", "biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"]


def _add(tar: tarfile.TarFile, name: str, data: bytes, *, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = len(data), kind, link
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def sdist(testdata: Path, tmp_path: Path) -> Path:
    """An archive laid out as face_recognition-1.3.0.tar.gz, with entries that must never be written."""
    path = tmp_path / "source" / SDIST_FILE
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "face_recognition-1.3.0/LICENSE", b"MIT License\n")
        _add(tar, "face_recognition-1.3.0/setup.py", b"print('never run')\n")
        for name in SDIST_IMAGES:
            _add(tar, f"face_recognition-1.3.0/tests/test_images/{name}", (testdata / "faces" / name).read_bytes())
        _add(tar, "face_recognition-1.3.0/tests/test_images/../../../evil.jpg", b"\xff\xd8\xff")
    return path


def _fake_pip(directory: Path, *, archive: Path | None, exit_status: int = 0) -> list[str]:
    """A stand-in for ``python -m pip`` that checks its arguments and copies ``archive`` to ``--dest``."""
    script = directory / "fake_pip.py"
    script.write_text(
        "import shutil, sys\n"
        f"assert sys.argv[1:6] == {list(PIP_DOWNLOAD)!r}, sys.argv\n"
        "dest = sys.argv[sys.argv.index('--dest') + 1]\n"
        f"if {str(archive)!r} != 'None': shutil.copy({str(archive)!r}, dest)\n"
        "print('ERROR: No matching distribution found for face_recognition==1.3.0', file=sys.stderr)\n"
        f"sys.exit({exit_status})\n"
    )
    return [sys.executable, str(script)]


# --- a folder per person -----------------------------------------------------------------------------------------


def test_subjects_are_enrolled_from_all_but_one_photo_and_the_camera_shows_the_other(testdata: Path) -> None:
    train = testdata / "identities" / "train"
    photos = read_photo_folders(train, subjects=["obama", "kit_harington"])
    obama, kit = photos.subjects
    assert obama.on_watchlist
    assert obama.enrolment_photos == (train / "obama" / "obama.jpg",)
    assert obama.scene_photo == train / "obama" / "obama2.jpg"
    assert kit.scene_photo.suffix == ".jpeg"
    assert [p.person_id for p in photos.public] == ["alex_lacamoire", "biden", "rose_leslie"]
    for person in photos.public:
        assert not person.on_watchlist
        assert person.enrolment_photos == ()
    alex = photos.public[0]
    assert alex.scene_photo == train / "alex_lacamoire" / "img1.jpg"  # one photo: the camera shows it


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        (["nobody"], "no photos of nobody to put on the watchlist; the people here are alex_lacamoire"),
        ([], "at least one"),
    ],
)
def test_a_subject_without_photos_is_refused_with_the_people_there_are(
    testdata: Path, subjects: list[str], message: str
) -> None:
    with pytest.raises(UnusablePhotos, match=message):
        read_photo_folders(testdata / "identities" / "train", subjects=subjects)


def test_folders_without_per_person_photos_are_refused(testdata: Path, tmp_path: Path) -> None:
    with pytest.raises(UnusablePhotos, match="no such folder"):
        read_photo_folders(tmp_path / "missing")
    with pytest.raises(UnusablePhotos, match="no person's photos here"):
        read_photo_folders(testdata / "faces")  # photos, but not in a folder per person


def test_without_photos_or_a_fetch_the_demo_says_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DemoPhotosMissing, match=r"run \./scripts/setup .*pip download --no-binary :all:"):
        find_demo_photos(photos=None, data_dir=tmp_path)


# --- the face_recognition source distribution --------------------------------------------------------------------


def test_the_sdist_is_fetched_once_unpacked_per_person_and_gives_the_demo_its_roles(
    sdist: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "demo"
    folder = fetch_face_recognition_photos(data_dir, pip=_fake_pip(tmp_path, archive=sdist))
    assert folder == data_dir / "photos"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "LICENSE-face_recognition.txt",
        "biden/biden.jpg",
        "obama/obama.jpg",
        "obama/obama2.jpg",
        "obama/obama3.jpg",
    ]
    assert not list(tmp_path.rglob("evil.jpg"))
    assert (data_dir / "downloads" / SDIST_FILE).is_file()

    # Already there: pip is not run again (this one would fail).
    assert fetch_face_recognition_photos(data_dir, pip=_fake_pip(tmp_path, archive=None, exit_status=1)) == folder

    photos = find_demo_photos(photos=None, data_dir=data_dir)
    (obama,), (biden,) = photos.subjects, photos.public
    assert obama.person_id == "obama"
    assert [p.name for p in obama.enrolment_photos] == ["obama.jpg", "obama2.jpg"]
    assert obama.scene_photo.name == "obama3.jpg"
    assert (biden.person_id, biden.on_watchlist, biden.scene_photo.name) == ("biden", False, "biden.jpg")


def test_a_downloaded_archive_is_unpacked_without_asking_pip_again(sdist: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    (data_dir / "downloads").mkdir(parents=True)
    (data_dir / "downloads" / SDIST_FILE).write_bytes(sdist.read_bytes())
    folder = fetch_face_recognition_photos(data_dir, pip=_fake_pip(tmp_path, archive=None, exit_status=1))
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE-face_recognition.txt", "biden", "obama"]


def test_a_failed_download_says_what_pip_said(tmp_path: Path) -> None:
    with pytest.raises(PhotoFetchFailed, match=r"exit status 1.*No matching distribution.*PyPI"):
        fetch_face_recognition_photos(tmp_path / "demo", pip=_fake_pip(tmp_path, archive=None, exit_status=1))
    assert not (tmp_path / "demo" / "photos").exists()


def test_pip_leaving_no_archive_is_a_failed_download(tmp_path: Path) -> None:
    with pytest.raises(PhotoFetchFailed, match="exit status 0"):
        fetch_face_recognition_photos(tmp_path / "demo", pip=_fake_pip(tmp_path, archive=None, exit_status=0))


@pytest.mark.parametrize("content", [b"not a tar file", b""])
def test_a_broken_archive_leaves_no_half_unpacked_folder(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / SDIST_FILE
    archive.write_bytes(content)
    with pytest.raises(UnusablePhotos, match="delete it and fetch again"):
        unpack_face_recognition_sdist(archive, tmp_path / "photos")
    assert sorted(p.name for p in tmp_path.iterdir()) == [SDIST_FILE]


def test_an_archive_without_portraits_of_two_people_is_refused(tmp_path: Path, testdata: Path) -> None:
    archive = tmp_path / SDIST_FILE
    with tarfile.open(archive, "w:gz") as tar:
        _add(tar, "face_recognition-1.3.0/tests/test_images/obama.jpg", (testdata / "faces" / "obama.jpg").read_bytes())
    with pytest.raises(UnusablePhotos, match=r"two people .*\['obama'\]"):
        unpack_face_recognition_sdist(archive, tmp_path / "photos")
    assert not (tmp_path / "photos").exists()


def test_a_link_where_a_portrait_should_be_is_refused(tmp_path: Path, testdata: Path) -> None:
    archive = tmp_path / SDIST_FILE
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("obama.jpg", "biden.jpg"):
            _add(tar, f"face_recognition-1.3.0/tests/test_images/{name}", (testdata / "faces" / name).read_bytes())
        _add(tar, "face_recognition-1.3.0/tests/test_images/obama2.jpg", b"", kind=tarfile.SYMTYPE, link="/etc/passwd")
    with pytest.raises(UnusablePhotos, match=r"obama2\.jpg is not a photo file"):
        unpack_face_recognition_sdist(archive, tmp_path / "photos")
    assert not (tmp_path / "photos").exists()


def test_unpacked_photos_are_plain_files(sdist: Path, tmp_path: Path) -> None:
    folder = unpack_face_recognition_sdist(sdist, tmp_path / "photos")
    for path in folder.rglob("*"):
        mode = path.lstat().st_mode
        assert stat.S_ISDIR(mode) or stat.S_ISREG(mode)
