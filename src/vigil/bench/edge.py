"""``vigil bench edge``: the body camera's processing rate and alert latency, on one core.

Two videos, processed every frame in turn (nothing dropped), each frame's searches finished before the next, so
the rate is the most the pipeline sustains. The process is pinned to one CPU core and every library to one
thread, as on a body camera's budget.

* The standard patrol scene made from the test photos (people walking towards the camera, growing from distant
  to near, with blur, head turns, occlusion and empty street), at 640×360 and 1280×720, 30 fps; rendering the
  synthetic frames is timed separately and left out. Alert latency counts from the first frame where the
  watchlist subject's face is at least 60 px wide to the frame being processed when the alert was decided:
  negative when the alert came while the face was still smaller.
* The real arcade clip (``video/arcade.mp4``: dozens of people walking towards a fixed camera) at its own 1080p
  and shrunk to 720p, a body camera's usual modes; decoding is done beforehand and left out. Beside the rate, the
  faces BlazeFace finds are compared with those dlib's HOG detector (upsample 1, the accurate still-photo
  detector) finds on the same frames (every fifth).
"""

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field
from threadpoolctl import threadpool_limits

from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.recognition import RecognitionPipeline, RecognitionSettings, TrackAlert
from vigil.edge.video import Frame, VideoFileSource
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.embedding import Embedder
from vigil.vision.hog import HogDetector
from vigil.vision.image import load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import (
    HogDetectorSettings,
    OnnxEmbedderSettings,
    VisionSettings,
    build_embedder,
    build_engine,
)
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.store import WatchlistEntry
from vigil.watchlist.subject import Subject, SubjectCategory

WATCHLIST_PEOPLE = ("obama", "kit_harington")
PASSERS_BY = ("alex_lacamoire", "biden", "rose_leslie")
SIZES = ((640, 360), (1280, 720))
FPS = 30.0
CLEAR_FACE_PX = 60.0
ARCADE = "arcade.mp4"
ARCADE_HEIGHTS = (1080, 720)
_SAME_FACE_IOU = 0.3


class EdgeFigures(BaseModel):
    """One video size."""

    size: str
    frames: int
    processing_fps: float = Field(description="Median over runs of frames processed per second, one core.")
    processing_fps_runs: list[float]
    alerts_expected: int
    alerts_raised: int = Field(description="Alerts in the last run (every run must raise the same).")
    wrong_alerts: int = Field(description="Alerts for someone not on the watchlist, all runs together.")
    latency_frames: list[int] = Field(description="Per alert of the last run: decided frame − first 60 px frame.")
    latency_ms_at_camera_pace: list[float] = Field(description="latency_frames × 1000 / fps, clamped at 0.")


class DetectorAgreement(BaseModel):
    """BlazeFace's faces beside HOG's on the same frames."""

    frames: int = Field(description="Frames compared (every fifth).")
    hog_faces: int = Field(description="Faces HOG (upsample 1) found.")
    blazeface_faces: int = Field(description="Faces BlazeFace found.")
    both: int = Field(description="Faces both found (boxes overlapping by IoU ≥ 0.3).")
    hog_ms_per_frame: float = Field(description="HOG's median time per frame, one core.")


class ArcadeFigures(BaseModel):
    """The real arcade clip at one size."""

    size: str
    frames: int
    processing_fps: float = Field(description="Median over runs of frames processed per second, one core.")
    processing_fps_runs: list[float]
    faces_per_frame: float = Field(description="Faces BlazeFace found per frame, on average.")
    searches: int = Field(description="Faces searched in the last run.")
    alerts: int = Field(description="Alerts in the last run (nobody in the clip is on the watchlist).")
    detectors: DetectorAgreement


class EdgeBenchReport(BaseModel):
    """What ``vigil bench edge`` prints."""

    rows: list[EdgeFigures]
    arcade: list[ArcadeFigures]
    cpu_cores: int
    fps_of_video: float
    embedder: str


@contextmanager
def one_core() -> Iterator[int]:
    """Pin this process to a single CPU core (and every thread pool to one thread) for the duration."""
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        with threadpool_limits(limits=1):
            yield 1
    finally:
        os.sched_setaffinity(0, before)


def watchlist_entries(testdata: Path, people: Sequence[str]) -> list[WatchlistEntry]:
    """Approved entries for test identities, enrolled from their ``identities/train`` photos."""
    engine = build_engine(VisionSettings(detector=HogDetectorSettings(upsample=1), max_side_px=1024))
    now = datetime.now(UTC)
    entries = []
    for person in people:
        subject = Subject(
            subject_id=person,
            display_name=person.replace("_", " ").title(),
            category=SubjectCategory.WANTED_ON_WARRANT,
            legal_basis="benchmark",
            expires_at=now + timedelta(days=1),
            proposed_by="bench",
            proposed_at=now,
            approved_by="bench-approver",
            approved_at=now,
        )
        photos = sorted((testdata / "identities" / "train" / person).iterdir())
        templates = tuple(enrol_photo(engine, load_image(p), subject_id=person, source=p.name) for p in photos)
        entries.append(WatchlistEntry(subject=subject, templates=templates))
    return entries


def _pipeline(entries: list[WatchlistEntry], embedder: Embedder, alerts: list[TrackAlert]) -> RecognitionPipeline:
    gallery = Gallery(entries, threshold=threshold_for_size(len(entries)), model=embedder.model.model_id)
    watchlist = ActiveWatchlist(LoadedWatchlist(gallery=gallery, version=1, valid_until=None, package=None))
    return RecognitionPipeline(
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        watchlist=watchlist,
        settings=RecognitionSettings(),
        on_alert=alerts.append,
    )


def _one_run(
    size: tuple[int, int], testdata: Path, entries: list[WatchlistEntry], embedder: Embedder, seconds: float
) -> tuple[float, list[TrackAlert], list[int]]:
    footage = standard_patrol_scene(
        testdata, size=size, fps=FPS, seconds=seconds, watchlist_people=WATCHLIST_PEOPLE, passers_by=PASSERS_BY
    )
    alerts: list[TrackAlert] = []
    pipeline = _pipeline(entries, embedder, alerts)
    rendering = 0.0
    started = time.perf_counter()
    for index in range(footage.frame_count):
        before = time.perf_counter()
        image = footage.render(index)
        rendering += time.perf_counter() - before
        pipeline.process(Frame(index=index, timestamp_s=index / FPS, image=image))
        pipeline.wait_for_searches()
    elapsed = time.perf_counter() - started - rendering
    pipeline.close()
    first_clear = []
    for alert in alerts:
        person = alert.match.subject.subject_id
        first_clear.append(
            next(
                (
                    i
                    for i, faces in enumerate(footage.truth)
                    if any(f.person_id == person and f.width >= CLEAR_FACE_PX for f in faces)
                ),
                alert.decided_frame,
            )
        )
    return footage.frame_count / elapsed, alerts, first_clear


def _arcade_frames(testdata: Path, height: int) -> list[Frame]:
    """The arcade clip decoded, shrunk to ``height`` rows if smaller than its own."""
    with VideoFileSource(testdata / "video" / ARCADE, realtime=False) as source:
        frames = list(source)
    resized = []
    for frame in frames:
        rows, columns = frame.image.shape[:2]
        if height < rows:
            size = (round(columns * height / rows), height)
            frame = replace(
                frame, image=np.ascontiguousarray(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
            )
        resized.append(frame)
    return resized


def _arcade(frames: list[Frame], entries: list[WatchlistEntry], embedder: Embedder, runs: int) -> ArcadeFigures:
    rates = []
    for _ in range(runs):
        alerts: list[TrackAlert] = []
        pipeline = _pipeline(entries, embedder, alerts)
        started = time.perf_counter()
        for frame in frames:
            pipeline.process(frame)
            pipeline.wait_for_searches()
        rates.append(len(frames) / (time.perf_counter() - started))
        pipeline.close()
    height, width = frames[0].image.shape[:2]
    return ArcadeFigures(
        size=f"{width}x{height}",
        frames=len(frames),
        processing_fps=float(np.median(rates)),
        processing_fps_runs=rates,
        faces_per_frame=pipeline.stats.faces_seen / len(frames),
        searches=pipeline.stats.embeddings,
        alerts=len(alerts),
        detectors=_agreement(frames[::5]),
    )


def _agreement(frames: list[Frame]) -> DetectorAgreement:
    blazeface, hog = BlazeFaceDetector(), HogDetector(upsample=1)
    hog_faces = blaze_faces = both = 0
    hog_ms = []
    for frame in frames:
        found = blazeface.detect(frame.image)
        started = time.perf_counter()
        reference = hog.detect(frame.image)
        hog_ms.append((time.perf_counter() - started) * 1000)
        hog_faces += len(reference)
        blaze_faces += len(found)
        both += sum(any(d.box.iou(r.box) >= _SAME_FACE_IOU for d in found) for r in reference)
    return DetectorAgreement(
        frames=len(frames),
        hog_faces=hog_faces,
        blazeface_faces=blaze_faces,
        both=both,
        hog_ms_per_frame=float(np.median(hog_ms)),
    )


def run_edge_bench(testdata: Path, *, runs: int = 3, seconds: float = 20.0) -> EdgeBenchReport:
    """Measure the pipeline on the patrol scene and the arcade clip at each size, ``runs`` times, on one core.

    Raises:
        ValueError: ``runs`` below 1.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    entries = watchlist_entries(testdata, WATCHLIST_PEOPLE)
    embedder = build_embedder(OnnxEmbedderSettings(threads=1))
    rows = []
    with one_core() as cores:
        for size in SIZES:
            rates, wrong = [], 0
            alerts: list[TrackAlert] = []
            first_clear: list[int] = []
            for _ in range(runs):
                rate, alerts, first_clear = _one_run(size, testdata, entries, embedder, seconds)
                rates.append(rate)
                wrong += sum(a.match.subject.subject_id not in WATCHLIST_PEOPLE for a in alerts)
            latency = [a.decided_frame - f for a, f in zip(alerts, first_clear, strict=True)]
            rows.append(
                EdgeFigures(
                    size=f"{size[0]}x{size[1]}",
                    frames=int(seconds * FPS),
                    processing_fps=float(np.median(rates)),
                    processing_fps_runs=rates,
                    alerts_expected=len(WATCHLIST_PEOPLE),
                    alerts_raised=len(alerts),
                    wrong_alerts=wrong,
                    latency_frames=latency,
                    latency_ms_at_camera_pace=[max(0.0, f * 1000 / FPS) for f in latency],
                )
            )
        arcade = [_arcade(_arcade_frames(testdata, height), entries, embedder, runs) for height in ARCADE_HEIGHTS]
    return EdgeBenchReport(rows=rows, arcade=arcade, cpu_cores=cores, fps_of_video=FPS, embedder=embedder.name)
