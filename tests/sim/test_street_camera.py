"""The endless street camera: who walks past when, frames a detector reads as the truth says, and its pace."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.edge.conftest import active_watchlist
from tests.watchlist.conftest import make_subject
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.events import AlertRaised, parse_event
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.footage import Actor, Cast
from vigil.sim.photos import DemoPhotos, read_photo_folders
from vigil.sim.street_camera import PasserBy, StreetCamera, StreetSceneSettings
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.engine import FaceEngine
from vigil.vision.image import load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.store import WatchlistEntry

SMALL = StreetSceneSettings(width_px=480, height_px=270, fps=10, walk_s=3, gap_s=1)


@pytest.fixture(scope="module")
def photos(testdata: Path) -> DemoPhotos:
    return read_photo_folders(testdata / "identities" / "train", subjects=["obama"])


@pytest.fixture(scope="module")
def cast(photos: DemoPhotos) -> Cast:
    return Cast([Actor(p.person_id, p.scene_photo) for p in photos.people if p.person_id in {"obama", "biden"}])


# --- the script --------------------------------------------------------------------------------------------------


def test_everyone_walks_past_once_a_round_one_at_a_time_with_empty_street_between() -> None:
    script = PasserBy(["a", "b", "c"], SMALL, seed=5)
    assert (script.walk_frames, script.gap_frames) == (30, 10)
    walks = [script.walk(n) for n in range(12)]
    for round_start in range(0, 12, 3):
        assert sorted(w.person_id for w in walks[round_start : round_start + 3]) == ["a", "b", "c"]
    assert len({tuple(w.person_id for w in walks[i : i + 3]) for i in range(0, 12, 3)}) > 1  # shuffled per round
    for n, walk in enumerate(walks):
        assert walk.start_frame == 10 + 40 * n
        assert walk.stop_frame - walk.start_frame == 30
        assert script.number_at(walk.start_frame) == n
        assert script.number_at(walk.stop_frame - 1) == n
        assert script.number_at(walk.stop_frame) is None  # the street is empty between two people
        assert walk.end_face_px > 4 * walk.start_face_px
    assert script.number_at(0) is None
    assert [PasserBy(["a", "b", "c"], SMALL, seed=5).walk(n) for n in range(12)] == walks


@pytest.mark.parametrize("people", [[], ["a", "a"]])
def test_a_script_needs_people_each_named_once(people: list[str]) -> None:
    with pytest.raises(InvalidSimSettings, match="each named once"):
        PasserBy(people, SMALL, seed=0)


# --- the frames --------------------------------------------------------------------------------------------------


def test_frames_show_whom_the_script_says_where_a_detector_finds_them(cast: Cast) -> None:
    camera = StreetCamera(cast, SMALL, seed=2, realtime=False, seconds=12)
    frames = list(camera)
    assert [f.index for f in frames] == list(range(120))
    assert frames[-1].timestamp_s == pytest.approx(11.9)
    assert camera.stats.frames_read == 120
    appearances = camera.appearances()
    assert [(a.number, a.start_frame, a.frames_shown) for a in appearances] == [(0, 10, 30), (1, 50, 30), (2, 90, 30)]
    assert Counter(a.person_id for a in appearances[:2]) == {"obama": 1, "biden": 1}
    detector = BlazeFaceDetector()
    for appearance in appearances:
        assert appearance.first_seen_frame == appearance.start_frame
        assert appearance.first_seen_at is not None
        assert appearance.last_seen_at is not None
        assert appearance.first_clear_at is not None
        assert appearance.first_seen_at <= appearance.first_clear_at <= appearance.last_seen_at
        close_up = frames[appearance.stop_frame - 3]
        assert len(detector.detect(close_up.image)) == 1
    empty = [frames[i] for i in (0, 45, 85)]
    for frame in empty:
        assert np.array_equal(frame.image, empty[0].image)
        assert detector.detect(frame.image) == []


def test_at_the_camera_s_pace_frames_come_in_real_time_and_a_slow_reader_makes_it_skip(cast: Cast) -> None:
    camera = StreetCamera(cast, SMALL, seed=2, seconds=1.5)
    started = time.monotonic()
    indices = []
    for frame in camera:
        indices.append(frame.index)
        if frame.index == 3:
            time.sleep(0.45)  # a reader that falls behind, as the recognition pipeline may
    elapsed = time.monotonic() - started
    assert 1.3 < elapsed < 2.5
    assert camera.frames_skipped >= 3
    assert indices[:4] == [0, 1, 2, 3]
    assert indices[4] >= 7  # frames the camera had no time for are skipped, as a real camera's would be
    assert len(indices) + camera.frames_skipped == 15


def test_closing_the_camera_from_another_thread_ends_the_stream(cast: Cast) -> None:
    with StreetCamera(cast, SMALL, seed=2) as camera:  # endless
        threading.Timer(0.5, camera.close).start()
        frames = sum(1 for _ in camera)
    assert 2 <= frames <= 10


def test_the_length_must_be_positive(cast: Cast) -> None:
    with pytest.raises(InvalidSimSettings, match="seconds must be positive"):
        StreetCamera(cast, SMALL, seed=0, seconds=0)


# --- a body camera on the street ----------------------------------------------------------------------------------


def test_a_body_camera_alerts_on_the_watchlist_subject_only_and_the_truth_dates_the_alert(
    photos: DemoPhotos, cast: Cast, hog_engine: FaceEngine, tmp_path: Path
) -> None:
    """The demo's loop on one device: enrol the subject from their photos, then watch them (and a member of the
    public) walk past in a photo the watchlist never saw; the member of the public must never raise an alert."""
    (subject,) = photos.subjects
    templates = tuple(
        enrol_photo(hog_engine, load_image(p), subject_id=subject.person_id, source=p.name)
        for p in subject.enrolment_photos
    )
    entry = WatchlistEntry(
        subject=make_subject(subject.person_id).model_copy(
            update={"approved_by": "sgt.jones", "approved_at": datetime.now(UTC)}
        ),
        templates=templates,
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    agent = EdgeAgent(
        identity=EdgeIdentity(device_id="cam-3", unit_id="Foxtrot-1"),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=active_watchlist({subject.person_id: entry}, [subject.person_id]),
        recognition=RecognitionSettings(cooldown_s=0),
        outbox=outbox,
        bus=None,
        position=SimulatedRoute([(51.5074, -0.1277), (51.5011, -0.1260)], 1.4),
        notifiers=[],
    )
    camera = StreetCamera(cast, SMALL, seed=2, realtime=False, seconds=16)
    agent.start()
    try:
        agent.run(camera, realtime=False)
    finally:
        agent.stop()
    alerts = [e for e in (parse_event(i.payload) for i in outbox.oldest(limit=500)) if isinstance(e, AlertRaised)]
    outbox.close()
    walks = Counter(a.person_id for a in camera.appearances())
    assert walks == {"obama": 2, "biden": 2}
    assert [a.subject_id for a in alerts] == ["obama", "obama"]  # each walk past, and nobody else
    obama_walks = [a for a in camera.appearances() if a.person_id == "obama"]
    for alert, appearance in zip(alerts, obama_walks, strict=True):
        assert appearance.first_seen_at is not None
        assert appearance.last_seen_at is not None
        assert appearance.first_seen_at <= alert.at
        assert alert.first_seen_at <= appearance.last_seen_at
