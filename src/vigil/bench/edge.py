"""``vigil bench edge``: the body camera's processing rate and alert latency, on one core.

The video is the standard patrol scene made from the test photos (people walking towards the camera, growing
from distant to near, with blur, head turns, occlusion and empty street), at 640×360 and 1280×720, 30 fps. The
process is pinned to one CPU core and every library to one thread, as on a body camera's budget. Each frame is
processed in turn (no frames dropped), so the rate is the most the pipeline sustains; rendering the synthetic
frames is timed separately and left out.

Alert latency counts from the first frame where the watchlist subject's face is at least 60 px wide to the frame
being processed when the alert was decided: negative when the alert came while the face was still smaller.
"""

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field
from threadpoolctl import threadpool_limits

from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.recognition import RecognitionPipeline, RecognitionSettings, TrackAlert
from vigil.edge.video import Frame
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.embedding import Embedder
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
from vigil.watchlist.store import WatchlistEntry
from vigil.watchlist.subject import Subject, SubjectCategory

WATCHLIST_PEOPLE = ("obama", "kit_harington")
PASSERS_BY = ("alex_lacamoire", "biden", "rose_leslie")
SIZES = ((640, 360), (1280, 720))
FPS = 30.0
CLEAR_FACE_PX = 60.0


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


class EdgeBenchReport(BaseModel):
    """What ``vigil bench edge`` prints."""

    rows: list[EdgeFigures]
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


def _one_run(
    size: tuple[int, int], testdata: Path, entries: list[WatchlistEntry], embedder: Embedder, seconds: float
) -> tuple[float, list[TrackAlert], list[int]]:
    footage = standard_patrol_scene(
        testdata, size=size, fps=FPS, seconds=seconds, watchlist_people=WATCHLIST_PEOPLE, passers_by=PASSERS_BY
    )
    alerts: list[TrackAlert] = []
    watchlist = ActiveWatchlist(
        LoadedWatchlist(gallery=Gallery(entries, threshold=0.5), version=1, valid_until=None, package=None)
    )
    pipeline = RecognitionPipeline(
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        watchlist=watchlist,
        settings=RecognitionSettings(),
        on_alert=alerts.append,
    )
    rendering = 0.0
    started = time.perf_counter()
    for index in range(footage.frame_count):
        before = time.perf_counter()
        image = footage.render(index)
        rendering += time.perf_counter() - before
        pipeline.process(Frame(index=index, timestamp_s=index / FPS, image=image))
    pipeline.drain()
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


def run_edge_bench(testdata: Path, *, runs: int = 3, seconds: float = 20.0) -> EdgeBenchReport:
    """Measure the pipeline at each size, ``runs`` times, on one core.

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
    return EdgeBenchReport(rows=rows, cpu_cores=cores, fps_of_video=FPS, embedder=embedder.name)
