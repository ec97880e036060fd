"""Face tracking: the same person across frames gets the same track, so decisions are made per person, not per frame.

A greedy tracker in two passes. First by box overlap (IoU), best pairs first: at 30 fps faces move little between
frames, so overlap is a strong cue. Then, for the tracks and detections left over, by distance: a detection whose
centre lies within ``max_shift`` box widths of a track's last centre, at a similar size, continues it, nearest
first. A body camera shakes, and a slow device sees every third or fifth frame: then a face jumps further than
its own width and overlap alone would start a new track for it at every jump (measured on the corridor clip
shaken by up to 25 px: 15 tracks for its 3 people at 5 frames a second by overlap alone). An unmatched detection
starts a track; a track unseen for ``max_missed_frames`` ends. The cost is linear in tracks × detections, trivial
for the handful of faces a body camera sees at once.
"""

import math
from dataclasses import dataclass, field

from vigil.vision.detection import Box, Detection


@dataclass
class Track:
    """One person's face across frames.

    Attributes:
        track_id: unique within the tracker's life.
        box: the latest box.
        first_frame: the frame index where the track began.
        last_frame: the latest frame index where it was seen.
        hits: frames in which it was seen.
    """

    track_id: int
    box: Box
    first_frame: int
    last_frame: int
    hits: int = 1


@dataclass
class TrackUpdate:
    """What one frame did to the tracks.

    Attributes:
        seen: (track, detection) for every detection of this frame, new tracks included.
        started: tracks that began in this frame.
        ended: tracks that ended (unseen too long) at this frame.
    """

    seen: list[tuple[Track, Detection]] = field(default_factory=list)
    started: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)


class IouTracker:
    """Greedy IoU matching of detections to tracks."""

    def __init__(
        self,
        *,
        min_iou: float = 0.3,
        max_missed_frames: int = 15,
        max_shift: float = 1.0,
        max_size_change: float = 1.5,
    ) -> None:
        """Create an empty tracker.

        Args:
            min_iou: the least overlap with a track's last box for a detection to continue it.
            max_missed_frames: frames a track may go unseen (occlusion, a missed detection) before it ends.
            max_shift: how far, in widths of the larger box, a detection's centre may lie from a track's last
                centre to continue it when their boxes do not overlap enough.
            max_size_change: how much larger (or smaller) the box may be, then.

        Raises:
            ValueError: ``min_iou`` outside (0, 1], ``max_missed_frames`` negative, ``max_shift`` negative or
                ``max_size_change`` below 1.
        """
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_missed_frames < 0:
            raise ValueError(f"max_missed_frames must be ≥ 0, got {max_missed_frames}")
        if max_shift < 0:
            raise ValueError(f"max_shift must be ≥ 0, got {max_shift}")
        if max_size_change < 1:
            raise ValueError(f"max_size_change must be ≥ 1, got {max_size_change}")
        self._min_iou = min_iou
        self._max_missed = max_missed_frames
        self._max_shift = max_shift
        self._max_size_change = max_size_change
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """The live tracks."""
        return list(self._tracks)

    def update(self, frame_index: int, detections: list[Detection]) -> TrackUpdate:
        """Match one frame's detections to the tracks.

        Args:
            frame_index: the frame's index; frames must come in increasing order (gaps allowed).
            detections: the frame's detections.

        Returns:
            Which tracks were seen, started and ended.
        """
        update = TrackUpdate()
        overlapping = sorted(
            (
                (-track.box.iou(detection.box), t, d)
                for t, track in enumerate(self._tracks)
                for d, detection in enumerate(detections)
            )
        )
        matched_tracks: set[int] = set()
        matched_detections: set[int] = set()
        for negative_overlap, t, d in overlapping:
            if -negative_overlap < self._min_iou:
                break
            if t in matched_tracks or d in matched_detections:
                continue
            self._continue(t, detections[d], frame_index, update)
            matched_tracks.add(t)
            matched_detections.add(d)
        nearby = sorted(
            (shift, t, d)
            for t, track in enumerate(self._tracks)
            if t not in matched_tracks
            for d, detection in enumerate(detections)
            if d not in matched_detections and (shift := self._shift(track.box, detection.box)) is not None
        )
        for _, t, d in nearby:
            if t in matched_tracks or d in matched_detections:
                continue
            self._continue(t, detections[d], frame_index, update)
            matched_tracks.add(t)
            matched_detections.add(d)
        for d, detection in enumerate(detections):
            if d in matched_detections:
                continue
            track = Track(self._next_id, detection.box, first_frame=frame_index, last_frame=frame_index)
            self._next_id += 1
            self._tracks.append(track)
            update.started.append(track)
            update.seen.append((track, detection))
        live = []
        for track in self._tracks:
            if frame_index - track.last_frame > self._max_missed:
                update.ended.append(track)
            else:
                live.append(track)
        self._tracks = live
        return update

    def _continue(self, number: int, detection: Detection, frame_index: int, update: TrackUpdate) -> None:
        track = self._tracks[number]
        track.box = detection.box
        track.last_frame = frame_index
        track.hits += 1
        update.seen.append((track, detection))

    def _shift(self, last: Box, new: Box) -> float | None:
        """How far ``new``'s centre lies from ``last``'s, in widths of the larger; None beyond the limits."""
        larger, smaller = max(last.width, new.width), min(last.width, new.width)
        if larger > self._max_size_change * smaller:
            return None
        shift = math.hypot(
            (new.left + new.right - last.left - last.right) / 2, (new.top + new.bottom - last.top - last.bottom) / 2
        )
        return shift / larger if shift <= self._max_shift * larger else None

    def end_all(self) -> list[Track]:
        """End every live track (the video ended); returns them."""
        ended, self._tracks = self._tracks, []
        return ended
