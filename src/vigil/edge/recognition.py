"""The recognition pipeline: detect, track, judge quality, embed a few good frames per person, decide per track.

At 30 frames a second on one core there is time to detect every frame (about 11 ms with BlazeFace) but not to
embed every face (15–100 ms). So each track keeps its best-quality face since its last embedding, and a worker
thread embeds at most ``max_embeddings_per_track`` of them, never blocking the camera loop: when the worker is
busy, the frame's candidate simply waits for the next chance. A person walking towards the camera is first seen
small, so a budget spent on distant faces would miss them close up: once the budget is spent, the track gets
one more embedding each time its face has grown by ``regrowth_factor`` (eye gap), up to
``max_extra_embeddings``. A track raises one alert, when
``matches_needed`` of its embeddings match the same subject, or one matches with a margin below the threshold;
a subject alerted recently (``cooldown_s``) is not alerted again, whichever track sees them.

Privacy by construction: chips, crops and embeddings live only in this module's memory. A face that matches
nobody is never written, logged or sent; when its track ends, its data is dropped. Only the matched face crop
leaves, inside the alert.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.tracking import IouTracker, Track
from vigil.edge.video import Frame
from vigil.vision.alignment import align_face
from vigil.vision.detection import Box, Detector
from vigil.vision.embedding import Embedder
from vigil.vision.image import RgbImage
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import FaceQuality, QualityPolicy, assess_quality
from vigil.watchlist.gallery import Match

_CROP_MARGIN = 0.3
_log = logging.getLogger(__name__)


class RecognitionSettings(BaseModel):
    """How the pipeline spends its embeddings and decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_embeddings_per_track: int = Field(4, ge=1, le=50, description="Embeddings spent on a person at first.")
    regrowth_factor: float = Field(
        1.5, gt=1, le=10, description="After the budget, embed again when the eye gap has grown this much."
    )
    max_extra_embeddings: int = Field(4, ge=0, le=50, description="Embeddings allowed for grown faces.")
    matches_needed: int = Field(2, ge=1, le=10, description="Matching embeddings of one subject that raise an alert.")
    strong_margin: float = Field(
        0.1, ge=0, le=1, description="One embedding this far below the threshold raises the alert alone."
    )
    min_frames_between_embeddings: int = Field(2, ge=0, le=300, description="Frames between a track's embeddings.")
    cooldown_s: float = Field(300.0, ge=0, le=86_400, description="No second alert for a subject within this, seconds.")
    worker_queue: int = Field(2, ge=1, le=64, description="Faces waiting for the embedding worker, at most.")
    min_iou: float = Field(0.3, gt=0, le=1, description="Box overlap that continues a track.")
    max_missed_frames: int = Field(15, ge=0, le=300, description="Frames a track may go unseen before it ends.")


@dataclass(frozen=True)
class TrackAlert:
    """A decision that a watchlist subject is in view: everything an alert needs.

    Attributes:
        match: the subject and the best distance.
        threshold: the watchlist threshold in force.
        watchlist_version: the watchlist version searched.
        matching_embeddings: how many of the track's embeddings matched the subject.
        quality: the quality of the best matching face.
        probe_crop: the matched face cut from the frame with a margin (RGB): the only image that leaves.
        track_id: the track.
        first_seen_frame: the frame where the track began.
        first_seen_s: that frame's timestamp.
        decided_frame: the frame being processed when the decision was made.
        decided_s: that frame's timestamp.
    """

    match: Match
    threshold: float
    watchlist_version: int
    matching_embeddings: int
    quality: FaceQuality
    probe_crop: RgbImage
    track_id: int
    first_seen_frame: int
    first_seen_s: float
    decided_frame: int
    decided_s: float


@dataclass
class _Candidate:
    frame_index: int
    chip: RgbImage
    crop: RgbImage
    quality: FaceQuality


@dataclass
class _TrackState:
    track: Track
    first_seen_s: float
    best: _Candidate | None = None
    submitted: int = 0
    largest_eye_gap_px: float = 0.0
    pending: bool = False
    last_submitted_frame: int = -(10**9)
    votes: dict[str, list[tuple[float, _Candidate, Match]]] = field(default_factory=dict)
    decided: bool = False


@dataclass
class PipelineStats:
    """Counts since the pipeline started."""

    frames: int = 0
    faces_seen: int = 0
    tracks: int = 0
    embeddings: int = 0
    alerts: int = 0
    skipped_busy: int = 0


class RecognitionPipeline:
    """Turns frames into track-level alerts; see the module docstring."""

    def __init__(
        self,
        *,
        detector: Detector,
        landmarker: FivePointLandmarker,
        embedder: Embedder,
        quality_policy: QualityPolicy,
        watchlist: ActiveWatchlist,
        settings: RecognitionSettings,
        on_alert: Callable[[TrackAlert], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Assemble the pipeline and start its embedding worker.

        Args:
            detector: the face detector (the fast one, for video).
            landmarker: the 5-point landmark model.
            embedder: the embedding backend.
            quality_policy: the bar a face must pass before it is embedded.
            watchlist: the watchlist in force (swappable while running).
            settings: embedding budget and decision rule.
            on_alert: called (on the worker thread) with each alert.
            clock: seconds, for the per-subject cooldown.
        """
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self._policy = quality_policy
        self._watchlist = watchlist
        self._settings = settings
        self._on_alert = on_alert
        self._clock = clock
        self._tracker = IouTracker(min_iou=settings.min_iou, max_missed_frames=settings.max_missed_frames)
        self._states: dict[int, _TrackState] = {}
        self._alerted_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._current_frame = 0
        self._current_s = 0.0
        self.stats = PipelineStats()
        self._jobs: queue.Queue[tuple[_TrackState, _Candidate] | None] = queue.Queue(maxsize=settings.worker_queue)
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._work, name="embedding-worker", daemon=True)
        self._worker.start()

    def process(self, frame: Frame) -> None:
        """Detect and track the frame's faces and queue the best ones for embedding; never waits for the worker."""
        detections = self._detector.detect(frame.image)
        with self._lock:
            self._current_frame = frame.index
            self._current_s = frame.timestamp_s
            update = self._tracker.update(frame.index, detections)
            self.stats.frames += 1
            self.stats.faces_seen += len(detections)
            self.stats.tracks += len(update.started)
            for track in update.started:
                self._states[track.track_id] = _TrackState(track=track, first_seen_s=frame.timestamp_s)
            for track in update.ended:
                self._states.pop(track.track_id, None)  # drops the track's chips, crops and votes
        for track, detection in update.seen:
            state = self._states.get(track.track_id)
            if state is None or state.decided:
                continue
            landmarks = self._landmarker.locate(frame.image, detection.box)
            chip = align_face(frame.image, landmarks)
            quality = assess_quality(chip, landmarks, self._policy)
            if not quality.passed:
                continue
            with self._lock:
                # Better quality wins; at equal quality (the score saturates) the larger face does.
                if state.best is None or (quality.score, _eye_gap_px(quality)) > (
                    state.best.quality.score,
                    _eye_gap_px(state.best.quality),
                ):
                    state.best = _Candidate(frame.index, chip, _crop(frame.image, detection.box), quality)
                self._maybe_submit(state, frame.index)

    def _maybe_submit(self, state: _TrackState, frame_index: int) -> None:
        settings = self._settings
        if (
            state.best is None
            or state.pending
            or frame_index - state.last_submitted_frame < settings.min_frames_between_embeddings
        ):
            return
        eye_gap = _eye_gap_px(state.best.quality)
        if state.submitted >= settings.max_embeddings_per_track and (
            state.submitted >= settings.max_embeddings_per_track + settings.max_extra_embeddings
            or eye_gap < settings.regrowth_factor * state.largest_eye_gap_px
        ):
            return
        self._idle.clear()
        try:
            self._jobs.put_nowait((state, state.best))
        except queue.Full:
            self.stats.skipped_busy += 1
            return
        state.pending = True
        state.largest_eye_gap_px = max(state.largest_eye_gap_px, eye_gap)
        state.submitted += 1
        state.last_submitted_frame = frame_index
        state.best = None

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            state, candidate = job
            loaded = self._watchlist.current
            try:
                embedding = self._embedder.embed([candidate.chip])[0]
                match = loaded.gallery.identify(embedding)
            except Exception:
                # One failed search must not stop the worker: every later face would go unsearched.
                _log.exception("recognition.search_failed", extra={"track_id": state.track.track_id})
                with self._lock:
                    state.pending = False
                    if self._jobs.empty():
                        self._idle.set()
                continue
            alert = None
            with self._lock:
                self.stats.embeddings += 1
                state.pending = False
                if match is not None and not state.decided:
                    alert = self._vote(state, candidate, match, loaded.gallery.threshold, loaded.version)
                budget = self._settings.max_embeddings_per_track + self._settings.max_extra_embeddings
                if not state.decided and state.submitted >= budget:
                    state.decided = True  # every embedding spent without a match: nobody we are looking for
                if self._jobs.empty():
                    self._idle.set()
            del embedding
            if alert is not None:
                try:
                    self._on_alert(alert)
                except Exception:
                    # The worker must outlive a failing consumer, or every later face would go unsearched.
                    _log.exception("recognition.alert_consumer_failed", extra={"track_id": alert.track_id})

    def _vote(
        self, state: _TrackState, candidate: _Candidate, match: Match, threshold: float, version: int
    ) -> TrackAlert | None:
        votes = state.votes.setdefault(match.subject.subject_id, [])
        votes.append((match.distance, candidate, match))
        strong = match.distance <= threshold - self._settings.strong_margin
        if len(votes) < self._settings.matches_needed and not strong:
            return None
        state.decided = True
        now = self._clock()
        last = self._alerted_at.get(match.subject.subject_id)
        if last is not None and now - last < self._settings.cooldown_s:
            return None
        self._alerted_at[match.subject.subject_id] = now
        self.stats.alerts += 1
        _, best, best_match = min(votes, key=lambda vote: vote[0])
        return TrackAlert(
            match=best_match,
            threshold=threshold,
            watchlist_version=version,
            matching_embeddings=len(votes),
            quality=best.quality,
            probe_crop=best.crop,
            track_id=state.track.track_id,
            first_seen_frame=state.track.first_frame,
            first_seen_s=state.first_seen_s,
            decided_frame=self._current_frame,
            decided_s=self._current_s,
        )

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until the worker has embedded everything queued; True if it did in time."""
        return self._idle.wait(timeout_s)

    def close(self) -> None:
        """Finish queued work, stop the worker and drop every track's data."""
        self.drain()
        self._jobs.put(None)
        self._worker.join(10)
        with self._lock:
            self._tracker.end_all()
            self._states.clear()


def _eye_gap_px(quality: FaceQuality) -> float:
    """The face's eye gap in pixels, as the quality verdict measured it."""
    return next(part.value for part in quality.parts if part.name == "face_size")


def _crop(image: RgbImage, box: Box) -> RgbImage:
    """The face with a margin, clipped to the frame: the probe image an alert carries."""
    height, width = image.shape[:2]
    margin_x, margin_y = box.width * _CROP_MARGIN, box.height * _CROP_MARGIN
    left, top = max(0, int(box.left - margin_x)), max(0, int(box.top - margin_y))
    right, bottom = min(width, int(box.right + margin_x)), min(height, int(box.bottom + margin_y))
    return np.ascontiguousarray(image[top:bottom, left:right])
