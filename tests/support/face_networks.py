"""Face networks of other shapes than dlib's, for the model slot's tests, built from dlib's converted network.

No ArcFace-style network ships with Vigil's dependencies, and none may be downloaded, so the tests make one that
is shaped like one: it takes ArcFace's input (N, 3, 112, 112) float32, BGR, normalised as ``(x − 127.5) / 127.5``,
undoes the normalisation, puts the channels back in RGB order, crops the part of the ArcFace chip that dlib's chip
shows and resizes it to 150 px (one Resize op), runs dlib's network, and maps its 128 numbers to 64 with a linear
layer: subtract dlib's mean embedding (of drawn faces), then a fixed random orthonormal projection. Its embeddings
are compared by cosine: a face network of another input, size, layout, element type, width and metric, that still
tells people apart.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vigil.vision.face_model import Alignment, Metric
from vigil.vision.onnx_embedder import OnnxEmbedder
from vigil.vision.onnx_export import INPUT_NAME, OUTPUT_NAME
from vigil.vision.synthetic_faces import synthetic_face_chips

ARCFACE_LIKE_SIZE = 64
"""Numbers per embedding of the ArcFace-shaped network."""

ARCFACE_LIKE_THRESHOLD = 0.6
"""Its cosine similarity threshold, measured on the check photos: the demo's (Obama ×3, Biden) give same-person
pairs at 0.76 or above and different people's at 0.40 or below; ``identities/train`` (five people) 0.78 and 0.46."""

_FACES = "faces"

# Where dlib's 150 px chip lies in ArcFace's 112 px one: the similarity that takes the mean five points of the
# test photos' dlib chips onto ArcFace's template is a scale of 0.6627 and a shift of (7.416, 22.068) (its
# rotation, 0.004 rad, is left out). What lies below the ArcFace chip comes out black.
_DLIB_IN_ARCFACE = (7.416, 22.068, 0.6627)


def arcface_like_network(dlib_onnx: Path, out: Path, *, batch: int | None = None, seed: int = 24) -> Path:
    """Write the ArcFace-shaped network.

    Args:
        dlib_onnx: dlib's converted network (input ``chips`` uint8 (n, 150, 150, 3), output (n, 128)).
        out: the ONNX file to write.
        batch: a fixed batch size for the input and output; None: dynamic.
        seed: seeds the projection.

    Returns:
        ``out``.
    """
    dlib = onnx.load(dlib_onnx)
    rng = np.random.default_rng(seed)
    projection, _ = np.linalg.qr(rng.normal(size=(128, 128)))
    mean_embedding = OnnxEmbedder(dlib_onnx).embed(synthetic_face_chips(32)).mean(axis=0)
    left, top, scale = _DLIB_IN_ARCFACE
    last = 111.0  # Resize's crop box is in units of (side − 1)
    right, bottom = left + 149 * scale, top + 149 * scale
    crop = [0.0, 0.0, top / last, left / last, 1.0, 1.0, bottom / last, right / last]
    constants = [
        numpy_helper.from_array(np.asarray(127.5, dtype=np.float32), "half_range"),
        numpy_helper.from_array(np.asarray([2, 1, 0], dtype=np.int64), "bgr_to_rgb"),
        numpy_helper.from_array(np.asarray([150, 150], dtype=np.int64), "dlib_side"),
        numpy_helper.from_array(np.asarray(crop, dtype=np.float32), "dlib_crop"),
        numpy_helper.from_array(mean_embedding.astype(np.float32), "mean_embedding"),
        numpy_helper.from_array(projection[:, :ARCFACE_LIKE_SIZE].astype(np.float32), "projection"),
    ]
    front = [
        helper.make_node("Mul", [_FACES, "half_range"], ["scaled"]),
        helper.make_node("Add", ["scaled", "half_range"], ["bgr_pixels"]),
        helper.make_node("Gather", ["bgr_pixels", "bgr_to_rgb"], ["rgb_pixels"], axis=1),
        helper.make_node("Shape", ["rgb_pixels"], ["batch_and_channels"], start=0, end=2),
        helper.make_node("Concat", ["batch_and_channels", "dlib_side"], ["resized_shape"], axis=0),
        helper.make_node(
            "Resize",
            ["rgb_pixels", "dlib_crop", "", "resized_shape"],
            ["resized"],
            mode="linear",
            coordinate_transformation_mode="tf_crop_and_resize",
            extrapolation_value=0.0,
        ),
        helper.make_node("Transpose", ["resized"], ["dlib_chips"], perm=[0, 2, 3, 1]),
    ]
    body = []
    for node in dlib.graph.node:
        node.input[:] = ["dlib_chips" if name == INPUT_NAME else name for name in node.input]
        node.output[:] = ["dlib_embeddings" if name == OUTPUT_NAME else name for name in node.output]
        body.append(node)
    back = [
        helper.make_node("Sub", ["dlib_embeddings", "mean_embedding"], ["centred_embeddings"]),
        helper.make_node("MatMul", ["centred_embeddings", "projection"], [OUTPUT_NAME]),
    ]
    rows: int | str = "n" if batch is None else batch
    model = helper.make_model(
        helper.make_graph(
            [*front, *body, *back],
            "arcface_like",
            [helper.make_tensor_value_info(_FACES, TensorProto.FLOAT, [rows, 3, 112, 112])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [rows, ARCFACE_LIKE_SIZE])],
            [*constants, *dlib.graph.initializer],
        ),
        opset_imports=list(dlib.opset_import),
        producer_name="vigil-tests",
    )
    model.ir_version = dlib.ir_version
    onnx.checker.check_model(model)
    onnx.save(model, out)
    return out


def arcface_like_manifest(network: Path, **changes: object) -> Path:
    """Write ``manifest.json`` beside the ArcFace-shaped network, describing it (``changes`` override fields).

    Returns:
        The manifest's path.
    """
    fields: dict[str, object] = {
        "name": "arcface-like-test",
        "version": "1",
        "licence": "CC0 1.0 (dlib-models, Davis King); reshaped by Vigil's tests",
        "file": network.name,
        "sha256": hashlib.sha256(network.read_bytes()).hexdigest(),
        "alignment": Alignment.ARCFACE_112.value,
        "input_size_px": 112,
        "colour_order": "bgr",
        "layout": "nchw",
        "input_dtype": "float32",
        "mean": [127.5, 127.5, 127.5],
        "std": [127.5, 127.5, 127.5],
        "embedding_size": ARCFACE_LIKE_SIZE,
        "metric": Metric.COSINE.value,
        "threshold": ARCFACE_LIKE_THRESHOLD,
    }
    fields.update(changes)
    return write_manifest(network.parent / "manifest.json", fields)


def write_manifest(path: Path, fields: dict[str, object]) -> Path:
    """Write manifest fields as JSON, unvalidated (a test may want a wrong one)."""
    path.write_text(json.dumps(fields, indent=2), encoding="utf-8")
    return path


def link_demo_photos(testdata: Path, folder: Path) -> Path:
    """Lay out the demo's check photos (Obama three times, Biden once) in ``folder``, as links into the test data.

    Returns:
        ``folder``, with a sub-folder per person.
    """
    for person, names in {"obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"], "biden": ["biden.jpg"]}.items():
        (folder / person).mkdir(parents=True)
        for name in names:
            (folder / person / name).symlink_to(testdata / "faces" / name)
    return folder
