"""Test video from real photos: the ground truth must be what detectors actually see."""

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.sim.background import photo_background, textured_background
from vigil.sim.errors import FootageWriteFailed, UnknownPerson
from vigil.sim.footage import Actor, Effect, FaceTruth, Footage, Occlusion, Walk
from vigil.sim.patrol_scene import scene_photo, standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.detection import Box, Detector
from vigil.vision.errors import NoFaceFound
from vigil.vision.hog import HogDetector
from vigil.vision.image import encode_jpeg

# Where HogDetector(upsample=1) frames the face in faces/obama.jpg (found once; fixed here to keep tests fast).
OBAMA_FACE = Box(357, 144, 634, 421)


@pytest.fixture(scope="module")
def scene(testdata: Path) -> Footage:
    return standard_patrol_scene(testdata)


@pytest.fixture(scope="module")
def detectors() -> dict[str, Detector]:
    return {"blazeface": BlazeFaceDetector(), "hog": HogDetector(upsample=1)}


def _one_walk(testdata: Path, *effects: Effect, size: tuple[int, int] = (320, 180)) -> Footage:
    """Obama walking from (80, 90) at 30 px to (240, 90) at 90 px over frames 2–12 of 16."""
    walk = Walk("obama", 2, 13, (80.0, 90.0), (240.0, 90.0), 30.0, 90.0, effects=effects)
    return Footage(
        actors=[Actor("obama", testdata / "faces" / "obama.jpg", face_box=OBAMA_FACE)],
        walks=[walk],
        background=textured_background(*size, seed=3),
        fps=10.0,
        frame_count=16,
    )


def _sharpness(image: np.ndarray, box: Box) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    face = grey[round(box.top) : round(box.bottom), round(box.left) : round(box.right)]
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


# --- the standard scene against real detectors -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["blazeface", "hog"])
def test_detectors_find_every_clear_face_where_the_truth_says(
    scene: Footage, detectors: dict[str, Detector], name: str
) -> None:
    clear = [
        index
        for index, faces in enumerate(scene.truth)
        if faces and all(face.clear and face.width >= 60 for face in faces)
    ]
    assert len(clear) >= 40
    for index in clear[:: len(clear) // 6]:
        detections = detectors[name].detect(scene.render(index))
        for face in scene.truth[index]:
            best = max((detection.box.iou(face.box) for detection in detections), default=0.0)
            assert best >= 0.3, f"frame {index}: {name} misses {face.person_id} ({face.width:.0f} px), IoU {best:.2f}"


def test_empty_frames_have_no_truth_show_the_bare_background_and_no_face(
    scene: Footage, detectors: dict[str, Detector]
) -> None:
    empty = [index for index, faces in enumerate(scene.truth) if not faces]
    assert 0 in empty
    assert len(empty) >= 3 * round(0.5 * scene.fps)  # the opening gap and one after each pair
    for index in empty[:: len(empty) // 4]:
        frame = scene.render(index)
        assert np.array_equal(frame, scene.background)
        assert detectors["blazeface"].detect(frame) == []
        assert detectors["hog"].detect(frame) == []


def test_the_standard_scene_shows_everyone_far_to_near_with_every_effect(scene: Footage) -> None:
    faces = [face for frame in scene.truth for face in frame]
    assert {face.person_id for face in faces} == {"obama", "kit_harington", "alex_lacamoire", "biden", "rose_leslie"}
    assert min(face.width for face in faces) < 25
    assert max(face.width for face in faces) > 100
    assert any(face.blur_sigma > 0 for face in faces)
    assert any(face.squeeze < 1 for face in faces)
    assert any(face.occluded for face in faces)
    assert max(len(frame) for frame in scene.truth) == 2
    # Someone is out of view for a while in the middle of their walk.
    gaps = []
    for person in {face.person_id for face in faces}:
        seen = [index for index, frame in enumerate(scene.truth) if any(f.person_id == person for f in frame)]
        gaps.append(seen[-1] - seen[0] + 1 - len(seen))
    assert max(gaps) > 0


def test_the_standard_scene_is_deterministic(testdata: Path, scene: Footage) -> None:
    again, other = standard_patrol_scene(testdata), standard_patrol_scene(testdata, seed=1)
    assert again.truth == scene.truth
    assert np.array_equal(again.render(60), scene.render(60))
    assert other.truth != scene.truth


def test_the_scene_shows_a_photo_outside_the_enrolment_folder_where_there_is_one(testdata: Path) -> None:
    assert scene_photo(testdata, "obama") == testdata / "identities" / "test" / "obama1.jpg"
    assert scene_photo(testdata, "biden") == testdata / "identities" / "train" / "biden" / "biden2.jpg"


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"seconds": 3.0}, ValueError, "too short for 5 people"),
        ({"watchlist_people": ["obama"], "passers_by": ["obama"]}, ValueError, "both on the watchlist"),
        ({"watchlist_people": [], "passers_by": []}, ValueError, "at least one person"),
        ({"passers_by": ["nobody"]}, UnknownPerson, "no photos of 'nobody'.*alex_lacamoire, biden"),
    ],
)
def test_the_standard_scene_refuses_what_it_cannot_make(
    testdata: Path, arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        standard_patrol_scene(testdata, **arguments)  # type: ignore[arg-type]


# --- the script, frame by frame ---------------------------------------------------------------------------------


def test_truth_follows_the_walk(testdata: Path) -> None:
    footage = _one_walk(testdata)
    assert [bool(faces) for faces in footage.truth] == [False] * 2 + [True] * 11 + [False] * 3
    first, last = footage.truth[2][0], footage.truth[12][0]
    for face, centre, width in [(first, (80, 90), 30), (last, (240, 90), 90)]:
        assert face.width == pytest.approx(width, abs=1)
        assert (face.box.left + face.box.right) / 2 == pytest.approx(centre[0], abs=1)
        assert (face.box.top + face.box.bottom) / 2 == pytest.approx(centre[1], abs=1)
    assert footage.truth[7][0].width == pytest.approx(60, abs=1)
    assert np.array_equal(footage.render(0), footage.background)
    assert not np.array_equal(footage.render(2), footage.background)


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        (Effect(6, 9, blur_sigma=2.0), FaceTruth("obama", Box(0, 0, 1, 1), blur_sigma=2.0)),
        (Effect(6, 9, squeeze=0.6), FaceTruth("obama", Box(0, 0, 1, 1), squeeze=0.6)),
        (Effect(6, 9, occlusion=Occlusion(top=0.5)), FaceTruth("obama", Box(0, 0, 1, 1), occluded=True)),
        (Effect(6, 9, hidden=True), None),
    ],
    ids=["blur", "turn", "cover", "hide"],
)
def test_effects_show_in_the_truth_only_while_they_last(
    testdata: Path, effect: Effect, expected: FaceTruth | None
) -> None:
    plain, footage = _one_walk(testdata), _one_walk(testdata, effect)
    for index in (5, 9):
        assert footage.truth[index] == plain.truth[index]
    for index in (6, 7, 8):
        if expected is None:
            assert footage.truth[index] == ()
            assert np.array_equal(footage.render(index), footage.background)
            continue
        (face,) = footage.truth[index]
        (unchanged,) = plain.truth[index]
        assert (face.blur_sigma, face.squeeze, face.occluded) == (
            expected.blur_sigma,
            expected.squeeze,
            expected.occluded,
        )
        assert face.clear is False
        assert face.width == pytest.approx(unchanged.width * expected.squeeze, abs=1)


def test_blur_softens_the_face_and_occlusion_covers_it(testdata: Path) -> None:
    plain = _one_walk(testdata)
    blurred = _one_walk(testdata, Effect(8, 9, blur_sigma=2.5))
    covered = _one_walk(testdata, Effect(8, 9, occlusion=Occlusion(top=0.5, colour=(250, 0, 250))))
    box = plain.truth[8][0].box
    assert _sharpness(blurred.render(8), box) < 0.5 * _sharpness(plain.render(8), box)
    frame = covered.render(8)
    lower = frame[round(box.top + 0.6 * box.height) : round(box.bottom) - 1, round(box.left) + 1 : round(box.right) - 1]
    upper = frame[round(box.top) + 1 : round(box.top + 0.4 * box.height), round(box.left) + 1 : round(box.right) - 1]
    assert (lower == (250, 0, 250)).all()
    assert not (upper == (250, 0, 250)).all(axis=2).any()


def test_written_video_has_every_frame(testdata: Path, tmp_path: Path) -> None:
    footage = _one_walk(testdata)
    path = footage.write_mp4(tmp_path / "walk.mp4")
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    assert count == footage.frame_count


def test_writing_into_a_missing_folder_fails_clearly(testdata: Path, tmp_path: Path) -> None:
    with pytest.raises(FootageWriteFailed, match="check that the folder exists"):
        _one_walk(testdata).write_mp4(tmp_path / "missing" / "walk.mp4")


def test_an_actor_without_a_box_is_found_by_hog(testdata: Path) -> None:
    walk = Walk("biden", 0, 1, (160.0, 90.0), (160.0, 90.0), 60.0, 60.0)
    footage = Footage(
        actors=[Actor("biden", testdata / "faces" / "biden.jpg")],
        walks=[walk],
        background=textured_background(320, 180, seed=0),
        fps=10.0,
        frame_count=1,
    )
    found = footage.actors[0].face_box
    assert found is not None
    assert 280 < found.width < 340  # biden.jpg's face is about 310 px wide


def test_an_actor_without_a_face_is_refused(testdata: Path, tmp_path: Path) -> None:
    photo = tmp_path / "street.jpg"
    photo.write_bytes(encode_jpeg(textured_background(400, 300, seed=5)))
    with pytest.raises(NoFaceFound, match="give the Actor's face_box"):
        Footage(
            actors=[Actor("nobody", photo)],
            walks=[],
            background=textured_background(320, 180, seed=0),
            fps=10.0,
            frame_count=1,
        )


@pytest.mark.parametrize(
    ("walk", "frame_count", "message"),
    [
        (Walk("someone", 0, 5, (160.0, 90.0), (160.0, 90.0), 40.0, 40.0), 10, "not among the actors"),
        (Walk("obama", 0, 12, (160.0, 90.0), (160.0, 90.0), 40.0, 40.0), 10, "ends at frame 11; the video has 10"),
        (Walk("obama", 0, 5, (160.0, 90.0), (300.0, 90.0), 40.0, 60.0), 10, "frame 4: obama's face .* leaves"),
        (Walk("obama", 0, 5, (160.0, 90.0), (160.0, 90.0), 40.0, 200.0), 10, "leaves the 320×180 frame"),
    ],
    ids=["unknown-actor", "too-long", "walks-out", "grows-out"],
)
def test_footage_refuses_a_script_it_cannot_show(testdata: Path, walk: Walk, frame_count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Footage(
            actors=[Actor("obama", testdata / "faces" / "obama.jpg", face_box=OBAMA_FACE)],
            walks=[walk],
            background=textured_background(320, 180, seed=0),
            fps=10.0,
            frame_count=frame_count,
        )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Walk("a", 5, 5, (0.0, 0.0), (0.0, 0.0), 10.0, 10.0), "start_frame < stop_frame"),
        (lambda: Walk("a", 0, 5, (0.0, 0.0), (0.0, 0.0), 2.0, 10.0), "at least 4 px"),
        (lambda: Walk("a", 0, 5, (0.0, 0.0), (0.0, 0.0), 10.0, 10.0, (Effect(3, 7),)), "frames 3–6 do not"),
        (
            lambda: Walk("a", 0, 9, (0.0, 0.0), (0.0, 0.0), 10.0, 10.0, (Effect(1, 4), Effect(3, 5))),
            "not overlap",
        ),
        (lambda: Effect(2, 1), "start_frame < stop_frame"),
        (lambda: Effect(0, 1, blur_sigma=-1.0), "blur_sigma"),
        (lambda: Effect(0, 1, squeeze=1.5), "squeeze"),
        (lambda: Occlusion(left=0.6, right=0.4), "left < right"),
    ],
)
def test_script_values_refuse_nonsense(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- backgrounds --------------------------------------------------------------------------------------------------


def test_textured_background_is_seeded() -> None:
    first, again, other = (textured_background(64, 32, seed=s) for s in (1, 1, 2))
    assert first.shape == (32, 64, 3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_photo_background_covers_the_frame_about_the_centre(tmp_path: Path) -> None:
    photo = np.zeros((200, 400, 3), dtype=np.uint8)
    photo[:, :200] = (200, 0, 0)
    photo[:, 200:] = (0, 0, 200)
    (tmp_path / "wall.png").write_bytes(cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))[1].tobytes())
    background = photo_background(tmp_path / "wall.png", 100, 100)
    # Scaled to 200×100, the centre 100 px keep the red half's right end and the blue half's left end.
    assert background.shape == (100, 100, 3)
    assert tuple(background[50, 10]) == (200, 0, 0)
    assert tuple(background[50, 90]) == (0, 0, 200)
