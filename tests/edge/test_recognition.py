import threading
from pathlib import Path

import pytest

from tests.edge.conftest import active_watchlist
from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.pacing import SlowDevice, feed_every_frame
from vigil.edge.recognition import RecognitionPipeline, RecognitionSettings, TrackAlert
from vigil.edge.video import Frame
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.face_model import DLIB_MODEL_ID, ModelIdentity
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.store import WatchlistEntry

FPS = 30.0


def _pipeline(
    watchlist: ActiveWatchlist, settings: RecognitionSettings, alerts: list[TrackAlert]
) -> RecognitionPipeline:
    return RecognitionPipeline(
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=watchlist,
        settings=settings,
        on_alert=alerts.append,
    )


def _run(
    footage, watchlist, settings: RecognitionSettings, *, passes: int = 1
) -> tuple[list[TrackAlert], RecognitionPipeline]:  # type: ignore[no-untyped-def]
    alerts: list[TrackAlert] = []
    pipeline = _pipeline(watchlist, settings, alerts)
    index = 0
    for _ in range(passes):
        for image in footage.frames():
            pipeline.process(Frame(index=index, timestamp_s=index / FPS, image=image))
            assert pipeline.wait_for_searches()
            index += 1
    pipeline.close()
    return alerts, pipeline


@pytest.mark.parametrize(
    ("watchlist_people", "passers_by"),
    [
        (("obama", "kit_harington"), ("alex_lacamoire", "biden", "rose_leslie")),
        (("biden", "rose_leslie"), ("alex_lacamoire", "obama", "kit_harington")),
    ],
)
def test_every_watchlist_person_raises_exactly_one_alert_and_nobody_else_any(
    testdata: Path,
    watchlist_entries: dict[str, WatchlistEntry],
    watchlist_people: tuple[str, ...],
    passers_by: tuple[str, ...],
) -> None:
    footage = standard_patrol_scene(
        testdata, fps=FPS, seconds=20, watchlist_people=watchlist_people, passers_by=passers_by
    )
    # The gallery holds every test identity but the passers-by's, so their faces have near neighbours to resist.
    alerts, pipeline = _run(footage, active_watchlist(watchlist_entries, list(watchlist_people)), RecognitionSettings())
    assert sorted(a.match.subject.subject_id for a in alerts) == sorted(watchlist_people)
    assert {a.model for a in alerts} == {DLIB_MODEL_ID}
    for alert in alerts:
        truth = footage.truth[alert.decided_frame]
        assert alert.match.distance <= alert.threshold
        assert alert.probe_crop.ndim == 3
        assert alert.first_seen_frame <= alert.decided_frame
        # The alert is raised while the person is still in view, before they grow to a 60 px face plus 10 frames.
        first_clear = next(
            i
            for i, faces in enumerate(footage.truth)
            if any(f.person_id == alert.match.subject.subject_id and f.width >= 60 for f in faces)
        )
        assert alert.decided_frame < first_clear + 10, (alert.decided_frame, first_clear)
        assert truth is not None
        # The alert says which faces backed it: each match's quality, and how many faces were searched.
        assert 1 <= alert.matching_embeddings <= alert.searches
        assert alert.best.frame_index <= alert.decided_frame
    assert pipeline.stats.tracks >= len(watchlist_people) + len(passers_by)
    # Searches are bounded by the rate, whatever the number of frames: 20 s of video, at most 5 a second per person.
    assert pipeline.stats.embeddings <= pipeline.stats.tracks + 20 * 5 * 2


@pytest.mark.parametrize(("cooldown_s", "expected"), [(3600.0, ["obama"]), (0.0, ["obama", "obama"])])
def test_cooldown_stops_a_second_alert_for_the_same_subject(
    testdata: Path, watchlist_entries: dict[str, WatchlistEntry], cooldown_s: float, expected: list[str]
) -> None:
    """The same person walks past twice (two encounters, two tracks)."""
    footage = standard_patrol_scene(testdata, fps=FPS, seconds=8, watchlist_people=("obama",), passers_by=())
    watchlist = active_watchlist(watchlist_entries, ["obama"])
    alerts, pipeline = _run(footage, watchlist, RecognitionSettings(cooldown_s=cooldown_s), passes=2)
    assert [a.match.subject.subject_id for a in alerts] == expected
    assert pipeline.stats.tracks >= 2


class FailsOnce:
    """The real embedder, except that its first call fails (a runtime hiccup)."""

    def __init__(self) -> None:
        self._inner = build_embedder(OnnxEmbedderSettings())
        self.calls = 0

    @property
    def name(self) -> str:
        return "fails-once"

    @property
    def model(self) -> ModelIdentity:
        return self._inner.model

    def embed(self, chips):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("inference runtime hiccup")
        return self._inner.embed(chips)


def test_a_failed_search_does_not_stop_the_worker(testdata: Path, watchlist_entries: dict[str, WatchlistEntry]) -> None:
    footage = standard_patrol_scene(testdata, fps=FPS, seconds=8, watchlist_people=("obama",), passers_by=())
    alerts: list[TrackAlert] = []
    embedder = FailsOnce()
    pipeline = RecognitionPipeline(
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        watchlist=active_watchlist(watchlist_entries, ["obama"]),
        settings=RecognitionSettings(),
        on_alert=alerts.append,
    )
    for index, image in enumerate(footage.frames()):
        pipeline.process(Frame(index=index, timestamp_s=index / FPS, image=image))
        assert pipeline.wait_for_searches()
    pipeline.close()
    assert embedder.calls >= 2  # it went on after the failure
    assert [a.match.subject.subject_id for a in alerts] == ["obama"]


def test_a_person_on_no_list_is_searched_again_while_in_view_at_a_bounded_rate(
    testdata: Path, watchlist_entries: dict[str, WatchlistEntry]
) -> None:
    """A passer-by walks up: searched again and again while in view (never given up on), never faster than allowed."""
    footage = standard_patrol_scene(testdata, fps=FPS, seconds=8, watchlist_people=(), passers_by=("biden",))
    settings = RecognitionSettings()
    alerts, pipeline = _run(footage, active_watchlist(watchlist_entries, ["obama"]), settings)
    assert alerts == []
    in_view_s = sum(1 for faces in footage.truth if faces) / FPS
    search = settings.search
    most = in_view_s / search.search_interval_s + pipeline.stats.tracks
    assert search.fast_searches < pipeline.stats.embeddings <= most, (pipeline.stats.embeddings, in_view_s)


def test_the_same_people_are_alerted_however_many_frames_the_device_drops(
    testdata: Path, watchlist_entries: dict[str, WatchlistEntry]
) -> None:
    footage = standard_patrol_scene(
        testdata, fps=FPS, seconds=12, watchlist_people=("obama", "kit_harington"), passers_by=("biden",)
    )
    frames = [Frame(index=i, timestamp_s=i / FPS, image=image) for i, image in enumerate(footage.frames())]
    alerted = []
    for device_fps in (FPS, 10.0, 5.0):
        alerts: list[TrackAlert] = []
        pipeline = _pipeline(
            active_watchlist(watchlist_entries, ["obama", "kit_harington"]), RecognitionSettings(), alerts
        )
        feed_every_frame(SlowDevice(frames, fps=device_fps), pipeline, stopping=threading.Event())
        pipeline.close()
        alerted.append(sorted(alert.match.subject.subject_id for alert in alerts))
    assert alerted == [["kit_harington", "obama"]] * 3
