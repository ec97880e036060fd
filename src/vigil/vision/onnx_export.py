"""Write a dlib face network (:class:`~vigil.vision.dlib_net.DlibNetwork`) as an equivalent ONNX model.

The model takes the chips exactly as Vigil holds them, ``chips``: uint8, shape (n, 150, 150, 3), RGB, and
returns ``embeddings``: float32, shape (n, 128). Inside, it does what dlib does: subtract the per-channel mean,
divide by 256, then run the layers. Two rewrites keep it fast without changing the function: each affine layer
is folded into the convolution before it (``gamma · (W ∗ x + b) + beta`` is a convolution with weights
``gamma · W`` and bias ``gamma · b + beta``), and dlib's sum of differently shaped maps becomes zero padding
followed by an addition. Every shape is known when the model is written, so each padding is fixed then.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vigil.vision.dlib_net import (
    AddPrev,
    Affine,
    AvgPool,
    Conv,
    DlibNetwork,
    FullyConnected,
    Layer,
    MaxPool,
    Relu,
    Skip,
    Tag,
)

CONVERTER_VERSION = 1
"""Bump when the ONNX this module writes changes, so that models converted by an older Vigil are rebuilt."""

INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"
_OPSET = 17
_IR_VERSION = 8  # the IR version that goes with opset 17; older runtimes refuse newer IR versions


@dataclass(frozen=True)
class _Value:
    """A tensor of the graph being written: its name and its (channels, rows, columns) shape."""

    name: str
    shape: tuple[int, int, int]


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, values: np.ndarray) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes: Any) -> str:
        output = self.fresh(stem)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def network_to_onnx(network: DlibNetwork) -> onnx.ModelProto:
    """Translate a dlib face network into an ONNX model that computes the same embeddings.

    Args:
        network: the network read by :func:`~vigil.vision.dlib_net.read_dlib_network`.

    Returns:
        A checked ONNX model (opset 17) with input ``chips`` and output ``embeddings``.

    Raises:
        ValueError: the network's layers do not fit together (a tag used before it is set, a shape mismatch).
    """
    graph = _GraphBuilder()
    size = network.input_size_px
    pixels = graph.node("Cast", [INPUT_NAME], "pixels", to=TensorProto.FLOAT)
    planar = graph.node("Transpose", [pixels], "planar", perm=[0, 3, 1, 2])
    mean = np.asarray(network.input_mean_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
    centred = graph.node("Sub", [planar, graph.constant("input_mean", mean)], "centred")
    # dlib divides by 256 (not 255); a power of two, so multiplying by its inverse is exact.
    scaled = graph.node(
        "Mul", [centred, graph.constant("input_scale", np.asarray(1 / 256, dtype=np.float32))], "scaled"
    )
    current = _Value(scaled, (3, size, size))

    tags: dict[int, _Value] = {}
    layers = network.layers
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if isinstance(layer, Conv) and isinstance(following, Affine):
            current = _conv(graph, current, _fold_affine(layer, following))
            index += 2
            continue
        current = _layer(graph, current, layer, tags)
        index += 1

    graph.nodes[-1].output[0] = OUTPUT_NAME
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", size, size, 3])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", current.shape[0]])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="vigil",
        doc_string="dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1), converted by Vigil.",
    )
    model.ir_version = _IR_VERSION
    helper.set_model_props(model, {"source_sha256": network.sha256, "converter_version": str(CONVERTER_VERSION)})
    onnx.checker.check_model(model)
    return model


def _fold_affine(conv: Conv, affine: Affine) -> Conv:
    gamma = affine.gamma.astype(np.float64)
    filters = conv.filters.astype(np.float64) * gamma[:, None, None, None]
    biases = conv.biases.astype(np.float64) * gamma + affine.beta.astype(np.float64)
    return Conv(
        filters=filters.astype(np.float32), biases=biases.astype(np.float32), stride=conv.stride, padding=conv.padding
    )


def _layer(graph: _GraphBuilder, current: _Value, layer: Layer, tags: dict[int, _Value]) -> _Value:
    channels, rows, columns = current.shape
    match layer:
        case Conv():
            return _conv(graph, current, layer)
        case Affine():
            scale = graph.constant("gamma", layer.gamma.reshape(1, -1, 1, 1))
            shift = graph.constant("beta", layer.beta.reshape(1, -1, 1, 1))
            scaled = graph.node("Mul", [current.name, scale], "affine_scaled")
            return _Value(graph.node("Add", [scaled, shift], "affine"), current.shape)
        case Relu():
            return _Value(graph.node("Relu", [current.name], "relu"), current.shape)
        case MaxPool() | AvgPool() if layer.size == 0:
            op = "GlobalMaxPool" if isinstance(layer, MaxPool) else "GlobalAveragePool"
            return _Value(graph.node(op, [current.name], "global_pool"), (channels, 1, 1))
        case MaxPool() | AvgPool():
            op = "MaxPool" if isinstance(layer, MaxPool) else "AveragePool"
            name = graph.node(
                op, [current.name], "pool", kernel_shape=[layer.size] * 2, strides=[layer.stride] * 2, pads=[0] * 4
            )
            return _Value(
                name, (channels, (rows - layer.size) // layer.stride + 1, (columns - layer.size) // layer.stride + 1)
            )
        case Tag():
            tags[layer.id] = current
            return current
        case Skip():
            return _tagged(tags, layer.tag)
        case AddPrev():
            return _add_padded(graph, current, _tagged(tags, layer.tag))
        case FullyConnected():
            inputs = channels * rows * columns
            if layer.weights.shape[0] != inputs:
                raise ValueError(f"the fully connected layer takes {layer.weights.shape[0]} inputs, gets {inputs}")
            flat = graph.node("Flatten", [current.name], "flat", axis=1)
            product = graph.node("MatMul", [flat, graph.constant("fc_weights", layer.weights)], "fc")
            return _Value(product, (layer.weights.shape[1], 1, 1))


def _conv(graph: _GraphBuilder, current: _Value, conv: Conv) -> _Value:
    out_channels, in_channels, size, _ = conv.filters.shape
    channels, rows, columns = current.shape
    if in_channels != channels:
        raise ValueError(f"a convolution expects {in_channels} channels, gets {channels}")
    name = graph.node(
        "Conv",
        [current.name, graph.constant("filters", conv.filters), graph.constant("biases", conv.biases)],
        "conv",
        kernel_shape=[size, size],
        strides=[conv.stride] * 2,
        pads=[conv.padding] * 4,
    )
    rows = (rows + 2 * conv.padding - size) // conv.stride + 1
    columns = (columns + 2 * conv.padding - size) // conv.stride + 1
    return _Value(name, (out_channels, rows, columns))


def _tagged(tags: dict[int, _Value], tag: int) -> _Value:
    if tag not in tags:
        raise ValueError(f"tag {tag} is used before any layer is tagged with it")
    return tags[tag]


def _add_padded(graph: _GraphBuilder, first: _Value, second: _Value) -> _Value:
    shape = tuple(max(a, b) for a, b in zip(first.shape, second.shape, strict=True))
    padded = [_pad_to(graph, value, (shape[0], shape[1], shape[2])) for value in (first, second)]
    return _Value(graph.node("Add", padded, "add"), (shape[0], shape[1], shape[2]))


def _pad_to(graph: _GraphBuilder, value: _Value, shape: tuple[int, int, int]) -> str:
    if value.shape == shape:
        return value.name
    # Zeros after the existing values (more channels, rows at the bottom, columns at the right): dlib's tt::add
    # treats a smaller operand's missing elements as zero.
    extra = [target - have for target, have in zip(shape, value.shape, strict=True)]
    pads = np.asarray([0, 0, 0, 0, 0, *extra], dtype=np.int64)
    return graph.node("Pad", [value.name, graph.constant("pads", pads)], "pad", mode="constant")
