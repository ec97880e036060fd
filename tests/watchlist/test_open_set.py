from pathlib import Path

import numpy as np
import pytest

from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.fused_open_set import plan_searches
from vigil.watchlist.fusion import fuse
from vigil.watchlist.labelled_faces import LabelledFaces, load_labelled_faces, save_labelled_faces
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


def _uneven(photos: list[int], *, spread: float = 0.02, seed: int = 0) -> LabelledFaces:
    """One person per entry of ``photos``, with that many photos, and a quality score per photo."""
    rng = np.random.default_rng(seed)
    owners = np.repeat(np.arange(len(photos)), photos)
    centres = rng.normal(0.0, 0.045, size=(len(photos), 128))
    embeddings = centres[owners] + rng.normal(0.0, spread, size=(owners.size, 128))
    return LabelledFaces(
        embeddings=embeddings.astype(np.float32),
        owners=owners,
        people=tuple(f"person-{n}" for n in range(len(photos))),
        qualities=rng.uniform(0.2, 1.0, size=owners.size).astype(np.float32),
    )


def test_with_one_photo_each_the_plan_enrols_the_first_photo_and_searches_every_photo() -> None:
    faces = _uneven([1, 3, 2])
    plan = plan_searches(faces, enrol_photos=1, probe_frames=1, quality_weighted=True, unit_length=False)
    assert np.array_equal(plan.templates, faces.embeddings[[0, 1, 4]])
    assert plan.probes is faces.embeddings
    assert plan.passer_by_rows.tolist() == list(range(6))
    assert plan.mated_rows.tolist() == [2, 3, 5]  # every photo but each person's first
    assert plan.mated_owners.tolist() == [1, 1, 2]


def test_fused_enrolment_uses_the_first_photos_and_searches_only_the_rest() -> None:
    faces = _uneven([2, 5, 4])
    plan = plan_searches(faces, enrol_photos=3, probe_frames=1, quality_weighted=True, unit_length=False)
    assert plan.templates[1] == pytest.approx(
        fuse(faces.embeddings[2:5], faces.qualities[2:5] if faces.qualities is not None else None, unit_length=False)
    )
    assert plan.templates[0] == pytest.approx(faces.embeddings[:2].mean(axis=0), abs=0.05)  # enrolled from both
    # The person with two photos has none left to search as listed; the others have the photos after their third.
    assert plan.mated_rows.tolist() == [5, 6, 10]
    assert plan.mated_owners.tolist() == [1, 1, 2]
    assert plan.passer_by_rows.size == faces.owners.size  # as passers-by every photo is searched


def test_fused_searches_are_non_overlapping_groups_of_one_persons_photos() -> None:
    faces = _uneven([2, 7, 4])
    plan = plan_searches(faces, enrol_photos=1, probe_frames=3, quality_weighted=False, unit_length=False)
    # Passers-by: person 1's photos 0-2 and 3-5, person 2's 0-2; person 0 has too few, leftovers are dropped.
    assert plan.passer_by_owners.tolist() == [1, 1, 2]
    passer_by = plan.probes[plan.passer_by_rows]
    assert passer_by[0] == pytest.approx(faces.embeddings[2:5].mean(axis=0))
    assert passer_by[1] == pytest.approx(faces.embeddings[5:8].mean(axis=0))
    # Listed: the photos after the enrolment photo, person 1's 1-3 and 4-6, person 2's 1-3.
    assert plan.mated_owners.tolist() == [1, 1, 2]
    mated = plan.probes[plan.mated_rows]
    assert mated[1] == pytest.approx(faces.embeddings[6:9].mean(axis=0))
    assert mated[2] == pytest.approx(faces.embeddings[10:13].mean(axis=0))


def test_fusion_refusals() -> None:
    faces = _uneven([2, 2])
    unscored = LabelledFaces(embeddings=faces.embeddings, owners=faces.owners, people=faces.people)
    with pytest.raises(CalibrationError, match="no quality scores"):
        plan_searches(unscored, enrol_photos=2, probe_frames=1, quality_weighted=True, unit_length=False)
    with pytest.raises(CalibrationError, match="no listed person could be searched"):
        plan_searches(faces, enrol_photos=2, probe_frames=1, quality_weighted=False, unit_length=False)
    with pytest.raises(CalibrationError, match="at least one photo"):
        plan_searches(faces, enrol_photos=0, probe_frames=1, quality_weighted=False, unit_length=False)
    with pytest.raises(CalibrationError, match=r"true-match rate lies in \(0, 1\]"):
        measure_open_set(_people(60, 2, spread=0.02), sizes=[5], true_match_rates=[1.5])


def test_quality_weights_keep_a_poor_photo_from_pulling_the_template_away() -> None:
    faces = _uneven([4, 1])
    embeddings = faces.embeddings.copy()
    embeddings[2] += 0.3  # the third photo is far off, and scored poor
    qualities = np.array([1.0, 1.0, 0.0, 1.0, 1.0], dtype=np.float32)
    poor = LabelledFaces(embeddings=embeddings, owners=faces.owners, people=faces.people, qualities=qualities)
    weighted, equal = (
        plan_searches(poor, enrol_photos=3, probe_frames=1, quality_weighted=flag, unit_length=False).templates[0]
        for flag in (True, False)
    )
    good = embeddings[:2].mean(axis=0)
    assert np.linalg.norm(weighted - good) < np.linalg.norm(equal - good) / 5


def test_fused_enrolment_alerts_fewer_passers_by_at_the_same_true_match_rate() -> None:
    """Noisy photos: a template fused from three lies nearer its person's centre, so fewer strangers come near."""
    faces = _uneven([6] * 300, spread=0.06)
    rates = [0.6, 0.9]
    single, fused = (
        measure_open_set(
            faces, sizes=[50], enrol_photos=enrol, quality_weighted=False, true_match_rates=rates, draws=3
        ).sizes[0]
        for enrol in (1, 3)
    )
    for one, three, rate in zip(single.at_true_match_rates, fused.at_true_match_rates, rates, strict=True):
        assert one.true_match_rate is not None
        assert three.true_match_rate is not None
        assert one.true_match_rate >= rate
        assert three.true_match_rate >= rate
        assert three.threshold < one.threshold
        assert three.false_alerts_per_10k < one.false_alerts_per_10k


def test_a_true_match_rate_no_threshold_reaches_is_left_out_with_a_warning() -> None:
    """A ring of 20 people, each one's second photo on the next one's first: it is matched to the wrong person
    whenever the next one is listed too (about one time in nine), so no threshold finds 99 % of them."""
    embeddings = np.zeros((40 + 60, 128), dtype=np.float32)
    for person in range(20):
        embeddings[2 * person, person] = 1.0
        embeddings[2 * person + 1, (person + 1) % 20] = 1.0
        embeddings[2 * person + 1, person] = 0.5
    embeddings[40:, 20] = 5.0 + np.arange(60)  # sixty strangers far from everyone
    faces = LabelledFaces(
        embeddings=embeddings,
        owners=np.array([*np.repeat(np.arange(20), 2), *range(20, 80)]),
        people=tuple(f"p{n}" for n in range(80)),
    )
    (size,) = measure_open_set(faces, sizes=[10], true_match_rates=[0.5, 0.99], draws=50).sizes
    (reached,) = size.at_true_match_rates
    assert reached.threshold == pytest.approx(1.25**0.5)  # each found second photo is this far from its own first
    assert reached.true_match_rate is not None
    assert 0.5 <= reached.true_match_rate < 0.99
    assert any("no threshold finds 99%" in warning for warning in size.warnings)


def test_labelled_faces_are_kept_and_refused_when_the_model_or_the_folder_changed(tmp_path: Path) -> None:
    folder = tmp_path / "people"
    for person in ("ann", "bob"):
        (folder / person).mkdir(parents=True)
        (folder / person / "1.jpg").write_bytes(b"not read, only listed")
    faces = _uneven([1, 1])
    cache = tmp_path / "faces.cache"
    save_labelled_faces(faces, cache, model="m:1:0123456789ab", folder=folder)
    kept = load_labelled_faces(cache, model="m:1:0123456789ab", folder=folder)
    assert np.array_equal(kept.embeddings, faces.embeddings)
    assert np.array_equal(kept.owners, faces.owners)
    assert kept.people == faces.people
    assert kept.qualities is not None
    assert faces.qualities is not None
    assert np.array_equal(kept.qualities, faces.qualities)
    with pytest.raises(CalibrationError, match="not of other:1:0123456789ab"):
        load_labelled_faces(cache, model="other:1:0123456789ab", folder=folder)
    (folder / "bob" / "2.jpg").write_bytes(b"a photo added since")
    with pytest.raises(CalibrationError, match="another listing"):
        load_labelled_faces(cache, model="m:1:0123456789ab", folder=folder)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(CalibrationError, match="not an embeddings cache"):
        load_labelled_faces(tmp_path / "junk.npz", model="m:1:0123456789ab", folder=folder)
