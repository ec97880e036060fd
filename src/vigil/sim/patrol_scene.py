"""The standard patrol scene: people from the test photos walk up to a body camera, with gaps of empty street.

Tests and ``vigil bench edge`` share it, so their numbers describe the same video. People come in pairs: the
first enters on the left, the second a third of a walk later on the right, each far away at first (a face
about 6% of the frame's shorter side wide) and growing linearly to about 30% as they approach. Halfway through
every walk, for about a seventh of it, one thing happens in turn: the face blurs, turns (squeezed to 60% of
its width), is half covered, or is out of view. Half a second of empty street opens the video and follows
every pair. Everything random (order, lanes, sizes, effects) comes from the seed.
"""

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vigil.sim.background import textured_background
from vigil.sim.errors import UnknownPerson
from vigil.sim.footage import Actor, Effect, Footage, Occlusion, Walk

# The photo that shows each person in the scene: where the test data has one, a photo outside the person's
# enrolment folder (identities/train/<person>/), so that a watchlist enrolled from that folder is probed with a
# different photo. Anyone else is shown in the last photo of their enrolment folder.
_PROBE_PHOTOS = {
    "obama": "identities/test/obama1.jpg",
    "kit_harington": "identities/test/johnsnow_test1.jpg",
    "alex_lacamoire": "identities/test/alex_lacamoire1.jpg",
}
# How many kinds of effect _effects offers; walks take them in turn, in an order the seed shuffles.
_EFFECT_KINDS = 4
# Face widths as fractions of the frame's shorter side, far and near.
_FAR_FACE = 0.06
_NEAR_FACE = 0.30
# A walk lasts at least this long, seconds.
_MIN_WALK_S = 2.0
# Empty street before each pair and at the end, seconds.
_GAP_S = 0.5


def scene_photo(testdata_dir: Path, person_id: str) -> Path:
    """The photo the standard scene shows ``person_id`` in.

    Args:
        testdata_dir: the test data folder (``identities/train/<person>/`` holds each person's photos).
        person_id: a folder name under ``identities/train``.

    Returns:
        The photo's path.

    Raises:
        UnknownPerson: the test data has no photos of that person.
    """
    probe = _PROBE_PHOTOS.get(person_id)
    if probe is not None and (testdata_dir / probe).is_file():
        return testdata_dir / probe
    folder = testdata_dir / "identities" / "train" / person_id
    photos = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    if not photos:
        train = testdata_dir / "identities" / "train"
        known = sorted(p.name for p in train.iterdir() if p.is_dir()) if train.is_dir() else []
        raise UnknownPerson(
            f"no photos of {person_id!r} in {folder}; the people in the test data are {', '.join(known) or 'none'}",
            person_id=person_id,
        )
    return photos[-1]


def standard_patrol_scene(
    testdata_dir: Path,
    *,
    size: tuple[int, int] = (640, 360),
    fps: float = 15.0,
    seconds: float = 20.0,
    watchlist_people: Sequence[str] = ("obama", "kit_harington"),
    passers_by: Sequence[str] = ("alex_lacamoire", "biden", "rose_leslie"),
    seed: int = 0,
) -> Footage:
    """Build the standard patrol scene (see the module's description).

    Args:
        testdata_dir: the test data folder; each person is shown in :func:`scene_photo`.
        size: the frames' (width, height), pixels.
        fps: frames per second.
        seconds: the video's length; it must leave every person a walk of at least 2 s.
        watchlist_people: people a watchlist would hold (folder names under ``identities/train``).
        passers_by: people it would not hold; none may also be in ``watchlist_people``.
        seed: the random seed.

    Returns:
        The footage; its ground truth names people by the ids given.

    Raises:
        ValueError: no people, someone in both lists, or ``seconds`` too short for everyone.
        UnknownPerson: the test data has no photos of someone.
    """
    both = set(watchlist_people) & set(passers_by)
    if both:
        raise ValueError(f"{sorted(both)} cannot be both on the watchlist and passers-by")
    people = [*watchlist_people, *passers_by]
    if not people or len(set(people)) != len(people):
        raise ValueError(f"the scene needs at least one person, each named once; got {people}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    width, height = size
    rng = np.random.default_rng(seed)
    order = [people[i] for i in rng.permutation(len(people))]
    pairs = [order[i : i + 2] for i in range(0, len(order), 2)]
    frame_count = round(seconds * fps)
    gap = max(1, round(_GAP_S * fps))
    shortest = math.ceil(_MIN_WALK_S * fps)
    walk_frames = shortest
    while _length(pairs, walk_frames + 1, gap) <= frame_count:
        walk_frames += 1
    if _length(pairs, walk_frames, gap) > frame_count:
        needed = _length(pairs, shortest, gap) / fps
        raise ValueError(
            f"{seconds} s is too short for {len(people)} people at {fps} fps; give at least {needed:.1f} s"
        )
    kinds = rng.permutation(_EFFECT_KINDS)
    shorter = min(width, height)
    walks: list[Walk] = []
    start = gap
    for pair in pairs:
        for lane, person_id in enumerate(pair):
            first = start + lane * (walk_frames // 3)
            side = -1 if lane == 0 else 1
            jitter = rng.uniform(-0.02, 0.02, size=4)
            grow = rng.uniform(0.9, 1.1, size=2)
            effect = _effects(first, walk_frames, shorter)[kinds[len(walks) % _EFFECT_KINDS]]
            walks.append(
                Walk(
                    person_id=person_id,
                    start_frame=first,
                    stop_frame=first + walk_frames,
                    start_centre=(width * (0.5 + side * 0.06 + jitter[0]), height * (0.40 + jitter[1])),
                    end_centre=(width * (0.5 + side * 0.26 + jitter[2]), height * (0.46 + jitter[3])),
                    start_face_px=_FAR_FACE * shorter * grow[0],
                    end_face_px=_NEAR_FACE * shorter * grow[1],
                    effects=(effect,),
                )
            )
        start += _span(len(pair), walk_frames) + gap
    actors = [Actor(person_id=p, photo=scene_photo(testdata_dir, p)) for p in people]
    background = textured_background(width, height, seed=seed)
    return Footage(actors=actors, walks=walks, background=background, fps=fps, frame_count=frame_count)


def _span(people: int, walk_frames: int) -> int:
    """Frames a pair (or a last single person) is in view: the second person starts a third of a walk later."""
    return walk_frames + (walk_frames // 3 if people == 2 else 0)


def _length(pairs: Sequence[Sequence[str]], walk_frames: int, gap: int) -> int:
    """Frames the scene needs: a gap, then each pair followed by a gap."""
    return gap + sum(_span(len(pair), walk_frames) + gap for pair in pairs)


def _effects(first: int, walk_frames: int, shorter: int) -> tuple[Effect, ...]:
    """The effects one walk starting at ``first`` may get: from halfway, for a seventh of it (at least a frame).

    Blur, a turn of the head, the lower half of the face covered, and the face out of view, in that order.
    """
    start = first + walk_frames // 2
    stop = start + max(1, walk_frames // 7)
    return (
        Effect(start, stop, blur_sigma=2.5 * shorter / 360),
        Effect(start, stop, squeeze=0.6),
        Effect(start, stop, occlusion=Occlusion(top=0.5)),
        Effect(start, stop, hidden=True),
    )
