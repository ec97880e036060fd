"""Face tracking: the same person across frames gets the same track, so decisions are made per person, not per frame.

A greedy IoU tracker: each frame's detections are matched to live tracks by box overlap, best pairs first; an
unmatched detection starts a track; a track unseen for ``max_missed_frames`` ends. At 30 fps faces move little
between frames, so overlap is a strong cue; the cost is linear in tracks × detections, trivial for the handful of
faces a body camera sees at once.
"""

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

    def __init__(self, *, min_iou: float = 0.3, max_missed_frames: int = 15) -> None:
        """Create an empty tracker.

        Args:
            min_iou: the least overlap with a track's last box for a detection to continue it.
            max_missed_frames: frames a track may go unseen (occlusion, a missed detection) before it ends.

        Raises:
            ValueError: ``min_iou`` outside (0, 1] or ``max_missed_frames`` negative.
        """
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_missed_frames < 0:
            raise ValueError(f"max_missed_frames must be ≥ 0, got {max_missed_frames}")
        self._min_iou = min_iou
        self._max_missed = max_missed_frames
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
        pairs = sorted(
            (
                (track.box.iou(detection.box), t, d)
                for t, track in enumerate(self._tracks)
                for d, detection in enumerate(detections)
            ),
            reverse=True,
        )
        matched_tracks: set[int] = set()
        matched_detections: set[int] = set()
        for overlap, t, d in pairs:
            if overlap < self._min_iou:
                break
            if t in matched_tracks or d in matched_detections:
                continue
            matched_tracks.add(t)
            matched_detections.add(d)
            track = self._tracks[t]
            track.box = detections[d].box
            track.last_frame = frame_index
            track.hits += 1
            update.seen.append((track, detections[d]))
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

    def end_all(self) -> list[Track]:
        """End every live track (the video ended); returns them."""
        ended, self._tracks = self._tracks, []
        return ended
