import numpy as np
import pytest
from pydantic import ValidationError

from tests.watchlist.conftest import approved_subject
from vigil.edge.search_policy import Candidate, Decision, SearchPolicy, SearchSettings, TrackSearch
from vigil.vision.quality import FaceQuality, QualityPart
from vigil.watchlist.gallery import Match

THRESHOLD = 0.45


def _face(frame: int, *, score: float = 0.8, eye_gap: float = 30.0, fps: float = 25.0) -> Candidate:
    part = QualityPart(name="face_size", value=eye_gap, unit="px between eyes", score=score, passed=True)
    return Candidate(
        frame_index=frame,
        timestamp_s=frame / fps,
        chip=np.zeros((150, 150, 3), dtype=np.uint8),
        crop=np.zeros((40, 40, 3), dtype=np.uint8),
        quality=FaceQuality(score=score, passed=True, parts=[part]),
        eye_gap_px=eye_gap,
    )


def _match(subject_id: str, distance: float) -> Match:
    return Match(subject=approved_subject(subject_id), distance=distance, template=0)


def _search(policy: SearchPolicy, track: TrackSearch, match: Match | None) -> Decision | None:
    candidate = policy.take(track)
    return policy.record(track, candidate, match, THRESHOLD)


def test_the_best_face_since_the_last_search_is_kept() -> None:
    policy = SearchPolicy(SearchSettings())
    track = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    for face in (_face(0, score=0.3), _face(1, score=0.9, eye_gap=20), _face(2, score=0.9, eye_gap=25), _face(3)):
        policy.offer(track, face)
    assert track.candidate is not None
    assert track.candidate.frame_index == 2  # higher quality first, then the larger face


def test_a_person_in_view_is_searched_at_the_fast_then_the_slow_interval() -> None:
    settings = SearchSettings(search_interval_s=0.2, fast_searches=2, slow_search_interval_s=0.6)
    policy = SearchPolicy(settings)
    track = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    searched_at = []
    for frame in range(50):  # two seconds at 25 fps, the same quality throughout, matching nobody
        policy.offer(track, _face(frame))
        if policy.is_due(track, frame / 25):
            searched_at.append(frame)
            _search(policy, track, None)
    # frame 0, then 0.2 s later, then every 0.6 s once two searches are done.
    assert searched_at == [0, 5, 20, 35]
    assert not track.decided


def test_a_face_better_than_any_searched_is_searched_at_the_fast_rate_again() -> None:
    policy = SearchPolicy(SearchSettings(search_interval_s=0.2, fast_searches=1, slow_search_interval_s=1.0))
    track = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    policy.offer(track, _face(0, score=0.5))
    _search(policy, track, None)
    policy.offer(track, _face(5, score=0.5))
    assert not policy.is_due(track, 5 / 25)  # no better than before: the slow interval applies
    policy.offer(track, _face(6, score=0.9))
    assert policy.is_due(track, 6 / 25)


def test_the_track_searched_least_goes_first() -> None:
    policy = SearchPolicy(SearchSettings())
    busy = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    policy.offer(busy, _face(0))
    _search(policy, busy, None)
    new = TrackSearch(track_id=2, first_seen_frame=10, first_seen_s=0.4)
    for track in (busy, new):
        policy.offer(track, _face(20))
    chosen = policy.next_due([busy, new], 20 / 25)
    assert chosen is new
    assert policy.next_due([], 1.0) is None


@pytest.mark.parametrize(
    ("searches", "decided"),
    [
        ([("a", 0.44, 0.3)], False),  # one face inside the threshold, without the margin: not alone
        ([("a", 0.38, 0.3)], False),  # inside with the margin, but a poor face: not alone
        ([("a", 0.38, 0.6)], True),  # a good face well inside: decides alone
        ([("a", 0.44, 0.3), (None, 0.0, 0.3), ("a", 0.44, 0.2)], True),  # two faces agree
        ([("a", 0.44, 0.3), ("b", 0.44, 0.3)], False),  # two faces, two different subjects
        ([("a", 0.30, 0.1), ("a", 0.30, 0.2)], False),  # two near matches, but both faces poor (0.3 in all)
        ([("a", 0.30, 0.1), ("a", 0.30, 0.2), ("a", 0.44, 0.25)], True),  # a third makes the faces enough
    ],
)
def test_what_decides_a_person(searches: list[tuple[str | None, float, float]], decided: bool) -> None:
    settings = SearchSettings(matches_needed=2, quality_needed=0.5, single_match_quality=0.5, strong_margin=0.05)
    policy = SearchPolicy(settings)
    track = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    decision = None
    for frame, (subject, distance, quality) in enumerate(searches):
        policy.offer(track, _face(frame * 10, score=quality))
        decision = _search(policy, track, _match(subject, distance) if subject else None)
    assert (decision is not None) is decided
    assert track.decided is decided


def test_a_decision_lists_every_matching_face_nearest_first_and_ends_the_searching() -> None:
    policy = SearchPolicy(SearchSettings(matches_needed=2))
    track = TrackSearch(track_id=1, first_seen_frame=0, first_seen_s=0.0)
    policy.offer(track, _face(0, score=0.3))
    _search(policy, track, _match("a", 0.44))
    policy.offer(track, _face(10, score=0.4))
    decision = _search(policy, track, _match("a", 0.41))
    assert decision is not None
    assert [vote.match.distance for vote in decision.votes] == [0.41, 0.44]
    assert decision.searches == 2
    policy.offer(track, _face(20))
    assert track.candidate is None
    assert not policy.is_due(track, 10.0)


def test_the_slow_interval_may_not_be_faster() -> None:
    with pytest.raises(ValidationError, match="must not be shorter"):
        SearchSettings(search_interval_s=0.5, slow_search_interval_s=0.2)
