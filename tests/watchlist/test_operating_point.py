from pathlib import Path

import numpy as np
import pytest

from tests.watchlist.conftest import make_subject
from vigil.watchlist.operating_point import MEASURED, threshold_for_size
from vigil.watchlist.store import WatchlistStore
from vigil.watchlist.subject import Template


def test_the_measured_sizes_give_their_own_thresholds() -> None:
    for point in MEASURED:
        assert threshold_for_size(point.watchlist_size) == point.threshold


def test_a_larger_watchlist_never_gets_a_looser_threshold() -> None:
    sizes = [1, 2, 4, 7, 20, 64, 150, 500, 999, 1000, 2000, 3000, 10_000, 100_000, 10**9]
    thresholds = [threshold_for_size(size) for size in sizes]
    assert thresholds == sorted(thresholds, reverse=True)
    assert threshold_for_size(0) == threshold_for_size(1)  # an empty watchlist searches like a one-person one
    assert threshold_for_size(10**9) == 0.1  # extrapolated, never to nothing
    # Between two measured sizes, on log W: halfway between 100 and 1,000 lies 316.
    middle = threshold_for_size(316)
    assert threshold_for_size(300) > middle > threshold_for_size(1000)


def _template(subject_id: str) -> Template:
    return Template(subject_id, np.zeros(128, dtype=np.float32), b"\xff\xd8\xff", 0.9)


@pytest.mark.parametrize("people", [1, 3, 12])
def test_a_watchlist_left_to_its_size_follows_its_live_subjects(tmp_path: Path, people: int) -> None:
    with WatchlistStore.create(tmp_path / "w.sqlite", name="Op") as store:
        assert store.chosen_threshold is None
        for number in range(people):
            subject_id = f"s{number}"
            store.add(make_subject(subject_id), [_template(subject_id)])
            store.approve(subject_id, approver="sgt.jones")
        assert store.threshold == pytest.approx(threshold_for_size(people))
        store.set_threshold(0.4)
        assert store.threshold == 0.4
        store.set_threshold(None)
        assert store.threshold == pytest.approx(threshold_for_size(people))
