"""The recognition pipeline: detect, track, judge quality, search each person's best faces, decide per person.

At camera pace on one core there is time to detect every frame but not to embed every face (15–100 ms each). So
the camera loop (:meth:`RecognitionPipeline.process`) only detects, tracks and judges faces, keeping each
person's best face as a candidate; a worker thread embeds and searches the candidates that
:mod:`vigil.edge.search_policy` says are due, and never holds the camera back. Processing a recording frame by
frame instead (:meth:`RecognitionPipeline.wait_for_searches` after each frame) gives the same decisions on any
machine: the policy counts in the video's time, not the processor's.

A person decided to be a watchlist subject raises one alert (:class:`TrackAlert`) saying which faces backed it;
a subject alerted within ``cooldown_s`` of video time is not alerted again, whichever track sees them.

While the device may not search (``may_search`` says no: outside its deployment's area or window,
:mod:`vigil.edge.deployment`), frames are not even looked at: every track ends and its data is dropped, and
nothing is detected or searched until it may again. Votes count only under the deployment they were cast under: when
the watchlist in force changes deployment, every track's votes are dropped.

Privacy by construction: chips, crops and embeddings live only in this module's memory. A face that matches
nobody is never written, logged or sent; when its track ends, its data is dropped. Only the matched face crop
leaves, inside the alert.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.deployment import HeldScope
from vigil.edge.search_policy import Candidate, Decision, SearchPolicy, SearchSettings, TrackSearch
from vigil.edge.tracking import IouTracker
from vigil.edge.video import Frame
from vigil.vision.alignment import align_face
from vigil.vision.detection import Box, Detection, Detector
from vigil.vision.embedding import Embedder
from vigil.vision.image import RgbImage
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy, assess_quality
from vigil.watchlist.gallery import Match

_CROP_MARGIN = 0.3
_log = logging.getLogger(__name__)


class RecognitionSettings(BaseModel):
    """How the pipeline tracks people, searches them and alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    search: SearchSettings = Field(default_factory=SearchSettings, description="When a person is searched and decided.")
    cooldown_s: float = Field(300.0, ge=0, le=86_400, description="No second alert for a subject within this, seconds.")
    min_iou: float = Field(0.3, gt=0, le=1, description="Box overlap that continues a track.")
    max_shift: float = Field(
        1.0, ge=0, le=10, description="Else, how far (in box widths) a face may move between frames and keep its track."
    )
    max_missed_frames: int = Field(15, ge=0, le=300, description="Frames a track may go unseen before it ends.")


@dataclass(frozen=True)
class TrackAlert:
    """A decision that a watchlist subject is in view: everything an alert needs.

    Attributes:
        match: the subject and the nearest matching face's distance.
        threshold: the watchlist threshold in force.
        watchlist_version: the watchlist version searched.
        model: the id of the face network whose embeddings matched (the device's and the watchlist's).
        matched_qualities: the quality score of each face that matched the subject, nearest match first.
        searches: faces of the track searched until the decision, the matching ones included.
        best: the nearest matching face (its frame, time and quality verdict).
        track_id: the track.
        first_seen_frame: the frame where the track began.
        first_seen_s: that frame's time, seconds of video.
        decided_frame: the newest frame processed when the decision was made.
        decided_s: that frame's time, seconds of video.
        scope: the deployment the watchlist searched was used under; None when none governs it.
    """

    match: Match
    threshold: float
    watchlist_version: int
    model: str
    matched_qualities: tuple[float, ...]
    searches: int
    best: Candidate
    track_id: int
    first_seen_frame: int
    first_seen_s: float
    decided_frame: int
    decided_s: float
    scope: HeldScope | None = None

    @property
    def matching_embeddings(self) -> int:
        """How many searched faces matched the subject."""
        return len(self.matched_qualities)

    @property
    def probe_crop(self) -> RgbImage:
        """The nearest matching face cut from its frame with a margin (RGB): the only image that leaves."""
        return self.best.crop


@dataclass
class PipelineStats:
    """Counts since the pipeline started."""

    frames: int = 0
    faces_seen: int = 0
    tracks: int = 0
    embeddings: int = 0
    alerts: int = 0
    paused_frames: int = 0


class RecognitionPipeline:
    """Turns frames into person-level alerts; see the module docstring."""

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
        may_search: Callable[[], bool] | None = None,
    ) -> None:
        """Assemble the pipeline and start its search worker.

        Args:
            detector: the face detector (the fast one, for video).
            landmarker: the 5-point landmark model.
            embedder: the embedding backend.
            quality_policy: the bar a face must pass before it is searched.
            watchlist: the watchlist in force (swappable while running).
            settings: tracking, search policy and cooldown.
            on_alert: called (on the worker thread) with each alert.
            may_search: asked before each frame whether the device may search now; while it says no, frames are
                skipped and tracks dropped. None: always.
        """
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self._quality = quality_policy
        self._watchlist = watchlist
        self._settings = settings
        self._on_alert = on_alert
        self._may_search = may_search
        self._searched_under = _deployment_of(watchlist.current)
        self._policy = SearchPolicy(settings.search)
        self._tracker = IouTracker(
            min_iou=settings.min_iou, max_missed_frames=settings.max_missed_frames, max_shift=settings.max_shift
        )
        self._tracks: dict[int, TrackSearch] = {}
        self._alerted_at: dict[str, float] = {}
        self._changed = threading.Condition()
        self._searching = False
        self._stopping = False
        self._current_frame = 0
        self._current_s = 0.0
        self.stats = PipelineStats()
        self._worker = threading.Thread(target=self._work, name="search-worker", daemon=True)
        self._worker.start()

    def process(self, frame: Frame) -> None:
        """Detect and track the frame's faces and keep each person's best face; never waits for the worker.

        While the device may not search, the frame is skipped and every track's data dropped.
        """
        if self._may_search is not None and not self._may_search():
            with self._changed:
                self.stats.paused_frames += 1
                self._drop_tracks_locked()
                self._current_frame = frame.index
                self._current_s = frame.timestamp_s
                self._changed.notify_all()
            return
        height, width = frame.image.shape[:2]
        detections = self._detector.detect(frame.image)
        # Tracks follow the visible part of each box; landmarks need the detector's own framing.
        visible = [(Detection(box, d.score), d) for d in detections if (box := d.box.clipped(width, height))]
        framing = {id(shown): detection for shown, detection in visible}
        with self._changed:
            update = self._tracker.update(frame.index, [shown for shown, _ in visible])
            self.stats.frames += 1
            self.stats.faces_seen += len(visible)
            self.stats.tracks += len(update.started)
            for track in update.started:
                self._tracks[track.track_id] = TrackSearch(track.track_id, track.first_frame, frame.timestamp_s)
            for track in update.ended:
                self._tracks.pop(track.track_id, None)  # drops the track's chips, crops and votes
            searching = [
                (state, detection)
                for track, detection in update.seen
                if (state := self._tracks.get(track.track_id)) is not None and not state.decided
            ]
        candidates = [(state, self._candidate(frame, framing[id(shown)], shown.box)) for state, shown in searching]
        with self._changed:
            self._current_frame = frame.index
            self._current_s = frame.timestamp_s
            for state, candidate in candidates:
                if candidate is not None:
                    self._policy.offer(state, candidate)
            self._changed.notify_all()

    def _candidate(self, frame: Frame, detection: Detection, visible: Box) -> Candidate | None:
        """The face as a candidate for search, or None when it is below the quality bar."""
        landmarks = self._landmarker.locate(frame.image, detection.box)
        chip = align_face(frame.image, landmarks)
        quality = assess_quality(chip, landmarks, self._quality)
        if not quality.passed:
            return None
        return Candidate(
            frame_index=frame.index,
            timestamp_s=frame.timestamp_s,
            chip=chip,
            crop=_crop(frame.image, visible),
            quality=quality,
            eye_gap_px=landmarks.interocular_px,
        )

    def wait_for_searches(self, timeout_s: float = 30.0) -> bool:
        """Wait until every search due at the newest frame has finished; True if they did in time.

        Calling it after each frame of a recording makes the decisions independent of the machine's speed.
        """
        with self._changed:
            return self._changed.wait_for(lambda: not self._searching and self._due() is None, timeout=timeout_s)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until the worker has searched everything due; True if it did in time."""
        return self.wait_for_searches(timeout_s)

    def close(self) -> None:
        """Finish the due searches, stop the worker and drop every track's data."""
        self.drain()
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._worker.join(10)
        with self._changed:
            self._drop_tracks_locked()

    def forget_tracks(self) -> None:
        """End every track now and drop its chips, crops and votes; a search already running still finishes."""
        with self._changed:
            self._drop_tracks_locked()

    def _drop_tracks_locked(self) -> None:
        """End every track and drop its chips, crops and votes (the lock held)."""
        self._tracker.end_all()
        self._tracks.clear()

    def _due(self) -> TrackSearch | None:
        return self._policy.next_due(list(self._tracks.values()), self._current_s)

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or self._due() is not None)
                track = self._due()
                if track is None:
                    return  # stopping, and nothing is due
                candidate = self._policy.take(track)
                self._searching = True
            loaded = self._watchlist.current
            match: Match | None = None
            try:
                embedding = self._embedder.embed([candidate.chip])[0]
                match = loaded.gallery.identify(embedding, model=self._embedder.model.model_id)
                del embedding
            except Exception:
                # One failed search must not stop the worker: every later face would go unsearched.
                _log.exception("recognition.search_failed", extra={"track_id": track.track_id})
            with self._changed:
                self.stats.embeddings += 1
                deployment = _deployment_of(loaded)
                if deployment != self._searched_under:
                    # A vote cast under one deployment (its area, window and watchlist) counts for no other.
                    self._searched_under = deployment
                    for state in self._tracks.values():
                        state.votes.clear()
                decision = self._policy.record(track, candidate, match, loaded.gallery.threshold)
                alert = self._alert(track, decision, loaded)
                self._searching = False
                self._changed.notify_all()
            if alert is not None:
                try:
                    self._on_alert(alert)
                except Exception:
                    # The worker must outlive a failing consumer, or every later face would go unsearched.
                    _log.exception("recognition.alert_consumer_failed", extra={"track_id": alert.track_id})

    def _alert(self, track: TrackSearch, decision: Decision | None, loaded: LoadedWatchlist) -> TrackAlert | None:
        """The alert a decision raises, unless its subject was alerted within the cooldown (lock held)."""
        if decision is None:
            return None
        subject_id = decision.best.match.subject.subject_id
        last = self._alerted_at.get(subject_id)
        if last is not None and self._current_s - last < self._settings.cooldown_s:
            return None
        self._alerted_at[subject_id] = self._current_s
        self.stats.alerts += 1
        return TrackAlert(
            match=decision.best.match,
            threshold=loaded.gallery.threshold,
            watchlist_version=loaded.version,
            model=loaded.gallery.model,
            matched_qualities=tuple(vote.candidate.quality.score for vote in decision.votes),
            searches=decision.searches,
            best=decision.best.candidate,
            track_id=track.track_id,
            first_seen_frame=track.first_seen_frame,
            first_seen_s=track.first_seen_s,
            decided_frame=self._current_frame,
            decided_s=self._current_s,
            scope=loaded.scope,
        )


def _deployment_of(loaded: LoadedWatchlist) -> uuid.UUID | None:
    """What votes are counted under: the watchlist's deployment id, or None when no deployment governs it."""
    return None if loaded.scope is None else loaded.scope.deployment_id


def _crop(image: RgbImage, box: Box) -> RgbImage:
    """The face with a margin, clipped to the frame: the probe image an alert carries."""
    height, width = image.shape[:2]
    margin_x, margin_y = box.width * _CROP_MARGIN, box.height * _CROP_MARGIN
    left, top = max(0, int(box.left - margin_x)), max(0, int(box.top - margin_y))
    right, bottom = min(width, int(box.right + margin_x)), min(height, int(box.bottom + margin_y))
    return np.ascontiguousarray(image[top:bottom, left:right])
