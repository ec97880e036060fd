"""Reading dlib's face network from its .dat file, and refusing damaged copies of it."""

import hashlib
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vigil.vision.dlib_format import DlibReader
from vigil.vision.dlib_net import Conv, DlibNetwork, FullyConnected, read_dlib_network
from vigil.vision.errors import ModelChecksumMismatch, ModelFormatError, ModelTruncated
from vigil.vision.models import DLIB_FACE_RECOGNITION, locate_model

# The first value of the first convolution's filters: after the loss layer, 128 layer versions, the input layer,
# "con_4" and the tensor's header. test_first_weight_offset checks it against what the reader returns.
FIRST_WEIGHT_OFFSET = 352


@pytest.fixture(scope="module")
def installed() -> Path:
    return locate_model(DLIB_FACE_RECOGNITION)


@pytest.fixture(scope="module")
def network(installed: Path) -> DlibNetwork:
    return read_dlib_network(installed, expected_sha256=DLIB_FACE_RECOGNITION.sha256)


def test_the_installed_model_is_dlibs_resnet(network: DlibNetwork) -> None:
    assert network.input_size_px == 150
    assert network.input_mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert network.sha256 == DLIB_FACE_RECOGNITION.sha256
    kinds = Counter(type(layer).__name__ for layer in network.layers)
    assert kinds == {
        "Conv": 29,
        "Affine": 29,
        "Relu": 29,
        "Tag": 18,
        "AddPrev": 14,
        "AvgPool": 5,
        "Skip": 4,
        "MaxPool": 1,
        "FullyConnected": 1,
    }
    convs = [layer for layer in network.layers if isinstance(layer, Conv)]
    assert (convs[0].filters.shape, convs[0].stride, convs[0].padding) == ((32, 3, 7, 7), 2, 0)
    assert [c.filters.shape[0] for c in convs[1:]] == [32] * 6 + [64] * 8 + [128] * 6 + [256] * 6 + [256] * 2
    fc = network.layers[-1]
    assert isinstance(fc, FullyConnected)
    assert fc.weights.shape == (256, 128)
    parameters = sum(c.filters.size + c.biases.size for c in convs) + fc.weights.size
    assert parameters == 5_607_488  # 4,736 + 55,488 + 276,992 + 811,776 + 3,245,568 + 1,180,160 + 32,768


def test_first_weight_offset(installed: Path, network: DlibNetwork) -> None:
    first = network.layers[0]
    assert isinstance(first, Conv)
    raw = installed.read_bytes()[FIRST_WEIGHT_OFFSET : FIRST_WEIGHT_OFFSET + 4]
    assert struct.unpack("<f", raw)[0] == first.filters.flat[0]


def _truncate(keep: int) -> Callable[[bytes], bytes]:
    return lambda data: data[:keep]


def _flip(offset: int, mask: int) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[offset] ^= mask
        return bytes(changed)

    return damage


def _replace(offset: int, new: bytes) -> Callable[[bytes], bytes]:
    return lambda data: data[:offset] + new + data[offset + len(new) :]


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (_truncate(0), ModelTruncated, r"byte 0: the file ends while reading the format version of the loss layer"),
        (_truncate(200), ModelTruncated, "byte 200: the file ends while reading the format version of layer"),
        (_truncate(FIRST_WEIGHT_OFFSET + 1000), ModelTruncated, "the values of the parameters of layer 0"),
        (_truncate(-1), ModelTruncated, "the file ends while reading"),
        (_flip(FIRST_WEIGHT_OFFSET, 0xFF), ModelChecksumMismatch, "damaged or was replaced"),  # a low mantissa byte
        (_flip(FIRST_WEIGHT_OFFSET + 3, 0xFF), ModelChecksumMismatch, "damaged or was replaced"),  # sign, exponent
        (_flip(11_000_000, 0x01), ModelChecksumMismatch, "damaged or was replaced"),  # one bit, mid-file
        (
            _replace(FIRST_WEIGHT_OFFSET, struct.pack("<f", float("nan"))),
            ModelFormatError,
            "byte 341: the parameters of layer 0 are not all",
        ),
        (_replace(0x150, b"con_5"), ModelFormatError, "expected layer 0 'con_4', found 'con_5'"),
        (_replace(0x151, b"\xff"), ModelFormatError, "layer 0 is not ASCII text"),
        (_replace(0x10, b"3"), ModelFormatError, "expected the loss layer 'loss_metric_2', found 'loss_metric_3'"),
        (_replace(0x1D, b"\x01\x07"), ModelFormatError, "layer 129 has format version 7; dlib writes 1 or 2"),
        (_replace(0x1D, b"\x71"), ModelFormatError, "byte 0x71 cannot start the format version of layer 129"),
        (lambda data: data + b"\x00", ModelFormatError, "1 bytes follow the end of the network"),
    ],
)
def test_a_damaged_copy_is_refused_with_what_is_wrong(
    installed: Path, tmp_path: Path, damage: Callable[[bytes], bytes], error: type[Exception], message: str
) -> None:
    copy = tmp_path / installed.name
    copy.write_bytes(damage(installed.read_bytes()))
    with pytest.raises(error, match=message) as caught:
        read_dlib_network(copy, expected_sha256=DLIB_FACE_RECOGNITION.sha256)
    assert str(copy) in str(caught.value)
    assert issubclass(error, ModelTruncated) == isinstance(caught.value, ModelTruncated)


def test_a_changed_file_reads_when_its_own_digest_is_expected(
    installed: Path, tmp_path: Path, network: DlibNetwork
) -> None:
    copy = tmp_path / installed.name
    copy.write_bytes(_flip(FIRST_WEIGHT_OFFSET, 0xFF)(installed.read_bytes()))
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    changed = read_dlib_network(copy, expected_sha256=digest)
    assert changed.sha256 == digest
    first, original = changed.layers[0], network.layers[0]
    assert isinstance(first, Conv)
    assert isinstance(original, Conv)
    assert first.filters.flat[0] != original.filters.flat[0]
    np.testing.assert_array_equal(first.filters.flat[1:], original.filters.flat[1:])


@pytest.mark.parametrize(
    ("data", "read", "expected"),
    [
        (b"\x01\x00", lambda r: r.read_int("x"), 0),
        (b"\x01\x96", lambda r: r.read_int("x"), 150),
        (b"\x81\x1c", lambda r: r.read_int("x"), -28),
        (b"\x02\x80\x12", lambda r: r.read_int("x"), 4736),
        (b"\x03\x0a\xd7\xa3\x81\x1c", lambda r: r.read_float("x"), pytest.approx(0.04)),
        (b"\x01\x00\x02\x00\x7d", lambda r: r.read_float("x"), float("inf")),
        (b"1", lambda r: r.read_bool("x"), True),
        (b"\x01\x05relu_", lambda r: r.read_string("x"), "relu_"),
    ],
)
def test_dlib_values(data: bytes, read: Callable[[DlibReader], object], expected: object) -> None:
    reader = DlibReader(data, path=Path("x.dat"))
    assert read(reader) == expected
    assert reader.remaining == 0


def test_a_tensor_is_read_with_its_shape() -> None:
    values = np.arange(6, dtype="<f4")
    data = b"\x01\x02" + b"\x01\x01\x01\x03\x01\x01\x01\x02" + values.tobytes()
    tensor = DlibReader(data, path=Path("x.dat")).read_tensor("t")
    assert tensor.shape == (1, 3, 1, 2)
    np.testing.assert_array_equal(tensor.ravel(), values)


@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        (b"\x81\x01", lambda r: r.read_int("a count", signed=False), "byte 0x81 cannot start a count"),
        (b"\x09" + bytes(9), lambda r: r.read_int("x"), "at most 8 bytes"),
        (b"2", lambda r: r.read_bool("a flag"), "byte 0x32 is not a bool"),
        (b"\x01\x03" + bytes(8), lambda r: r.read_tensor("t"), "expected the format version of t 2, found 3"),
    ],
)
def test_impossible_values_are_format_errors(data: bytes, read: Callable[[DlibReader], object], message: str) -> None:
    with pytest.raises(ModelFormatError, match=message) as caught:
        read(DlibReader(data, path=Path("x.dat")))
    assert caught.value.offset == 0
