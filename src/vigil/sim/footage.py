"""Test and benchmark video made from real photos, with the ground truth of every frame.

Each :class:`Actor` is a person in a photo. Their head and shoulders are cut out once as a
:class:`~vigil.sim.sprite.Sprite` (the face box widened to about twice its size with the photo's own surroundings,
feathered at the edges so detectors see a natural face context), then composited over a background along a
:class:`Walk`: a linear path of the face's centre and width over a range of frames. :class:`Effect` s change a walk
for some frames: Gaussian blur, a horizontal squeeze (a head turning), a rectangle over part of the face, or no face
at all. Because every face is placed by the script, :attr:`Footage.truth` knows each visible face's box in every
frame exactly.

Frames are rendered on demand (:meth:`Footage.render`), so tests can work on frames in memory;
:meth:`Footage.write_mp4` writes the video for anything that reads files.
:func:`~vigil.sim.patrol_scene.standard_patrol_scene` builds the scene the tests and ``vigil bench edge`` share.
A :class:`Cast` (the actors, cut out once) places walks in any frame, so :mod:`vigil.sim.street_camera` can play a
scene that never ends.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from vigil.sim.errors import FootageWriteFailed
from vigil.sim.sprite import Sprite, composite, cut_out, level_for
from vigil.vision.detection import Box
from vigil.vision.errors import NoFaceFound
from vigil.vision.hog import HogDetector
from vigil.vision.image import RgbImage, fit_within, load_image

# The photo is shrunk to this long side before HOG looks for the face of an actor given without a box.
_FIND_FACE_SIDE_PX = 640


@dataclass(frozen=True)
class Actor:
    """A person in a photo.

    Attributes:
        person_id: the name ground truth reports for this person.
        photo: a photo showing the person's face.
        face_box: where the face is, in the photo's pixels (as dlib's HOG detector frames a face); None to find
            it with ``HogDetector(upsample=1)`` (the largest face found is used).
    """

    person_id: str
    photo: Path
    face_box: Box | None = None


@dataclass(frozen=True)
class Occlusion:
    """A plain rectangle over part of the face (a hand, a scarf), in fractions of the face box.

    Attributes:
        left: the rectangle's left edge, 0 (the face's left) to 1 (its right).
        top: its top edge, 0 (the face's top) to 1 (its bottom).
        right: its right edge.
        bottom: its bottom edge.
        colour: its RGB colour.
    """

    left: float = 0.0
    top: float = 0.5
    right: float = 1.0
    bottom: float = 1.0
    colour: tuple[int, int, int] = (52, 60, 78)

    def __post_init__(self) -> None:
        if not (0.0 <= self.left < self.right <= 1.0 and 0.0 <= self.top < self.bottom <= 1.0):
            raise ValueError(
                "an occlusion needs 0 ≤ left < right ≤ 1 and 0 ≤ top < bottom ≤ 1, got "
                f"left={self.left}, top={self.top}, right={self.right}, bottom={self.bottom}"
            )


@dataclass(frozen=True)
class Effect:
    """A change to a walk over frames ``start_frame`` to ``stop_frame - 1``.

    Attributes:
        start_frame: the first frame affected.
        stop_frame: the frame after the last one affected.
        blur_sigma: Gaussian blur of the person, sigma in output pixels; 0 for none.
        squeeze: the person's width factor, as when the head turns; 1 for none.
        occlusion: a rectangle over part of the face, or None.
        hidden: the person is not in view at all (turned away, behind something): no face, no ground truth.
    """

    start_frame: int
    stop_frame: int
    blur_sigma: float = 0.0
    squeeze: float = 1.0
    occlusion: Occlusion | None = None
    hidden: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start_frame < self.stop_frame:
            raise ValueError(
                f"an effect needs 0 ≤ start_frame < stop_frame, got {self.start_frame} and {self.stop_frame}"
            )
        if not self.blur_sigma >= 0.0:
            raise ValueError(f"blur_sigma must be 0 or more pixels, got {self.blur_sigma}")
        if not 0.1 <= self.squeeze <= 1.0:
            raise ValueError(f"squeeze must be between 0.1 and 1, got {self.squeeze}")


@dataclass(frozen=True)
class Walk:
    """An actor in view over frames ``start_frame`` to ``stop_frame - 1``, moving and growing linearly.

    Attributes:
        person_id: the actor.
        start_frame: the first frame the actor is in.
        stop_frame: the frame after the last one.
        start_centre: the face's centre (x, y) in the first frame, output pixels.
        end_centre: the face's centre in the last frame.
        start_face_px: the face's width in the first frame, output pixels (before any squeeze).
        end_face_px: the face's width in the last frame.
        effects: changes over parts of the walk; they may not overlap.
    """

    person_id: str
    start_frame: int
    stop_frame: int
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]
    start_face_px: float
    end_face_px: float
    effects: tuple[Effect, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.start_frame < self.stop_frame:
            raise ValueError(
                f"{self.person_id}: a walk needs 0 ≤ start_frame < stop_frame, "
                f"got {self.start_frame} and {self.stop_frame}"
            )
        if not (self.start_face_px >= 4.0 and self.end_face_px >= 4.0):
            raise ValueError(
                f"{self.person_id}: face widths must be at least 4 px, got {self.start_face_px} and {self.end_face_px}"
            )
        previous_stop = self.start_frame
        for effect in sorted(self.effects, key=lambda e: e.start_frame):
            if effect.start_frame < previous_stop or effect.stop_frame > self.stop_frame:
                raise ValueError(
                    f"{self.person_id}: effects must lie within the walk's frames {self.start_frame}–"
                    f"{self.stop_frame - 1} and not overlap; frames {effect.start_frame}–{effect.stop_frame - 1} do not"
                )
            previous_stop = effect.stop_frame

    def position(self, frame: int) -> tuple[float, float, float]:
        """The face's centre x, y and width (output pixels) in ``frame``, which must be in the walk."""
        span = self.stop_frame - 1 - self.start_frame
        t = (frame - self.start_frame) / span if span else 0.0
        return (
            self.start_centre[0] + t * (self.end_centre[0] - self.start_centre[0]),
            self.start_centre[1] + t * (self.end_centre[1] - self.start_centre[1]),
            self.start_face_px + t * (self.end_face_px - self.start_face_px),
        )

    def effect(self, frame: int) -> Effect | None:
        """The effect applied in ``frame``, if any."""
        return next((e for e in self.effects if e.start_frame <= frame < e.stop_frame), None)


@dataclass(frozen=True)
class FaceTruth:
    """A face visible in a frame.

    Attributes:
        person_id: who it is.
        box: where the face is, output pixels, framed as the actor's face box frames it in the photo.
        blur_sigma: the blur applied, pixels (0: sharp).
        squeeze: the width factor applied (1: none).
        occluded: whether part of the face is covered.
    """

    person_id: str
    box: Box
    blur_sigma: float = 0.0
    squeeze: float = 1.0
    occluded: bool = False

    @property
    def width(self) -> float:
        """The face's width in the frame, pixels."""
        return self.box.width

    @property
    def clear(self) -> bool:
        """Whether the face is shown as photographed: sharp, frontal and uncovered."""
        return self.blur_sigma == 0.0 and self.squeeze == 1.0 and not self.occluded


@dataclass(frozen=True)
class Placement:
    """One actor drawn in one frame: the cut-out resized to ``size`` with its top-left corner at ``corner``.

    Attributes:
        sprite: the cut-out, at the stored size nearest above the one drawn.
        corner: where its top-left corner goes, output pixels.
        size: its drawn (width, height), output pixels.
        effect: the walk's effect in this frame, if any.
        truth: the face as it appears in the frame.
    """

    sprite: Sprite
    corner: tuple[int, int]
    size: tuple[int, int]
    effect: Effect | None
    truth: FaceTruth


class Cast:
    """Actors cut out of their photos once, then placed along walks in any frame."""

    def __init__(self, actors: Sequence[Actor]) -> None:
        """Cut out each actor at every stored size.

        Args:
            actors: the people; each ``person_id`` once.

        Raises:
            ValueError: two actors share a ``person_id``.
            NoFaceFound: an actor given without a face box has no face HOG can find.
            ImageError: an actor's photo cannot be read.
        """
        ids = [actor.person_id for actor in actors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"each actor's person_id must be unique, got {ids}")
        prepared = _prepare(actors)
        self.actors = tuple(actor for actor, _ in prepared)
        """The actors, each with its face box (found by HOG where none was given)."""
        self._sprites = {actor.person_id: levels for actor, levels in prepared}

    def place(self, walks: Sequence[Walk], index: int, size: tuple[int, int]) -> tuple[Placement, ...]:
        """Where each walk in view puts its actor in frame ``index`` of a ``size`` (width, height) frame.

        Returns:
            The placements, the nearest (largest) face last, as they are drawn; walks not covering the frame,
            or hidden in it, have none.

        Raises:
            ValueError: a walk names someone not in the cast, or a face would leave the frame.
        """
        placements = []
        for walk in walks:
            if not walk.start_frame <= index < walk.stop_frame:
                continue
            levels = self._sprites.get(walk.person_id)
            if levels is None:
                raise ValueError(f"a walk names {walk.person_id!r}, who is not among the actors {list(self._sprites)}")
            effect = walk.effect(index)
            if effect is not None and effect.hidden:
                continue
            placement = _place(walk, index, effect, levels)
            box = placement.truth.box
            width, height = size
            if box.left < 0 or box.top < 0 or box.right > width or box.bottom > height:
                raise ValueError(
                    f"frame {index}: {walk.person_id}'s face ({box.left:.0f}, {box.top:.0f})–({box.right:.0f}, "
                    f"{box.bottom:.0f}) leaves the {width}×{height} frame; keep faces inside it"
                )
            placements.append(placement)
        # Nearer (larger) faces are drawn last, over farther ones.
        return tuple(sorted(placements, key=lambda p: p.truth.width))


def draw(background: RgbImage, placements: Sequence[Placement]) -> RgbImage:
    """A copy of ``background`` with the placed actors drawn over it, in order.

    Returns:
        8-bit RGB, the background's shape, C-contiguous.
    """
    frame = np.ascontiguousarray(background.copy())
    for placement in placements:
        _draw(frame, placement)
    return frame


class Footage:
    """A scripted video: actors walking over a background, rendered frame by frame, with ground truth."""

    def __init__(
        self,
        *,
        actors: Sequence[Actor],
        walks: Sequence[Walk],
        background: RgbImage,
        fps: float,
        frame_count: int,
    ) -> None:
        """Cut out the actors and plan every frame.

        Args:
            actors: the people; each ``person_id`` once.
            walks: when and where each actor is in view; an actor may walk several times.
            background: the empty scene, 8-bit RGB (height, width, 3); it sets the output size.
            fps: frames per second of the video.
            frame_count: how many frames the video has; frames no walk covers are empty.

        Raises:
            ValueError: an argument is out of range, a walk names an unknown actor or ends after the last
                frame, or a face would leave the frame.
            NoFaceFound: an actor given without a face box has no face HOG can find.
            ImageError: an actor's photo cannot be read.
        """
        if background.dtype != np.uint8 or background.ndim != 3 or background.shape[2] != 3:
            raise ValueError(
                f"the background must be uint8 (height, width, 3), got {background.dtype} {background.shape}"
            )
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if frame_count < 1:
            raise ValueError(f"frame_count must be at least 1, got {frame_count}")
        ids = [actor.person_id for actor in actors]
        for walk in walks:
            if walk.person_id not in ids:
                raise ValueError(f"a walk names {walk.person_id!r}, who is not among the actors {ids}")
            if walk.stop_frame > frame_count:
                raise ValueError(
                    f"{walk.person_id}'s walk ends at frame {walk.stop_frame - 1}; the video has {frame_count} frames"
                )
        self.background = background.copy()
        """The empty scene (read-only); :meth:`render` draws on a copy."""
        self.background.setflags(write=False)
        self.fps = fps
        self.frame_count = frame_count
        cast = Cast(actors)
        self.actors = cast.actors
        """The actors, each with its face box (found by HOG where none was given)."""
        self._plan = tuple(cast.place(walks, index, self.size) for index in range(frame_count))
        self.truth: tuple[tuple[FaceTruth, ...], ...] = tuple(
            tuple(placement.truth for placement in placements) for placements in self._plan
        )
        """The faces visible in each frame, by frame index."""

    @property
    def size(self) -> tuple[int, int]:
        """The frames' (width, height) in pixels."""
        return self.background.shape[1], self.background.shape[0]

    def render(self, index: int) -> RgbImage:
        """Draw frame ``index``.

        Returns:
            8-bit RGB, shape (height, width, 3), C-contiguous.

        Raises:
            IndexError: ``index`` is outside 0 to ``frame_count - 1``.
        """
        if not 0 <= index < self.frame_count:
            raise IndexError(f"frame {index} is outside 0–{self.frame_count - 1}")
        return draw(self.background, self._plan[index])

    def frames(self) -> Iterator[RgbImage]:
        """Draw every frame in order."""
        return (self.render(index) for index in range(self.frame_count))

    def write_mp4(self, path: Path) -> Path:
        """Write the video as MP4 (MPEG-4 Part 2, fourcc ``mp4v``).

        Args:
            path: the file to write; its folder must exist.

        Returns:
            ``path``.

        Raises:
            FootageWriteFailed: OpenCV cannot open the file for writing or wrote nothing.
        """
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, self.size)
        try:
            if not writer.isOpened():
                raise FootageWriteFailed(
                    "OpenCV cannot open an mp4v video writer here; check that the folder exists and is writable "
                    "and that the name ends in .mp4",
                    path=path,
                )
            for frame in self.frames():
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        if not path.is_file() or path.stat().st_size == 0:
            raise FootageWriteFailed("the video writer produced no file", path=path)
        return path


def _prepare(actors: Sequence[Actor]) -> list[tuple[Actor, tuple[Sprite, ...]]]:
    """Each actor with its face box (found by HOG where missing), and its cut-out at each stored size."""
    finder: HogDetector | None = None  # loading dlib's detector takes about half a second: only when needed
    prepared = []
    for actor in actors:
        photo = load_image(actor.photo)
        face = actor.face_box
        if face is None:
            finder = finder or HogDetector(upsample=1)
            small, scale = fit_within(photo, _FIND_FACE_SIDE_PX)
            detections = finder.detect(small)
            if not detections:
                raise NoFaceFound("HOG finds no face in this photo; give the Actor's face_box", source=str(actor.photo))
            height, width = small.shape[:2]
            chosen = max(detections, key=lambda d: d.box.area_within(width, height))
            face = chosen.box.scaled(1.0 / scale)
        prepared.append((replace(actor, face_box=face), cut_out(photo, face)))
    return prepared


def _place(walk: Walk, index: int, effect: Effect | None, levels: tuple[Sprite, ...]) -> Placement:
    centre_x, centre_y, face_px = walk.position(index)
    sprite = level_for(levels, face_px)
    squeeze = effect.squeeze if effect is not None else 1.0
    scale = face_px / sprite.face.width
    sprite_h, sprite_w = sprite.rgba.shape[:2]
    size = (max(1, round(sprite_w * scale * squeeze)), max(1, round(sprite_h * scale)))
    fx, fy = size[0] / sprite_w, size[1] / sprite_h
    face = sprite.face
    corner = (
        round(centre_x - (face.left + face.right) / 2 * fx),
        round(centre_y - (face.top + face.bottom) / 2 * fy),
    )
    box = Box(
        corner[0] + face.left * fx, corner[1] + face.top * fy, corner[0] + face.right * fx, corner[1] + face.bottom * fy
    )
    truth = FaceTruth(
        person_id=walk.person_id,
        box=box,
        blur_sigma=effect.blur_sigma if effect is not None else 0.0,
        squeeze=squeeze,
        occluded=effect is not None and effect.occlusion is not None,
    )
    return Placement(sprite=sprite, corner=corner, size=size, effect=effect, truth=truth)


def _draw(frame: RgbImage, placement: Placement) -> None:
    """Composite one placed cut-out, with its effect, into ``frame`` in place."""
    rgba = placement.sprite.resized(placement.size)
    effect = placement.effect
    if effect is not None and effect.occlusion is not None:
        cover = effect.occlusion
        box = placement.truth.box
        x0, y0 = placement.corner
        left = round(box.left + cover.left * box.width) - x0
        right = round(box.left + cover.right * box.width) - x0
        top = round(box.top + cover.top * box.height) - y0
        bottom = round(box.top + cover.bottom * box.height) - y0
        rgba[top:bottom, left:right] = (*cover.colour, 1.0)
    if effect is not None and effect.blur_sigma > 0:
        rgba = np.asarray(cv2.GaussianBlur(rgba, (0, 0), effect.blur_sigma), dtype=np.float32)
    composite(frame, rgba, placement.corner)
