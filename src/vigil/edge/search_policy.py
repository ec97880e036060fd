"""Which face is searched next, and when a person is decided: the recogniser's policy, without threads or models.

A body camera first sees a person small and far, then nearer; the person turns their head, the camera shakes.
Their first faces are rarely their best, so the policy never spends a person's searches up front and gives up:

* Each person in view (a track) keeps one *candidate*, their best face since their last search (higher quality
  score first, then the larger face, then the newer): the sharpest, most frontal, largest of the frames between.
* A track that is not yet decided is searched again while it is in view, at most once every
  ``search_interval_s`` for its first ``fast_searches`` searches, then once every ``slow_search_interval_s``; a
  candidate better than every face searched so far is searched at the fast rate again. All of it is counted in
  the video's own time, so the number of searches an encounter gets does not depend on how many frames the
  device had time to process.
* When several tracks are due, the one searched least goes first, so one person never starves another.
* A track is decided when ``matches_needed`` of its searches match the same subject within the threshold and
  the quality scores of those faces add up to ``quality_needed``, or when one search matches ``strong_margin``
  inside the threshold from a face of quality ``single_match_quality`` or better. So a decision never rests on
  faces that are all poor: two tiny, blurred glimpses are not enough, however near they match. Every threshold is
  per face, so the rates measured on single photos (see :mod:`vigil.watchlist.open_set`) bound what one search
  can do; needing two agreeing faces is stricter still.
* A decided track is not searched again; a track that ends is dropped with everything it held.
"""

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.vision.image import RgbImage
from vigil.vision.quality import FaceQuality
from vigil.watchlist.gallery import Match

_ON_TIME_S = 1e-3


class SearchSettings(BaseModel):
    """How often a person in view is searched, and what decides them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    search_interval_s: float = Field(
        0.2, gt=0, le=60, description="Shortest time between two searches of one person, seconds of video."
    )
    fast_searches: int = Field(
        6, ge=1, le=1000, description="Searches of a person at the short interval before the long one applies."
    )
    slow_search_interval_s: float = Field(
        0.6, gt=0, le=600, description="Time between searches of a person searched fast_searches times, seconds."
    )
    matches_needed: int = Field(2, ge=1, le=10, description="Searches matching one subject that decide a person.")
    quality_needed: float = Field(
        0.5, ge=0, le=10, description="What the quality scores of those matching faces must add up to."
    )
    single_match_quality: float = Field(
        0.5, ge=0, le=1, description="Quality score a face needs to decide a person alone (with strong_margin)."
    )
    strong_margin: float = Field(
        0.05, ge=0, le=1, description="How far inside the threshold a lone face must match to decide a person."
    )

    @model_validator(mode="after")
    def _slow_is_not_faster(self) -> "SearchSettings":
        if self.slow_search_interval_s < self.search_interval_s:
            raise ValueError(
                f"slow_search_interval_s ({self.slow_search_interval_s}) must not be shorter than "
                f"search_interval_s ({self.search_interval_s})"
            )
        return self


@dataclass(frozen=True)
class Candidate:
    """One face of a track, ready to be searched.

    Attributes:
        frame_index: the frame it was seen in.
        timestamp_s: that frame's time, seconds of video.
        chip: the aligned chip the embedder takes (biometric data: memory only).
        crop: the face cut from the frame with a margin, the image an alert carries (memory only).
        quality: its quality verdict.
        eye_gap_px: its eye gap in the frame, pixels.
    """

    frame_index: int
    timestamp_s: float
    chip: RgbImage
    crop: RgbImage
    quality: FaceQuality
    eye_gap_px: float

    def replaces(self, other: "Candidate") -> bool:
        """Whether this (newer) face is better to search than ``other``: higher quality, then larger, then newer."""
        return (self.quality.score, self.eye_gap_px) >= (other.quality.score, other.eye_gap_px)


@dataclass(frozen=True)
class Vote:
    """A search of a track that matched a subject."""

    candidate: Candidate
    match: Match


@dataclass
class TrackSearch:
    """What the policy knows of one track: its candidate, its searches, its votes.

    Attributes:
        track_id: the tracker's id.
        first_seen_frame: the frame the track began in.
        first_seen_s: that frame's time.
        candidate: the best face since the last search, or None.
        searches: searches made (finished or running).
        last_search_s: the time of the face searched last; None before the first search.
        best_searched_quality: the best quality score searched so far (-1 before the first search).
        running: whether a search of it is running now.
        votes: matching searches, by subject id, in the order they came.
        decided: whether a subject was decided; it is then searched no more.
    """

    track_id: int
    first_seen_frame: int
    first_seen_s: float
    candidate: Candidate | None = None
    searches: int = 0
    last_search_s: float | None = None
    best_searched_quality: float = -1.0
    running: bool = False
    votes: dict[str, list[Vote]] = field(default_factory=dict)
    decided: bool = False


@dataclass(frozen=True)
class Decision:
    """A track decided to show a watchlist subject.

    Attributes:
        votes: the searches that matched the subject, nearest first.
        searches: every search of the track so far.
    """

    votes: tuple[Vote, ...]
    searches: int

    @property
    def best(self) -> Vote:
        """The nearest matching search."""
        return self.votes[0]


class SearchPolicy:
    """The policy of the module docstring, over :class:`TrackSearch` records the pipeline keeps."""

    def __init__(self, settings: SearchSettings) -> None:
        """Apply these settings."""
        self._settings = settings

    def offer(self, track: TrackSearch, candidate: Candidate) -> None:
        """Keep ``candidate`` (the track's newest face) as its next face to search if it is as good as the one kept."""
        if not track.decided and (track.candidate is None or candidate.replaces(track.candidate)):
            track.candidate = candidate

    def is_due(self, track: TrackSearch, now_s: float) -> bool:
        """Whether the track should be searched now (``now_s``: the newest frame's time)."""
        if track.decided or track.running or track.candidate is None:
            return False
        if track.last_search_s is None:
            return True
        settings = self._settings
        fast = track.searches < settings.fast_searches or track.candidate.quality.score > track.best_searched_quality
        interval = settings.search_interval_s if fast else settings.slow_search_interval_s
        # Frame times are rounded: a frame within a millisecond of the interval is on time.
        return now_s - track.last_search_s >= interval - _ON_TIME_S

    def next_due(self, tracks: list[TrackSearch], now_s: float) -> TrackSearch | None:
        """The due track searched least so far (then the one waiting longest); None when none is due."""
        due = [track for track in tracks if self.is_due(track, now_s)]
        if not due:
            return None
        return min(due, key=lambda track: (track.searches, track.last_search_s or -1.0, track.track_id))

    def take(self, track: TrackSearch) -> Candidate:
        """Start a search of the track's candidate; it is the caller's until :meth:`record`.

        Raises:
            ValueError: the track has no candidate.
        """
        candidate = track.candidate
        if candidate is None:
            raise ValueError(f"track {track.track_id} has no face to search")
        track.candidate = None
        track.running = True
        track.searches += 1
        track.last_search_s = candidate.timestamp_s
        track.best_searched_quality = max(track.best_searched_quality, candidate.quality.score)
        return candidate

    def record(
        self, track: TrackSearch, candidate: Candidate, match: Match | None, threshold: float
    ) -> Decision | None:
        """Take a finished search's result; a :class:`Decision` when it decides the track.

        Args:
            track: the track searched.
            candidate: the face searched.
            match: the nearest subject within the threshold, or None.
            threshold: the threshold the search used.
        """
        track.running = False
        if match is None or track.decided:
            return None
        votes = track.votes.setdefault(match.subject.subject_id, [])
        votes.append(Vote(candidate=candidate, match=match))
        settings = self._settings
        lone = (
            match.distance <= threshold - settings.strong_margin
            and candidate.quality.score >= settings.single_match_quality
        )
        enough = (
            len(votes) >= settings.matches_needed
            and sum(vote.candidate.quality.score for vote in votes) >= settings.quality_needed
        )
        if not (enough or lone):
            return None
        track.decided = True
        track.candidate = None
        return Decision(votes=tuple(sorted(votes, key=lambda vote: vote.match.distance)), searches=track.searches)
