import numpy as np
import pytest

from vigil.edge.frame_buffer import FrameBuffer
from vigil.edge.video import Frame


def _frame(index: int) -> Frame:
    return Frame(index=index, timestamp_s=index / 30, image=np.zeros((4, 4, 3), dtype=np.uint8))


def test_when_behind_the_oldest_frames_are_dropped_and_counted() -> None:
    buffer = FrameBuffer(capacity=2)
    for index in range(5):
        buffer.put(_frame(index))
    buffer.close()
    taken = []
    while (frame := buffer.get()) is not None:
        taken.append(frame.index)
    assert taken == [3, 4]
    assert buffer.dropped == 3


def test_get_times_out_when_empty() -> None:
    assert FrameBuffer().get(timeout_s=0.01) is None


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FrameBuffer(capacity=0)
