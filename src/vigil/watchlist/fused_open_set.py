"""What an open-set measurement enrols and searches when several faces of a person are fused into one.

:func:`vigil.watchlist.open_set.measure_open_set` draws watchlists from a labelled set and searches faces against
them. This module fixes, once for all draws, what it enrols and searches (:func:`plan_searches`):

* each person's template is the fusion (:func:`vigil.watchlist.fusion.fuse`) of their first ``enrol_photos``
  photos in file order, or of all they have if fewer; with one photo it is that photo, as a watchlist holds today;
* each search is the fusion of ``probe_frames`` photos of one person, in non-overlapping groups in file order; a
  person with fewer photos than that has no search of that kind, and the photos left over once the groups are
  made are not searched;
* a person's searches as a passer-by are made from all their photos; their searches as a listed person (mated)
  from the photos after their enrolment photos only, so a listed person is never searched with a photo they were
  enrolled from. Fused enrolment therefore leaves people with ``enrol_photos`` photos or fewer without a mated
  search, though they are listed and enrolled all the same.

Fusing ``probe_frames`` photos stands in for fusing the frames of one track. The photos of one LFW person come
from different occasions (another day, another camera, another haircut) and differ far more than the frames of
one track do, so what photo fusion gains bounds what frame fusion can gain rather than reproduces it: a track's
frames share its occasion's light, pose and camera, so averaging them cancels less.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.fusion import fuse_groups
from vigil.watchlist.labelled_faces import LabelledFaces


@dataclass(frozen=True)
class OpenSetSearches:
    """The templates and the searches of a measurement, fixed for all its draws.

    Attributes:
        templates: (p, d) float32, row ``i`` the template of ``faces.people[i]`` (zeros for a person without a
            usable photo, who is never drawn).
        probes: (r, d) float32, the embeddings searched.
        passer_by_rows: (a,) int64, the rows of ``probes`` searched when their person is not listed.
        passer_by_owners: (a,) int64, their people.
        mated_rows: (b,) int64, the rows of ``probes`` searched when their person is listed.
        mated_owners: (b,) int64, their people.
    """

    templates: npt.NDArray[np.float32]
    probes: npt.NDArray[np.float32]
    passer_by_rows: npt.NDArray[np.int64]
    passer_by_owners: npt.NDArray[np.int64]
    mated_rows: npt.NDArray[np.int64]
    mated_owners: npt.NDArray[np.int64]


def plan_searches(
    faces: LabelledFaces, *, enrol_photos: int, probe_frames: int, quality_weighted: bool, unit_length: bool
) -> OpenSetSearches:
    """The templates and searches of the module docstring.

    Args:
        faces: the labelled faces, each person's rows in file order.
        enrol_photos: photos fused into each person's template, at least 1.
        probe_frames: photos fused into each search, at least 1.
        quality_weighted: weigh each photo by its face's quality score (else equally).
        unit_length: scale each fusion to unit length (a cosine network's embeddings).

    Returns:
        The plan.

    Raises:
        CalibrationError: fewer than one photo to enrol or to search from, quality weights asked for faces
            without quality scores, or nobody with enough photos for a mated search.
    """
    if enrol_photos < 1 or probe_frames < 1:
        raise CalibrationError(f"enrol from and search with at least one photo, got {enrol_photos} and {probe_frames}")
    fusing = enrol_photos > 1 or probe_frames > 1
    if fusing and quality_weighted and faces.qualities is None:
        raise CalibrationError(
            "these labelled faces carry no quality scores to weigh a fusion by: embed them again, or fuse with "
            "equal weights"
        )
    weights = faces.qualities if quality_weighted else None
    people = len(faces.people)
    order = np.argsort(faces.owners, kind="stable")
    owners = faces.owners[order]
    counts = np.bincount(owners, minlength=people)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(owners.size, dtype=np.int64)
    rank[order] = np.arange(owners.size) - starts[owners]  # each row's place among its person's photos
    enrolled = rank < enrol_photos

    templates = np.zeros((people, faces.embeddings.shape[1]), dtype=np.float32)
    enrolment = np.flatnonzero(enrolled)
    if enrol_photos == 1:
        templates[faces.owners[enrolment]] = faces.embeddings[enrolment]
    else:
        present, groups = np.unique(faces.owners[enrolment], return_inverse=True)
        templates[present] = _fuse(faces, enrolment, groups, weights, unit_length=unit_length)

    if probe_frames == 1:
        probes = faces.embeddings
        passer_by_rows = np.arange(faces.owners.size, dtype=np.int64)
        mated_rows = np.flatnonzero(~enrolled)
        passer_by_owners, mated_owners = faces.owners, faces.owners[mated_rows]
    else:
        taken = np.minimum(counts, enrol_photos)[faces.owners]
        passer_by, passer_by_owners = _grouped(faces, rank, counts[faces.owners], probe_frames, weights, unit_length)
        mated, mated_owners = _grouped(
            faces, rank - taken, counts[faces.owners] - taken, probe_frames, weights, unit_length
        )
        probes = np.concatenate([passer_by, mated])
        passer_by_rows = np.arange(passer_by.shape[0], dtype=np.int64)
        mated_rows = passer_by.shape[0] + np.arange(mated.shape[0], dtype=np.int64)
    if mated_rows.size == 0:
        raise CalibrationError(
            f"nobody has more than {enrol_photos + probe_frames - 1} photos: no listed person could be searched; "
            "enrol from fewer photos, search with fewer, or label more photos per person"
        )
    return OpenSetSearches(
        templates=templates,
        probes=probes,
        passer_by_rows=passer_by_rows,
        passer_by_owners=passer_by_owners.astype(np.int64),
        mated_rows=mated_rows.astype(np.int64),
        mated_owners=mated_owners.astype(np.int64),
    )


def _grouped(
    faces: LabelledFaces,
    place: npt.NDArray[np.int64],
    available: npt.NDArray[np.int64],
    size: int,
    weights: npt.NDArray[np.float32] | None,
    unit_length: bool,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Fuse each person's rows in groups of ``size``, by their place among the rows to group.

    A row at a negative place is not to be grouped; a person's ``available`` rows from place 0 on are. Groups left
    incomplete are dropped. Returns the fused probes and their people.
    """
    usable = np.flatnonzero((place >= 0) & (place < available // size * size))
    if usable.size == 0:
        return np.zeros((0, faces.embeddings.shape[1]), dtype=np.float32), np.zeros(0, dtype=np.int64)
    keys = faces.owners[usable] * (faces.owners.size + 1) + place[usable] // size
    unique_keys, groups = np.unique(keys, return_inverse=True)
    return _fuse(faces, usable, groups, weights, unit_length=unit_length), unique_keys // (faces.owners.size + 1)


def _fuse(
    faces: LabelledFaces,
    rows: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32] | None,
    *,
    unit_length: bool,
) -> npt.NDArray[np.float32]:
    return fuse_groups(
        faces.embeddings[rows],
        groups.astype(np.int64),
        None if weights is None else weights[rows],
        unit_length=unit_length,
    )
