"""``vigil bench gallery``: 1:N search latency, memory, build time and recall at 10k, 100k and 1M templates.

Templates are synthetic but spread like dlib embeddings: a common offset of length 1.3 plus Gaussian spread,
so that two different people lie about 0.9 apart. Probes are enrolled templates plus noise of length 0.45, the
distance at which real same-person pairs lie (0.3–0.5 in the project's test photos); random probes would tell
nothing about recall. Everything runs on one thread.
"""

import time
from collections.abc import Sequence

import faiss
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from threadpoolctl import threadpool_limits

from vigil.bench.timing import measure
from vigil.vision.face_model import DLIB_MODEL
from vigil.watchlist.index import EXACT_UP_TO, ExactIndex, GalleryIndex, HashedIndex

SIZES = (10_000, 100_000, 1_000_000)
PROBE_DISTANCE = 0.45
_IMPOSTOR_DISTANCE = 0.9
_OFFSET_LENGTH = 1.3
EMBEDDING_SIZE = DLIB_MODEL.embedding_size


class GalleryFigures(BaseModel):
    """One index at one gallery size."""

    templates: int
    index: str = Field(description="exact (NumPy) or hashed (FAISS LSH + exact re-rank).")
    build_s: float = Field(description="Time to build the index, seconds.")
    memory_mb: float = Field(description="Memory the index holds for its templates, MiB.")
    median_ms: float = Field(description="Median single-query latency, milliseconds.")
    p95_ms: float = Field(description="95th percentile single-query latency, milliseconds.")
    recall_at_1: float = Field(description="Share of probes whose nearest template is their enrolled one.")
    agrees_with_exact: float | None = Field(description="Share of probes with the same top-1 as exact search.")


class GalleryBenchReport(BaseModel):
    """What ``vigil bench gallery`` prints."""

    rows: list[GalleryFigures]
    exact_up_to: int = Field(description="Galleries up to this size are searched exactly by default.")
    probe_distance: float = Field(description="Length of the noise added to enrolled templates to make probes.")
    threads: int


def synthetic_gallery(count: int, *, seed: int) -> npt.NDArray[np.float32]:
    """Templates spread like dlib embeddings, shape (count, 128)."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(0, 1, EMBEDDING_SIZE)
    offset *= _OFFSET_LENGTH / np.linalg.norm(offset)
    spread = _IMPOSTOR_DISTANCE / np.sqrt(2 * EMBEDDING_SIZE)
    templates = offset.astype(np.float32) + rng.normal(0, spread, (count, EMBEDDING_SIZE)).astype(np.float32)
    return np.ascontiguousarray(templates)


def _figures(
    name: str,
    build: "type[ExactIndex] | type[HashedIndex]",
    templates: npt.NDArray[np.float32],
    probes: npt.NDArray[np.float32],
    truth: npt.NDArray[np.int64],
    exact_top: npt.NDArray[np.int64] | None,
) -> tuple[GalleryFigures, npt.NDArray[np.int64]]:
    start = time.perf_counter()
    index: GalleryIndex = build(templates)
    build_s = time.perf_counter() - start
    top = np.array([index.nearest(probe[None, :], 1)[1][0, 0] for probe in probes], dtype=np.int64)
    queries = iter(np.resize(probes, (probes.shape[0] * 4, probes.shape[1])))
    timing = measure(lambda: index.nearest(next(queries)[None, :], 1), runs=min(len(probes) * 3, 300), warmup=3)
    figures = GalleryFigures(
        templates=templates.shape[0],
        index=name,
        build_s=build_s,
        memory_mb=index.nbytes / 2**20,
        median_ms=timing.median_ms,
        p95_ms=timing.p95_ms,
        recall_at_1=float(np.mean(top == truth)),
        agrees_with_exact=None if exact_top is None else float(np.mean(top == exact_top)),
    )
    return figures, top


def run_gallery_bench(*, sizes: Sequence[int] = SIZES, probes_per_size: int = 200, seed: int = 0) -> GalleryBenchReport:
    """Measure exact and hashed search at each gallery size, on one thread.

    Args:
        sizes: gallery sizes (templates).
        probes_per_size: same-person probes per size.
        seed: random seed of the synthetic gallery.

    Returns:
        A row per size and index.
    """
    rows = []
    faiss.omp_set_num_threads(1)
    with threadpool_limits(limits=1):
        for size in sizes:
            templates = synthetic_gallery(size, seed=seed)
            rng = np.random.default_rng(seed + 1)
            truth = rng.choice(size, probes_per_size, replace=False).astype(np.int64)
            noise = rng.normal(0, 1, (probes_per_size, EMBEDDING_SIZE))
            noise *= PROBE_DISTANCE / np.linalg.norm(noise, axis=1, keepdims=True)
            probes = (templates[truth] + noise).astype(np.float32)
            exact, exact_top = _figures("exact", ExactIndex, templates, probes, truth, None)
            hashed, _ = _figures("hashed", HashedIndex, templates, probes, truth, exact_top)
            rows += [exact, hashed]
            del templates
    return GalleryBenchReport(rows=rows, exact_up_to=EXACT_UP_TO, probe_distance=PROBE_DISTANCE, threads=1)
