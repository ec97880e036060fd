"""Per-unit position throttling, without a server: which positions go out, and when."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from vigil.command.feed.schemas import FEED_MESSAGE, FeedMessage, PositionEntry
from vigil.command.feed.service import FeedKind
from vigil.command.feed.throttle import PositionThrottle
from vigil.command.units.schemas import PositionReported

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _position(seq: int, unit: str = "A-12", at_s: float | None = None) -> PositionEntry:
    payload = PositionReported(
        event_id=uuid.uuid4(),
        unit_id=unit,
        device_id="cam-1",
        at=T0 + timedelta(seconds=seq if at_s is None else at_s),
        lat=51.5,
        lon=-0.12,
        accuracy_m=None,
        heading_deg=None,
        speed_mps=None,
        source="gps",
        is_latest=True,
    )
    return PositionEntry(seq=seq, kind="unit.position", created_at=T0, payload=payload)


@pytest.mark.parametrize(
    ("offers", "sent_now", "due_at_1s"),
    [
        # (seq, unit, time offered, device time) → seqs sent at once, seqs sent when the interval has passed
        ([(1, "A", 0.0, 1), (2, "A", 0.1, 2), (3, "A", 0.2, 3)], [1], [3]),
        ([(1, "A", 0.0, 1), (2, "B", 0.1, 2)], [1, 2], []),
        ([(1, "A", 0.0, 1), (2, "A", 0.5, 5), (3, "A", 0.6, 4)], [1], [2]),  # a late, older report loses
        ([(1, "A", 0.0, 1), (2, "A", 1.0, 2)], [1, 2], []),
    ],
)
def test_one_position_per_unit_per_interval_the_latest_wins(
    offers: list[tuple[int, str, float, int]], sent_now: list[int], due_at_1s: list[int]
) -> None:
    throttle = PositionThrottle(1.0)
    sent = [throttle.offer(_position(seq, unit, at), now=now) for seq, unit, now, at in offers]
    assert [e.seq for e in sent if e is not None] == sent_now
    assert throttle.due(now=0.99) == []
    assert [e.seq for e in throttle.due(now=1.0)] == due_at_1s
    assert throttle.next_due_in(now=1.0) is None


def test_the_next_held_position_is_due_when_its_units_interval_ends() -> None:
    throttle = PositionThrottle(1.0)
    throttle.offer(_position(1, "A"), now=0.0)
    throttle.offer(_position(2, "B"), now=0.5)
    throttle.offer(_position(3, "A"), now=0.6)
    throttle.offer(_position(4, "B"), now=0.7)
    assert throttle.next_due_in(now=0.7) == pytest.approx(0.3)
    assert [e.seq for e in throttle.due(now=1.6)] == [3, 4]


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="got -1"):
        PositionThrottle(-1)


def test_every_feed_kind_has_an_entry_shape() -> None:
    (union, _) = get_args(FeedMessage)
    shapes = {get_args(model.model_fields["kind"].annotation)[0] for model in get_args(union)}
    assert shapes == {kind.value for kind in FeedKind}
    with pytest.raises(ValueError, match="kind"):
        FEED_MESSAGE.validate_python({"seq": 1, "kind": "unknown", "created_at": T0, "payload": {}})
