"""1:N search over a watchlist: which subject, if anyone, a face belongs to.

A subject with several templates is as near as its nearest template (the usual fusion for a handful of
enrolment photos: one good photo suffices). The search is open-set: a best distance above the watchlist's
threshold means "nobody on the watchlist".

A gallery knows the face network its templates were made with (:attr:`Gallery.model`) and refuses a probe from
another: distances between two networks' embeddings mean nothing, so such a search would alert at random.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.watchlist.errors import ModelMismatch
from vigil.watchlist.index import EXACT_UP_TO, GalleryIndex, build_index
from vigil.watchlist.store import WatchlistEntry
from vigil.watchlist.subject import Subject


@dataclass(frozen=True)
class Match:
    """A subject and how near the probe is to them.

    Attributes:
        subject: the watchlist entry.
        distance: Euclidean distance to the subject's nearest template.
        template: the row of that template in the gallery (see :meth:`Gallery.template_chip`).
    """

    subject: Subject
    distance: float
    template: int


class Gallery:
    """The searchable form of a watchlist's live entries."""

    def __init__(
        self,
        entries: Sequence[WatchlistEntry],
        *,
        threshold: float,
        model: str,
        exact_up_to: int = EXACT_UP_TO,
    ) -> None:
        """Index the entries' templates.

        Args:
            entries: the live entries (see :meth:`WatchlistStore.live_entries`).
            threshold: the operating distance threshold; a probe at or below it matches.
            model: the id of the face network the templates were made with; every template must carry it
                (an empty gallery simply has it).
            exact_up_to: galleries up to this many templates are searched exactly.

        Raises:
            ValueError: the threshold is not in (0, 2], or the templates' embeddings differ in width.
            ModelMismatch: a template was made with another model.
        """
        if not 0 < threshold <= 2:
            raise ValueError(f"a distance threshold lies in (0, 2], got {threshold}")
        for entry in entries:
            for template in entry.templates:
                if template.model != model:
                    raise ModelMismatch(expected=model, got=template.model, subject_id=template.subject_id)
        widths = {template.embedding.shape[0] for entry in entries for template in entry.templates}
        if len(widths) > 1:
            raise ValueError(f"the templates' embeddings differ in width ({sorted(widths)}); one model makes one width")
        self.threshold = threshold
        self.model = model
        self._subjects = [entry.subject for entry in entries]
        self._templates = [template for entry in entries for template in entry.templates]
        self._owner = np.array(
            [number for number, entry in enumerate(entries) for _ in entry.templates], dtype=np.int64
        )
        self._most_templates = max((len(entry.templates) for entry in entries), default=0)
        self._index: GalleryIndex | None = None
        if self._templates:
            embeddings = np.stack([template.embedding for template in self._templates])
            self._index = build_index(embeddings, exact_up_to=exact_up_to)

    @property
    def subjects(self) -> list[Subject]:
        """The subjects searched."""
        return list(self._subjects)

    def template_chip(self, template: int) -> bytes:
        """The JPEG chip of a template row (shown beside a live match)."""
        return self._templates[template].chip_jpeg

    def search(self, probe: npt.NDArray[np.float32], k: int = 5, *, model: str) -> list[Match]:
        """The ``k`` nearest subjects, nearest first, whatever their distance.

        Args:
            probe: a (d,) float32 embedding, d the templates' width.
            k: how many subjects.
            model: the id of the face network that made the probe.

        Returns:
            Up to ``k`` matches, ascending distance.

        Raises:
            ModelMismatch: the probe was made with another model than the gallery's.
            ValueError: the probe's width is not the templates'.
        """
        return self.search_many(probe[None, :], k, model=model)[0]

    def search_many(self, probes: npt.NDArray[np.float32], k: int = 5, *, model: str) -> list[list[Match]]:
        """:meth:`search` for (m, d) probes at once.

        Raises:
            ModelMismatch: the probes were made with another model than the gallery's.
            ValueError: the probes' width is not the templates'.
        """
        if model != self.model:
            raise ModelMismatch(expected=self.model, got=model)
        if self._index is None or k <= 0:
            return [[] for _ in range(probes.shape[0])]
        # Ask for enough templates that k distinct subjects are among them even if each has all its templates there.
        distances, rows = self._index.nearest(probes, k * self._most_templates)
        results = []
        for probe_distances, probe_rows in zip(distances, rows, strict=True):
            matches: list[Match] = []
            seen: set[int] = set()
            for distance, row in zip(probe_distances.tolist(), probe_rows.tolist(), strict=True):
                owner = int(self._owner[row]) if row >= 0 else -1
                if owner < 0 or owner in seen:
                    continue
                seen.add(owner)
                matches.append(Match(subject=self._subjects[owner], distance=float(distance), template=int(row)))
                if len(matches) == k:
                    break
            results.append(matches)
        return results

    def identify(self, probe: npt.NDArray[np.float32], *, model: str) -> Match | None:
        """The matching subject, or None when nobody on the watchlist is within the threshold.

        Args:
            probe: a (d,) float32 embedding, d the templates' width.
            model: the id of the face network that made the probe.

        Raises:
            ModelMismatch: the probe was made with another model than the gallery's.
            ValueError: the probe's width is not the templates'.
        """
        best = self.search(probe, k=1, model=model)
        if best and best[0].distance <= self.threshold:
            return best[0]
        return None
