"""dlib's face recognition ResNet: its architecture, and a reader of its trained weights from the ``.dat`` file.

The architecture is the one in dlib's ``examples/dnn_face_recognition_ex.cpp`` (``anet_type``): a 7×7
convolution, max pooling, four levels of residual blocks (32, 64, 128 and 256 filters, each level but the first
starting with a down-sampling block), average pooling over the whole map and a 256→128 fully connected layer.
Training used batch normalisation; the published model has it replaced by per-channel affine layers.

dlib stores a network the way its C++ type nests: each layer wraps the network below it, and writes its format
version, then the network below, then its own parameters. The file therefore holds every layer's version from
the top down, then the input layer, then each layer's parameters from the bottom up. The file says nothing of
the types, so it is read against :data:`FACE_RECOGNITION_ARCHITECTURE`, as dlib reads it against ``anet_type``;
anything unexpected is an error rather than a guess.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.dlib_format import DlibReader
from vigil.vision.errors import ModelChecksumMismatch, ModelFormatError

FloatArray = npt.NDArray[np.float32]

_CONV_MODE = 0  # dlib's layer_mode CONV_MODE: one affine (gamma, beta) pair per channel
_FC_NO_BIAS = 1  # dlib's fc_bias_mode FC_NO_BIAS


@dataclass(frozen=True)
class ConvSpec:
    """A convolution as the architecture declares it (``con<filters, size, size, stride, stride>``)."""

    filters: int
    size: int
    stride: int

    @property
    def padding(self) -> int:
        """Padding on each side, dlib's default: half the filter size at stride 1 (keeping the map's size), else 0."""
        return self.size // 2 if self.stride == 1 else 0


@dataclass(frozen=True)
class AffineSpec:
    """Per-channel ``gamma · x + beta``, the frozen form of batch normalisation."""


@dataclass(frozen=True)
class FullyConnectedSpec:
    """A fully connected layer without bias (``fc_no_bias<outputs>``)."""

    outputs: int


@dataclass(frozen=True)
class Relu:
    """``max(x, 0)``."""


@dataclass(frozen=True)
class MaxPool:
    """Max pooling over ``size``×``size`` windows, no padding."""

    size: int
    stride: int


@dataclass(frozen=True)
class AvgPool:
    """Average pooling over ``size``×``size`` windows, no padding; ``size`` 0 averages the whole map."""

    size: int
    stride: int


@dataclass(frozen=True)
class Tag:
    """Names the output below it (``tag<id>``) for a later :class:`Skip` or :class:`AddPrev`."""

    id: int


@dataclass(frozen=True)
class Skip:
    """Continues from the most recent output tagged ``tag`` (``skip<tag>``)."""

    tag: int


@dataclass(frozen=True)
class AddPrev:
    """Adds the most recent output tagged ``tag`` (``add_prev<tag>``).

    When the two differ in shape, the sum takes the larger size in each dimension and the smaller operand counts
    as zero where it has no value (dlib's ``tt::add``): a down-sampling block adds fewer input channels than it
    outputs, and a 3×3 map to a 4×4 one.
    """

    tag: int


@dataclass(frozen=True, eq=False)
class Conv:
    """A trained convolution: ``filters`` shape (out, in, size, size), ``biases`` shape (out,)."""

    filters: FloatArray
    biases: FloatArray
    stride: int
    padding: int


@dataclass(frozen=True, eq=False)
class Affine:
    """Trained per-channel scale and shift, each shape (channels,)."""

    gamma: FloatArray
    beta: FloatArray


@dataclass(frozen=True, eq=False)
class FullyConnected:
    """A trained fully connected layer: ``weights`` shape (inputs, outputs); output = input @ weights."""

    weights: FloatArray


LayerSpec = ConvSpec | AffineSpec | FullyConnectedSpec | Relu | MaxPool | AvgPool | Tag | Skip | AddPrev
"""One layer of an architecture, before its parameters are read."""

Layer = Conv | Affine | FullyConnected | Relu | MaxPool | AvgPool | Tag | Skip | AddPrev
"""One layer of a trained network."""


def _block(filters: int, stride: int) -> list[LayerSpec]:
    # block<N, affine, stride> = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,stride,stride, SUBNET>>>>>
    return [ConvSpec(filters, 3, stride), AffineSpec(), Relu(), ConvSpec(filters, 3, 1), AffineSpec()]


def _residual(filters: int) -> list[LayerSpec]:
    # ares<N> = relu<add_prev1<block<N, 1, tag1<SUBNET>>>>
    return [Tag(1), *_block(filters, 1), AddPrev(1), Relu()]


def _residual_down(filters: int) -> list[LayerSpec]:
    # ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N, 2, tag1<SUBNET>>>>>>>
    return [Tag(1), *_block(filters, 2), Tag(2), Skip(1), AvgPool(2, 2), AddPrev(2), Relu()]


FACE_RECOGNITION_ARCHITECTURE: tuple[LayerSpec, ...] = (
    ConvSpec(32, 7, 2),
    AffineSpec(),
    Relu(),
    MaxPool(3, 2),
    *[layer for _ in range(3) for layer in _residual(32)],
    *_residual_down(64),
    *[layer for _ in range(3) for layer in _residual(64)],
    *_residual_down(128),
    *[layer for _ in range(2) for layer in _residual(128)],
    *_residual_down(256),
    *[layer for _ in range(2) for layer in _residual(256)],
    *_residual_down(256),
    AvgPool(0, 1),
    FullyConnectedSpec(128),
)
"""``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``, in forward order (input first)."""


@dataclass(frozen=True, eq=False)
class DlibNetwork:
    """A trained dlib network, read from its file.

    Attributes:
        input_size_px: the side of the square RGB input, pixels.
        input_mean_rgb: subtracted from each channel's 0–255 value before the input is divided by 256.
        layers: every layer in forward order, the input's first.
        sha256: the hex digest of the file the network was read from.
    """

    input_size_px: int
    input_mean_rgb: tuple[float, float, float]
    layers: tuple[Layer, ...]
    sha256: str


def read_dlib_network(
    path: Path, *, expected_sha256: str, architecture: Sequence[LayerSpec] = FACE_RECOGNITION_ARCHITECTURE
) -> DlibNetwork:
    """Read a trained network from a dlib ``.dat`` file.

    The file is parsed first, so that a damaged file is reported by what is wrong with it (cut short, an
    unexpected layer), and its sha256 is checked last, on the very bytes that were parsed: a flipped bit inside
    the weights leaves the structure intact and only the digest can tell.

    Args:
        path: the ``.dat`` file.
        expected_sha256: the hex digest of the exact file expected.
        architecture: the layers the file must hold, in forward order.

    Returns:
        The network with its parameters.

    Raises:
        ModelTruncated: the file ends before the network is complete.
        ModelFormatError: the file holds a different network, an unknown format version, or non-finite weights.
        ModelChecksumMismatch: the file parses but is not the expected one.
        OSError: the file cannot be read.
    """
    data = path.read_bytes()
    reader = DlibReader(data, path=path)
    mean_rgb, size_px, layers = _read_loss_network(reader, architecture)
    if reader.remaining:
        raise reader.fail(f"{reader.remaining:,} bytes follow the end of the network")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelChecksumMismatch(
            f"{path} has sha256 {actual}, expected {expected_sha256}; the file is damaged or was replaced: "
            "reinstall the package that ships it",
            path=path,
        )
    return DlibNetwork(input_size_px=size_px, input_mean_rgb=mean_rgb, layers=tuple(layers), sha256=actual)


def _read_loss_network(
    reader: DlibReader, architecture: Sequence[LayerSpec]
) -> tuple[tuple[float, float, float], int, list[Layer]]:
    # add_loss_layer: version, then loss_metric_ (its name and two training constants), then the network.
    reader.expect_int(1, "the format version of the loss layer", max_bytes=4)
    reader.expect_string("loss_metric_2", "the loss layer")
    reader.read_float("the loss margin")
    reader.read_float("the loss distance threshold")

    # Top-down: each wrapper's version. A plain layer's version decides whether it stored a parameter gradient.
    versions: list[int] = []
    for index in range(len(architecture) - 1, 0, -1):
        versions.append(_read_wrapper_version(reader, architecture[index], index))
    versions.reverse()

    # The bottom layer wraps the input layer itself and is stored in one piece.
    first = architecture[0]
    bottom_version = reader.read_int("the format version of layer 0", max_bytes=4)
    if bottom_version not in (2, 3):
        raise reader.fail(f"layer 0 has format version {bottom_version}; dlib writes 2 or 3")
    mean_rgb, size_px = _read_input(reader)
    layers = [_read_details(reader, first, 0)]
    _read_state(reader, "layer 0", tensors=3)
    if bottom_version == 3:
        reader.read_int("the sample expansion factor of layer 0", signed=False)

    # Bottom-up: each plain layer's parameters and cached state; tags and skips store nothing more.
    for index, (spec, version) in enumerate(zip(architecture[1:], versions, strict=True), start=1):
        if isinstance(spec, Tag | Skip):
            layers.append(spec)
            continue
        layers.append(_read_details(reader, spec, index))
        _read_state(reader, f"layer {index}", tensors=3 if version == 2 else 2)
    return mean_rgb, size_px, layers


def _read_wrapper_version(reader: DlibReader, spec: LayerSpec, index: int) -> int:
    if isinstance(spec, Tag | Skip):
        reader.expect_int(1, f"the format version of layer {index} ({type(spec).__name__.lower()})", max_bytes=4)
        return 1
    version = reader.read_int(f"the format version of layer {index}", max_bytes=4)
    if version not in (1, 2):
        raise reader.fail(f"layer {index} has format version {version}; dlib writes 1 or 2")
    return version


def _read_input(reader: DlibReader) -> tuple[tuple[float, float, float], int]:
    reader.expect_string("input_rgb_image_sized", "the input layer")
    mean_rgb = (
        reader.read_float("the input's mean red"),
        reader.read_float("the input's mean green"),
        reader.read_float("the input's mean blue"),
    )
    rows = reader.read_int("the input's rows", signed=False)
    columns = reader.read_int("the input's columns", signed=False)
    if rows != columns:
        raise reader.fail(f"the input is {rows}×{columns}; the face network takes square chips")
    return mean_rgb, rows


def _read_state(reader: DlibReader, where: str, *, tensors: int) -> None:
    # add_layer's bookkeeping after the parameters: three flags, then cached tensors (empty in a saved model).
    for flag in ("setup", "gradient staleness", "output-getter"):
        reader.read_bool(f"the {flag} flag of {where}")
    for _ in range(tensors):
        reader.read_tensor(f"a cached tensor of {where}")


def _read_details(reader: DlibReader, spec: LayerSpec, index: int) -> Layer:
    where = f"layer {index}"
    match spec:
        case ConvSpec():
            return _read_conv(reader, spec, where)
        case AffineSpec():
            return _read_affine(reader, where)
        case FullyConnectedSpec():
            return _read_fully_connected(reader, spec, where)
        case Relu():
            reader.expect_string("relu_", where)
        case MaxPool() | AvgPool():
            _read_pool(reader, spec, where)
        case AddPrev():
            reader.expect_string("add_prev_", where)
        case Tag() | Skip():
            raise reader.fail(f"{where}: a {type(spec).__name__.lower()} cannot wrap the input layer")
    return spec


def _read_parameters(reader: DlibReader, where: str) -> FloatArray:
    start = reader.offset
    params = reader.read_tensor(f"the parameters of {where}").ravel()
    if not np.isfinite(params).all():
        raise ModelFormatError(f"the parameters of {where} are not all finite numbers", path=reader.path, offset=start)
    return params


def _read_conv(reader: DlibReader, spec: ConvSpec, where: str) -> Conv:
    reader.expect_string("con_4", where)
    params = _read_parameters(reader, where)
    for value, name in (
        (spec.filters, "filter count"),
        (spec.size, "filter rows"),
        (spec.size, "filter columns"),
        (spec.stride, "vertical stride"),
        (spec.stride, "horizontal stride"),
        (spec.padding, "vertical padding"),
        (spec.padding, "horizontal padding"),
    ):
        reader.expect_int(value, f"the {name} of {where}")
    filters_shape = reader.read_alias_tensor(f"the filters of {where}")
    biases_shape = reader.read_alias_tensor(f"the biases of {where}")
    out_channels, in_channels, rows, columns = filters_shape
    if (out_channels, rows, columns) != (spec.filters, spec.size, spec.size) or biases_shape != (1, spec.filters, 1, 1):
        raise reader.fail(f"{where} has filters {filters_shape} and biases {biases_shape}, not {spec}")
    filter_count = out_channels * in_channels * rows * columns
    if params.size != filter_count + spec.filters:
        raise reader.fail(f"{where} holds {params.size:,} parameters; its shapes need {filter_count + spec.filters:,}")
    for name in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        reader.read_float(f"the {name} multiplier of {where}")
    return Conv(
        filters=params[:filter_count].reshape(filters_shape),
        biases=params[filter_count:],
        stride=spec.stride,
        padding=spec.padding,
    )


def _read_affine(reader: DlibReader, where: str) -> Affine:
    reader.expect_string("affine_", where)
    params = _read_parameters(reader, where)
    gamma_shape = reader.read_alias_tensor(f"the scale of {where}")
    beta_shape = reader.read_alias_tensor(f"the shift of {where}")
    reader.expect_int(_CONV_MODE, f"the mode of {where} (per channel)", max_bytes=4)
    channels = gamma_shape[1]
    if gamma_shape != (1, channels, 1, 1) or beta_shape != gamma_shape or params.size != 2 * channels:
        raise reader.fail(f"{where} has scale {gamma_shape}, shift {beta_shape} and {params.size:,} parameters")
    return Affine(gamma=params[:channels], beta=params[channels:])


def _read_fully_connected(reader: DlibReader, spec: FullyConnectedSpec, where: str) -> FullyConnected:
    reader.expect_string("fc_2", where)
    reader.expect_int(spec.outputs, f"the output count of {where}")
    inputs = reader.read_int(f"the input count of {where}", signed=False)
    params = _read_parameters(reader, where)
    weights_shape = reader.read_alias_tensor(f"the weights of {where}")
    reader.read_alias_tensor(f"the (unused) biases of {where}")
    reader.expect_int(_FC_NO_BIAS, f"the bias mode of {where} (no bias)", max_bytes=4)
    for name in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        reader.read_float(f"the {name} multiplier of {where}")
    if weights_shape != (inputs, spec.outputs, 1, 1) or params.size != inputs * spec.outputs:
        raise reader.fail(f"{where} has weights {weights_shape} and {params.size:,} parameters for {inputs} inputs")
    return FullyConnected(weights=params.reshape(inputs, spec.outputs))


def _read_pool(reader: DlibReader, spec: MaxPool | AvgPool, where: str) -> None:
    reader.expect_string("max_pool_2" if isinstance(spec, MaxPool) else "avg_pool_2", where)
    for value, name in (
        (spec.size, "window rows"),
        (spec.size, "window columns"),
        (spec.stride, "vertical stride"),
        (spec.stride, "horizontal stride"),
        (0, "vertical padding"),
        (0, "horizontal padding"),
    ):
        reader.expect_int(value, f"the {name} of {where}")
