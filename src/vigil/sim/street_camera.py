"""A body camera's view of a street where people keep walking past: an endless video source made from photos.

:class:`PasserBy` walks follow one another for as long as the camera runs: one person at a time comes towards
the camera from afar (a face about 6 % of the frame's shorter side wide) to close by (about 30 %), veering to the
left or the right, then the street is empty for a moment. Who comes next goes round the cast in an order the
seed shuffles afresh each round, so every person passes once per round. :class:`StreetCamera` renders the frames
(a :class:`~vigil.sim.footage.Cast` over a generated street background) as a
:class:`~vigil.edge.video.VideoSource`, at the camera's pace like a real camera (frames it had no time to render
are skipped, as a camera's are dropped) or as fast as they are read.

The ground truth is kept: each :class:`Appearance` says who walked past and when (real time) their face was
first in view, and first at least ``clear_face_px`` wide, so an alert's latency can be measured from the moment
the person could be seen.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.edge.video import Frame, SourceStats
from vigil.events import utc_now
from vigil.sim.background import textured_background
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.footage import Cast, Walk, draw

_log = logging.getLogger(__name__)

# Face widths as fractions of the frame's shorter side, far and near (as in the standard patrol scene).
_FAR_FACE = 0.06
_NEAR_FACE = 0.30


class StreetSceneSettings(BaseModel):
    """The camera's video and the rhythm of people walking past."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width_px: int = Field(640, ge=160, le=3840, description="Frame width, pixels.")
    height_px: int = Field(360, ge=90, le=2160, description="Frame height, pixels.")
    fps: float = Field(15.0, gt=0, le=60, description="Frames per second.")
    walk_s: float = Field(4.0, ge=1, le=60, description="How long each person is in view, seconds.")
    gap_s: float = Field(2.0, ge=0.2, le=600, description="Empty street between two people, seconds.")
    clear_face_px: float = Field(
        60.0, gt=0, le=1000, description="A face at least this wide counts as clearly in view, pixels."
    )


@dataclass(frozen=True)
class Appearance:
    """One person walking past the camera, as far as the camera has shown it.

    Attributes:
        number: the walk's number, from 0.
        person_id: who.
        start_frame: the walk's first frame.
        stop_frame: the frame after its last.
        first_seen_at: when the first frame showing the face was made (real time, UTC); None if none was made.
        first_seen_frame: that frame's index.
        first_clear_at: when the first frame with the face at least ``clear_face_px`` wide was made; None if none.
        last_seen_at: when the last frame showing the face so far was made.
        frames_shown: frames made with the face in view.
    """

    number: int
    person_id: str
    start_frame: int
    stop_frame: int
    first_seen_at: datetime | None = None
    first_seen_frame: int | None = None
    first_clear_at: datetime | None = None
    last_seen_at: datetime | None = None
    frames_shown: int = 0


class PasserBy:
    """The endless script of who walks past when (no rendering); the same seed gives the same script."""

    def __init__(self, people: Sequence[str], settings: StreetSceneSettings, *, seed: int) -> None:
        """Plan the rhythm.

        Args:
            people: everyone who walks past (ids of the cast), at least one, each once.
            settings: frame size, frame rate and timings.
            seed: shuffles the order of each round and the paths.

        Raises:
            InvalidSimSettings: no people, or someone named twice.
        """
        if not people or len(set(people)) != len(people):
            raise InvalidSimSettings(f"people walk past one at a time, each named once; got {list(people)}")
        self._people = list(people)
        self._settings = settings
        self._seed = seed
        self.walk_frames = max(2, round(settings.walk_s * settings.fps))
        self.gap_frames = max(1, round(settings.gap_s * settings.fps))

    @property
    def period_frames(self) -> int:
        """Frames from one person's first frame to the next one's."""
        return self.walk_frames + self.gap_frames

    def number_at(self, frame: int) -> int | None:
        """The number of the walk in view in ``frame``, or None when the street is empty."""
        offset = frame - self.gap_frames
        if offset < 0 or offset % self.period_frames >= self.walk_frames:
            return None
        return offset // self.period_frames

    def walk(self, number: int) -> Walk:
        """Walk ``number`` (from 0): who, when and where."""
        people = len(self._people)
        order = np.random.default_rng([self._seed, number // people]).permutation(people)
        person = self._people[int(order[number % people])]
        rng = np.random.default_rng([self._seed, number, 1])
        width, height = self._settings.width_px, self._settings.height_px
        shorter = min(width, height)
        side = -1 if rng.random() < 0.5 else 1
        jitter = rng.uniform(-0.02, 0.02, size=4)
        grow = rng.uniform(0.9, 1.1, size=2)
        start = self.gap_frames + number * self.period_frames
        return Walk(
            person_id=person,
            start_frame=start,
            stop_frame=start + self.walk_frames,
            start_centre=(width * (0.5 + side * 0.06 + jitter[0]), height * (0.40 + jitter[1])),
            end_centre=(width * (0.5 + side * 0.26 + jitter[2]), height * (0.46 + jitter[3])),
            start_face_px=_FAR_FACE * shorter * grow[0],
            end_face_px=_NEAR_FACE * shorter * grow[1],
        )


class StreetCamera:
    """The street scene as a :class:`~vigil.edge.video.VideoSource`, with the ground truth of who was in view."""

    def __init__(
        self,
        cast: Cast,
        settings: StreetSceneSettings,
        *,
        seed: int,
        realtime: bool = True,
        seconds: float | None = None,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        """Prepare the scene (its background is drawn here); frames are made while iterating.

        Args:
            cast: the people who walk past, all of them, in turn.
            settings: frame size, frame rate and timings.
            seed: the background, the order of people and their paths.
            realtime: make frames at the camera's pace, skipping those there was no time for; False: as fast as
                they are read, every one.
            seconds: stop after this much video; None: run until closed.
            wall: the real time recorded in the ground truth.

        Raises:
            InvalidSimSettings: an empty cast, or ``seconds`` not positive.
        """
        if seconds is not None and not seconds > 0:
            raise InvalidSimSettings(f"seconds must be positive, or None to run until closed; got {seconds!r}")
        self.settings = settings
        self.script = PasserBy([actor.person_id for actor in cast.actors], settings, seed=seed)
        self._cast = cast
        self._background = textured_background(settings.width_px, settings.height_px, seed=seed)
        self._realtime = realtime
        self._frame_count = round(seconds * settings.fps) if seconds is not None else None
        self._wall = wall
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._appearances: dict[int, Appearance] = {}
        self._frames_read = 0
        self.frames_skipped = 0
        """Frames the camera had no time to make (real-time pace only)."""

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames until ``seconds`` of video or :meth:`close`; see :meth:`vigil.edge.video.VideoSource`."""
        fps = self.settings.fps
        size = (self.settings.width_px, self.settings.height_px)
        started = time.monotonic()
        index = 0
        while not self._closed.is_set() and (self._frame_count is None or index < self._frame_count):
            if self._realtime:
                delay = started + index / fps - time.monotonic()
                if delay > 0:
                    if self._closed.wait(delay):
                        return
                elif -delay > 1 / fps:
                    behind = int(-delay * fps)
                    if self._frame_count is not None:
                        behind = min(behind, self._frame_count - index)
                    self.frames_skipped += behind
                    index += behind
                    if self._frame_count is not None and index >= self._frame_count:
                        return
            number = self.script.number_at(index)
            walks = [self.script.walk(number)] if number is not None else []
            placements = self._cast.place(walks, index, size)
            image = draw(self._background, placements)
            self._record(number, walks, [p.truth.width for p in placements], index)
            self._frames_read += 1
            yield Frame(index=index, timestamp_s=index / fps, image=image)
            index += 1

    def appearances(self) -> list[Appearance]:
        """Everyone who has walked past so far (or is walking past now), in order."""
        with self._lock:
            return [self._appearances[n] for n in sorted(self._appearances)]

    @property
    def stats(self) -> SourceStats:
        """Frames made (none are ever corrupt, and a scene never reconnects)."""
        return SourceStats(frames_read=self._frames_read)

    def close(self) -> None:
        """Stop making frames; safe from another thread."""
        self._closed.set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, number: int | None, walks: list[Walk], widths: list[float], index: int) -> None:
        if number is None:
            return
        walk = walks[0]
        now = self._wall()
        with self._lock:
            seen = self._appearances.get(number) or Appearance(
                number=number, person_id=walk.person_id, start_frame=walk.start_frame, stop_frame=walk.stop_frame
            )
            if widths:
                clear = max(widths) >= self.settings.clear_face_px
                seen = replace(
                    seen,
                    first_seen_at=seen.first_seen_at or now,
                    first_seen_frame=seen.first_seen_frame if seen.first_seen_frame is not None else index,
                    first_clear_at=seen.first_clear_at or (now if clear else None),
                    last_seen_at=now,
                    frames_shown=seen.frames_shown + 1,
                )
            self._appearances[number] = seen
