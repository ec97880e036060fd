"""Nearest-template search over a gallery of embeddings: exact for small galleries, hashed and re-ranked for large.

:class:`GalleryIndex` is the seam. :class:`ExactIndex` computes every distance with one matrix product (NumPy);
:class:`HashedIndex` (FAISS) first ranks every template by the Hamming distance between 128-bit locality-sensitive
hashes (a random rotation of the centred embedding, one bit per rotated dimension's sign), then computes exact distances
for the best ``rerank`` candidates only. Measured with ``vigil bench gallery`` on 2 cores (see the closing note of
the watchlist issue): exact search wins up to a few tens of thousands of templates, the hashed index beyond, at
1M templates answering in about 1.5 ms with the same nearest template as exact search.

Embeddings may have any width (the face network's embedding size: 128 for dlib's, 512 for most others); an index
holds templates of one width and refuses probes of another.
"""

from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

EXACT_UP_TO = 20_000
"""Galleries up to this many templates are searched exactly; above, :class:`HashedIndex` is used."""

Embeddings = npt.NDArray[np.float32]
"""Embeddings, shape (n, d): d numbers each, the face network's embedding size."""


class GalleryIndex(Protocol):
    """Finds the templates nearest to probe embeddings."""

    @property
    def size(self) -> int:
        """How many templates the index holds."""
        ...

    @property
    def nbytes(self) -> int:
        """Memory the index holds for its templates, in bytes."""
        ...

    @property
    def width(self) -> int:
        """Numbers per embedding, d."""
        ...

    def nearest(self, probes: Embeddings, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` nearest templates of each probe.

        Args:
            probes: (m, d) float32, d the templates' width.
            k: how many neighbours, at most :attr:`size`.

        Returns:
            Euclidean distances (m, k), ascending, and the templates' row numbers (m, k).

        Raises:
            ValueError: the probes are not (m, d).
        """
        ...


def _checked(embeddings: Embeddings, width: int | None = None) -> Embeddings:
    """The embeddings as a contiguous float32 (n, d) array; ``width``: the d they must have (None: any)."""
    if embeddings.ndim != 2 or embeddings.shape[1] < 1 or (width is not None and embeddings.shape[1] != width):
        expected = f"(n, {width})" if width is not None else "(n, d)"
        raise ValueError(
            f"embeddings must be {expected}, got {embeddings.shape}: "
            "a probe must come from the network that made the templates"
        )
    return np.ascontiguousarray(embeddings, dtype=np.float32)


class ExactIndex:
    """Every distance, from one matrix product: ‖t − q‖² = ‖t‖² − 2 t·q + ‖q‖²."""

    def __init__(self, templates: Embeddings) -> None:
        """Index the templates, (n, d) float32.

        Raises:
            ValueError: the array is not two-dimensional.
        """
        self._templates = _checked(templates)
        self._norms = np.einsum("ij,ij->i", self._templates, self._templates)

    @property
    def size(self) -> int:
        """How many templates the index holds."""
        return int(self._templates.shape[0])

    @property
    def nbytes(self) -> int:
        """The templates and their squared norms, in bytes."""
        return int(self._templates.nbytes + self._norms.nbytes)

    @property
    def width(self) -> int:
        """Numbers per embedding, d."""
        return int(self._templates.shape[1])

    def nearest(self, probes: Embeddings, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """See :meth:`GalleryIndex.nearest`."""
        probes = _checked(probes, self.width)
        k = min(k, self.size)
        distances = np.empty((probes.shape[0], k), dtype=np.float32)
        rows = np.empty((probes.shape[0], k), dtype=np.int64)
        # One matrix-vector product per probe: a camera asks about one face at a time, and the product is
        # bound by memory bandwidth, so batching probes would gain little and cost a (m, n) temporary.
        for number, probe in enumerate(probes):
            squared = self._norms - 2.0 * (self._templates @ probe)
            if k == 1:
                nearest = np.array([np.argmin(squared)])
            else:
                nearest = np.argpartition(squared, k - 1)[:k]
                nearest = nearest[np.argsort(squared[nearest])]
            rows[number] = nearest
            distances[number] = np.sqrt(np.maximum(squared[nearest] + float(probe @ probe), 0.0))
        return distances, rows


class HashedIndex:
    """128-bit locality-sensitive hashes to shortlist, exact distances to decide (FAISS ``IndexLSH`` + refine)."""

    def __init__(self, templates: Embeddings, *, bits: int = 128, rerank: int = 64) -> None:
        """Hash and index the templates.

        Args:
            templates: (n, d) float32.
            bits: hash length; each bit is the sign of one rotated, centred dimension.
            rerank: exact distances are computed for ``rerank × k`` shortlisted templates per query.

        Raises:
            ValueError: the array is not two-dimensional, or bits/rerank are not positive.
        """
        templates = _checked(templates)
        if bits <= 0 or rerank <= 0:
            raise ValueError(f"bits and rerank must be positive, got bits={bits}, rerank={rerank}")
        self._width = int(templates.shape[1])
        hashes = faiss.IndexLSH(self._width, bits, True, True)  # random rotation; per-bit thresholds learnt
        hashes.train(templates)
        self._index = faiss.IndexRefineFlat(hashes)
        self._index.k_factor = float(rerank)
        self._index.add(templates)
        self._hashes = hashes  # the refine index borrows the hash index; keep it referenced

    @property
    def size(self) -> int:
        """How many templates the index holds."""
        return int(self._index.ntotal)

    @property
    def nbytes(self) -> int:
        """The full templates (for re-ranking) and their hashes, in bytes."""
        return int(self._index.ntotal * (self._width * 4 + self._hashes.code_size))

    @property
    def width(self) -> int:
        """Numbers per embedding, d."""
        return self._width

    def nearest(self, probes: Embeddings, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """See :meth:`GalleryIndex.nearest`."""
        probes = _checked(probes, self._width)
        squared, rows = self._index.search(probes, min(k, self.size))
        return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32), rows.astype(np.int64)


def build_index(templates: Embeddings, *, exact_up_to: int = EXACT_UP_TO) -> GalleryIndex:
    """The faster index for a gallery of this size: exact up to ``exact_up_to`` templates, hashed above."""
    if templates.shape[0] <= exact_up_to:
        return ExactIndex(templates)
    return HashedIndex(templates)
