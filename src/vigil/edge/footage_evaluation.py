"""Recognition held against footage whose people are known: who was alerted and when, who was missed, who was not.

The ground truth (:class:`FootageTruth`, a JSON file) says which watchlist subjects appear in a video and in which
frames; everyone else in it is someone the watchlist does not hold. The video runs through the recognition
pipeline once per run in each pace asked for (:class:`Pace`): at the camera's own pace, as a body camera would
(frames it has no time for are dropped, searches run beside it), every frame in turn as fast as possible, and as
a slow device would see it (at most ``device_fps`` frames a second of video). A subject alerted while in view is
found; one never alerted is missed; an alert for anyone else, or for a subject outside their frames, is wrong.
Recognition fit for the street finds the same people in every run and pace.
"""

import enum
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.errors import EdgeError
from vigil.edge.pacing import FeedCounts, SlowDevice, feed_every_frame, feed_live
from vigil.edge.recognition import RecognitionPipeline, RecognitionSettings, TrackAlert
from vigil.edge.video import Frame, VideoSource
from vigil.vision.detection import Detector
from vigil.vision.embedding import Embedder
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy


class GroundTruthUnreadable(EdgeError):
    """A ground-truth file cannot be read."""


class Appearance(BaseModel):
    """A watchlist subject in view in the video."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_id: str = Field(min_length=1, description="The subject, as the watchlist names them.")
    first_frame: int = Field(0, ge=0, description="The first frame showing their face.")
    last_frame: int | None = Field(None, ge=0, description="The last frame showing it; null: to the video's end.")
    clear_from_frame: int | None = Field(
        None, ge=0, description="The first frame where the face is clearly in view; null: first_frame."
    )

    @model_validator(mode="after")
    def _frames_in_order(self) -> "Appearance":
        if self.last_frame is not None and self.last_frame < self.first_frame:
            raise ValueError(f"last_frame ({self.last_frame}) is before first_frame ({self.first_frame})")
        if self.clear_from_frame is not None and self.clear_from_frame < self.first_frame:
            raise ValueError(f"clear_from_frame ({self.clear_from_frame}) is before first_frame ({self.first_frame})")
        return self

    def covers(self, frame: int) -> bool:
        """Whether the subject is in view in ``frame``."""
        return self.first_frame <= frame and (self.last_frame is None or frame <= self.last_frame)

    @property
    def clear_frame(self) -> int:
        """The first frame with the face clearly in view."""
        return self.first_frame if self.clear_from_frame is None else self.clear_from_frame


class FootageTruth(BaseModel):
    """Who of the watchlist appears in a video; anyone else in it is not on the watchlist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    appearances: list[Appearance] = Field(description="Each watchlist subject's time in view (several allowed).")

    @classmethod
    def read(cls, path: Path) -> "FootageTruth":
        """Read a ground-truth JSON file.

        Raises:
            GroundTruthUnreadable: the file is missing, not JSON, or not of this shape.
        """
        try:
            return cls.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise GroundTruthUnreadable(f"cannot read the ground truth {path}: {exc}") from exc
        except ValidationError as exc:
            raise GroundTruthUnreadable(
                f"{path} is not a ground truth ({exc.error_count()} problems; the first: "
                f"{exc.errors()[0]['msg']} at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}); "
                'expected {"appearances": [{"subject_id": "…", "first_frame": 0, "last_frame": 99}]}'
            ) from exc

    @property
    def subjects(self) -> list[str]:
        """The subjects who appear, sorted."""
        return sorted({appearance.subject_id for appearance in self.appearances})

    def appearance_of(self, subject_id: str, frame: int) -> Appearance | None:
        """The subject's appearance covering ``frame``, or None."""
        return next((a for a in self.appearances if a.subject_id == subject_id and a.covers(frame)), None)


class Pace(enum.StrEnum):
    """How the video reaches the recogniser."""

    CAMERA = "camera"
    FAST = "fast"
    SLOW = "slow"


class EvaluatedAlert(BaseModel):
    """An alert raised on the footage, held against the ground truth."""

    subject_id: str
    distance: float = Field(description="Distance of the nearest matching face.")
    faces_matched: int
    faces_searched: int
    matched_qualities: list[float] = Field(description="Quality score of each matching face, nearest first.")
    best_frame: int = Field(description="The frame of the nearest matching face.")
    decided_frame: int
    decided_video_s: float
    correct: bool = Field(description="The subject was in view in best_frame.")
    seconds_from_clear_view: float | None = Field(
        description="From the subject's first clear frame to the decision, seconds of video; null when wrong."
    )


class PaceRun(BaseModel):
    """One run of the video at one pace."""

    pace: Pace
    run: int = Field(description="The run's number at this pace, from 1.")
    frames_read: int
    frames_processed: int
    frames_dropped: int = Field(description="By the camera's buffer, or by the slow device.")
    processing_fps: float = Field(description="Frames processed per second of processing.")
    faces_seen: int
    tracks: int
    searches: int
    alerts: list[EvaluatedAlert]
    found: list[str] = Field(description="Subjects in the video alerted while in view.")
    missed: list[str] = Field(description="Subjects in the video never alerted.")
    wrong_alerts: int = Field(description="Alerts for someone not in view.")


class FootageReport(BaseModel):
    """What ``vigil evaluate video`` prints."""

    video: str
    watchlist_subjects: int
    threshold: float
    expected: list[str] = Field(description="The watchlist subjects the ground truth puts in the video.")
    device_fps: float = Field(description="Frames a second the slow device processes.")
    runs: list[PaceRun]

    @property
    def every_run_right(self) -> bool:
        """Whether every run found every subject expected and raised no wrong alert."""
        return all(not run.missed and run.wrong_alerts == 0 for run in self.runs)


class _Timestamps:
    """A source wrapper that remembers each frame's time, for seconds from a subject's clear view."""

    def __init__(self, source: Iterable[Frame]) -> None:
        self._source = source
        self.seconds: dict[int, float] = {}

    def __iter__(self) -> Iterator[Frame]:
        for frame in self._source:
            self.seconds[frame.index] = frame.timestamp_s
            yield frame


def evaluate_footage(
    open_video: Callable[[bool], VideoSource],
    truth: FootageTruth,
    watchlist: LoadedWatchlist,
    *,
    video: str,
    detector: Callable[[], Detector],
    embedder: Embedder,
    quality_policy: QualityPolicy,
    settings: RecognitionSettings,
    paces: Sequence[Pace] = tuple(Pace),
    runs: int = 1,
    device_fps: float = 5.0,
    on_run: Callable[[PaceRun], None] | None = None,
) -> FootageReport:
    """Run the footage through the recogniser ``runs`` times at each pace and hold the alerts against the truth.

    Args:
        open_video: opens the video afresh; its argument says whether to deliver frames at the camera's pace.
        truth: who of the watchlist is in the video, when.
        watchlist: the watchlist searched.
        video: the video's name, for the report.
        detector: makes a detector (one per run: detectors are not thread-safe).
        embedder: the embedder.
        quality_policy: the quality bar.
        settings: the recogniser's settings.
        paces: the paces to run.
        runs: runs per pace.
        device_fps: frames a second the slow device processes.
        on_run: told each run as it ends.

    Returns:
        Every run, with its alerts held against the truth.

    Raises:
        ValueError: ``runs`` below 1.
        VigilError: the video cannot be opened or read.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    results = []
    for pace in paces:
        for number in range(1, runs + 1):
            run = _run_once(
                pace,
                number,
                open_video,
                truth,
                watchlist,
                detector=detector(),
                embedder=embedder,
                quality_policy=quality_policy,
                settings=settings,
                device_fps=device_fps,
            )
            results.append(run)
            if on_run is not None:
                on_run(run)
    return FootageReport(
        video=video,
        watchlist_subjects=len(watchlist.gallery.subjects),
        threshold=watchlist.gallery.threshold,
        expected=truth.subjects,
        device_fps=device_fps,
        runs=results,
    )


def _run_once(
    pace: Pace,
    number: int,
    open_video: Callable[[bool], VideoSource],
    truth: FootageTruth,
    watchlist: LoadedWatchlist,
    *,
    detector: Detector,
    embedder: Embedder,
    quality_policy: QualityPolicy,
    settings: RecognitionSettings,
    device_fps: float,
) -> PaceRun:
    alerts: list[TrackAlert] = []
    pipeline = RecognitionPipeline(
        detector=detector,
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=quality_policy,
        watchlist=ActiveWatchlist(watchlist),
        settings=settings,
        on_alert=alerts.append,
    )
    stopping = threading.Event()
    with open_video(pace is Pace.CAMERA) as source:
        counts: FeedCounts
        if pace is Pace.CAMERA:
            timed = _Timestamps(source)
            counts = feed_live(timed, pipeline, stopping=stopping)
            dropped = counts.frames_dropped
        else:
            thinned = SlowDevice(source, fps=device_fps) if pace is Pace.SLOW else None
            timed = _Timestamps(thinned if thinned is not None else source)
            counts = feed_every_frame(timed, pipeline, stopping=stopping)
            dropped = thinned.frames_dropped if thinned is not None else 0
        pipeline.drain()
        pipeline.close()
    judged = [_judge(alert, truth, timed.seconds) for alert in alerts]
    found = sorted({a.subject_id for a in judged if a.correct})
    stats = pipeline.stats
    return PaceRun(
        pace=pace,
        run=number,
        frames_read=counts.frames_read if pace is Pace.CAMERA else counts.frames_read + dropped,
        frames_processed=stats.frames,
        frames_dropped=dropped,
        processing_fps=stats.frames / counts.processing_s if counts.processing_s > 0 else 0.0,
        faces_seen=stats.faces_seen,
        tracks=stats.tracks,
        searches=stats.embeddings,
        alerts=judged,
        found=found,
        missed=[subject for subject in truth.subjects if subject not in found],
        wrong_alerts=sum(not a.correct for a in judged),
    )


def _judge(alert: TrackAlert, truth: FootageTruth, seconds: dict[int, float]) -> EvaluatedAlert:
    subject_id = alert.match.subject.subject_id
    appearance = truth.appearance_of(subject_id, alert.best.frame_index)
    from_clear = None
    if appearance is not None:
        from_clear = alert.decided_s - seconds.get(appearance.clear_frame, alert.decided_s)
    return EvaluatedAlert(
        subject_id=subject_id,
        distance=alert.match.distance,
        faces_matched=alert.matching_embeddings,
        faces_searched=alert.searches,
        matched_qualities=list(alert.matched_qualities),
        best_frame=alert.best.frame_index,
        decided_frame=alert.decided_frame,
        decided_video_s=alert.decided_s,
        correct=appearance is not None,
        seconds_from_clear_view=from_clear,
    )
