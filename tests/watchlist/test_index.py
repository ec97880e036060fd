import numpy as np
import pytest

from vigil.watchlist.index import ExactIndex, HashedIndex, build_index


def _synthetic(count: int, seed: int = 0, width: int = 128) -> np.ndarray:
    """Templates spread like dlib embeddings: a shared offset, different-person distances about 0.9."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 1, width)
    centre *= 1.3 / np.linalg.norm(centre)
    return (centre + rng.normal(0, 0.9 / np.sqrt(2 * width), (count, width))).astype(np.float32)


@pytest.mark.parametrize("width", [128, 2, 512, 4096])
def test_exact_index_agrees_with_brute_force_at_any_width(width: int) -> None:
    templates = _synthetic(500, width=width)
    probes = _synthetic(7, seed=1, width=width)
    index = ExactIndex(templates)
    assert index.width == width
    distances, rows = index.nearest(probes, 3)
    brute = np.linalg.norm(probes[:, None, :].astype(np.float64) - templates[None, :, :], axis=2)
    np.testing.assert_array_equal(rows, np.argsort(brute, axis=1)[:, :3])
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :3], atol=1e-4)


def test_hashed_index_finds_the_enrolled_template_of_noisy_probes() -> None:
    templates = _synthetic(30_000)
    rng = np.random.default_rng(2)
    chosen = rng.choice(len(templates), 200, replace=False)
    # Same-person probes: about 0.45 from their template, like real same-person pairs.
    probes = (templates[chosen] + rng.normal(0, 0.45 / np.sqrt(128), (200, 128))).astype(np.float32)
    distances, rows = HashedIndex(templates).nearest(probes, 1)
    exact_distances, exact_rows = ExactIndex(templates).nearest(probes, 1)
    assert np.mean(rows[:, 0] == chosen) >= 0.99
    agree = rows[:, 0] == exact_rows[:, 0]
    np.testing.assert_allclose(distances[agree, 0], exact_distances[agree, 0], atol=1e-4)


@pytest.mark.parametrize(("count", "kind"), [(100, ExactIndex), (25_000, HashedIndex)])
def test_build_index_picks_by_size(count: int, kind: type) -> None:
    assert isinstance(build_index(_synthetic(count), exact_up_to=20_000), kind)


def test_hashed_index_of_wide_embeddings_agrees_with_exact_search() -> None:
    templates = _synthetic(1_000, width=512)
    rng = np.random.default_rng(3)
    probes = (templates[:50] + rng.normal(0, 0.45 / np.sqrt(512), (50, 512))).astype(np.float32)
    index = HashedIndex(templates)
    assert (index.width, index.nbytes > 1_000 * 512 * 4) == (512, True)
    _, rows = index.nearest(probes, 1)
    assert np.mean(rows[:, 0] == np.arange(50)) >= 0.98


@pytest.mark.parametrize("shape", [(10,), (2, 3, 128), (10, 0)])
def test_index_refuses_wrong_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"must be \(n, d\)"):
        ExactIndex(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("kind", [ExactIndex, HashedIndex])
def test_index_refuses_probes_of_another_width(kind: type[ExactIndex] | type[HashedIndex]) -> None:
    index = kind(_synthetic(100, width=512))
    with pytest.raises(ValueError, match=r"must be \(n, 512\), got \(1, 128\)"):
        index.nearest(_synthetic(1, width=128), 1)
