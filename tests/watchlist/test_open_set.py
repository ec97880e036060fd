import numpy as np
import pytest

from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.labelled_faces import LabelledFaces
from vigil.watchlist.open_set import measure_open_set


def _people(count: int, photos: int, *, spread: float, seed: int = 0) -> LabelledFaces:
    """``count`` people, ``photos`` each: a random centre per person, photos scattered ``spread`` around it."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 0.045, size=(count, 128))  # strangers about 0.72 apart
    embeddings = np.repeat(centres, photos, axis=0) + rng.normal(0.0, spread, size=(count * photos, 128))
    return LabelledFaces(
        embeddings=embeddings.astype(np.float32),
        owners=np.repeat(np.arange(count), photos),
        people=tuple(f"person-{n}" for n in range(count)),
    )


def test_false_alerts_grow_with_the_watchlist_and_the_threshold_tightens() -> None:
    faces = _people(400, 3, spread=0.02)
    thresholds = [0.62, 0.65, 0.68, 0.71]
    report = measure_open_set(faces, sizes=[10, 100], target_false_alerts_per_10k=50.0, thresholds=thresholds, draws=3)
    small, large = report.sizes
    assert report.identities == 400
    assert large.operating_point.threshold < small.operating_point.threshold
    for size in report.sizes:
        point = size.operating_point
        # Within the target, and measured: the interval holds the figure.
        assert point.false_alerts_per_10k <= 50.0
        assert point.false_alerts_per_10k_low <= point.false_alerts_per_10k <= point.false_alerts_per_10k_high
        # Photos of a listed person lie far nearer their own first photo than anyone else does: all found.
        assert point.true_match_rate == 1.0
        assert size.passer_by_faces >= 100_000 or size.draws == 200
    assert [point.threshold for point in large.at_thresholds] == thresholds
    rates = [point.false_alerts_per_10k for point in large.at_thresholds]
    assert rates == sorted(rates)  # a looser threshold never alerts fewer passers-by
    for few, many in zip(small.at_thresholds, large.at_thresholds, strict=True):
        assert many.false_alerts_per_10k > few.false_alerts_per_10k  # at one threshold, more people, more alerts


def test_a_listed_person_is_found_only_when_their_nearest_subject_is_them() -> None:
    """Two people whose photos cross over: a match to the wrong subject is not a true match."""
    embeddings = np.zeros((4 + 60, 128), dtype=np.float32)
    embeddings[0, 0], embeddings[1, 0] = 1.0, 1.0  # A's first photo and a second photo on top of it
    embeddings[2, 1], embeddings[3, 0] = 1.0, 1.0  # B's first photo, and a second photo on top of A's
    embeddings[4:, 2] = 5.0 + np.arange(60)  # sixty strangers far from everyone
    faces = LabelledFaces(
        embeddings=embeddings,
        owners=np.array([0, 0, 1, 1, *range(2, 62)]),
        people=tuple(f"p{n}" for n in range(62)),
    )
    report = measure_open_set(faces, sizes=[2], thresholds=[0.1], draws=200)
    (point,) = report.sizes[0].at_thresholds
    # A's second photo is found whenever A is listed; B's never (it lies on A's photo, far from B's first), and when
    # both are listed it is matched to A, which is no true match. About half the mated searches are found.
    assert point.true_match_rate is not None
    assert 0.25 < point.true_match_rate < 0.75


def test_duplicates_filed_under_two_people_are_left_out() -> None:
    faces = _people(60, 2, spread=0.02)
    copied = np.concatenate([faces.embeddings, faces.embeddings[:1]])
    doubled = LabelledFaces(
        embeddings=copied, owners=np.concatenate([faces.owners, [59]]), people=faces.people
    ).without_duplicates()
    assert doubled.owners.size == faces.owners.size
    assert doubled.skipped == ("person-59 (photo 120): the same picture as another person's",)


@pytest.mark.parametrize(
    ("sizes", "target", "message"),
    [([30], 1.0, "leaves too few to pass by"), ([0], 1.0, "leaves too few"), ([5], 0.0, "between 0 and 10,000")],
)
def test_refusals(sizes: list[int], target: float, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        measure_open_set(_people(60, 2, spread=0.02), sizes=sizes, target_false_alerts_per_10k=target)


def test_the_rates_at_the_threshold_each_size_ships_with_are_reported_beside_the_others() -> None:
    faces = _people(300, 2, spread=0.02)
    shipped = {10: 0.65, 100: 0.71}
    report = measure_open_set(
        faces, sizes=[10, 100], thresholds=[0.62, 0.68], shipped_threshold=shipped.__getitem__, draws=2
    )
    for size in report.sizes:
        at_shipped = size.at_shipped_threshold
        assert at_shipped is not None
        assert at_shipped.threshold == shipped[size.watchlist_size]
        assert [point.threshold for point in size.at_thresholds] == [0.62, 0.68]  # the others stay as asked
        tighter, looser = size.at_thresholds
        if at_shipped.threshold < looser.threshold:
            assert tighter.false_alerts_per_10k <= at_shipped.false_alerts_per_10k <= looser.false_alerts_per_10k
        else:
            assert at_shipped.false_alerts_per_10k >= looser.false_alerts_per_10k
    assert measure_open_set(faces, sizes=[10], draws=2).sizes[0].at_shipped_threshold is None
