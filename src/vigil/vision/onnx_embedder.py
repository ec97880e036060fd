"""dlib's face network run by ONNX Runtime: the embeddings of the dlib embedder, an order of magnitude faster.

The model file is the one :mod:`vigil.vision.model_cache` converts from dlib's and verifies against it.
:func:`open_onnx_session` is how every ONNX face network in Vigil is loaded, this one and a force's own
(:mod:`vigil.vision.model_slot`).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import (
    EPFail,
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NoSuchFile,
    NotImplemented,
    RuntimeException,
)

from vigil.vision.embedding import Embeddings, validate_chips
from vigil.vision.errors import ModelLoadFailed
from vigil.vision.face_model import DLIB_MODEL, ModelIdentity
from vigil.vision.image import RgbImage
from vigil.vision.onnx_export import INPUT_NAME, OUTPUT_NAME

ONNX_RUNTIME_ERRORS = (
    EPFail,
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NoSuchFile,
    NotImplemented,
    RuntimeException,
)
"""What ONNX Runtime raises when it cannot load, prepare or run a model."""

_PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def open_onnx_session(model_path: Path, *, threads: int, remedy: str) -> ort.InferenceSession:
    """Load an ONNX model into an inference session, on CUDA when ONNX Runtime offers it, else on the CPU.

    Args:
        model_path: the ONNX file.
        threads: CPU threads one batch may use (ONNX Runtime's intra-op threads).
        remedy: what the error message tells a person to do when the file will not load.

    Returns:
        The session.

    Raises:
        ValueError: ``threads`` is below 1.
        ModelLoadFailed: ONNX Runtime cannot read or prepare the file.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    available = set(ort.get_available_providers())
    providers = [provider for provider in _PREFERRED_PROVIDERS if provider in available]
    try:
        return ort.InferenceSession(str(model_path), options, providers=providers)
    except ONNX_RUNTIME_ERRORS as exc:
        raise ModelLoadFailed(f"ONNX Runtime cannot load {model_path}: {exc}; {remedy}", path=model_path) from exc


class OnnxEmbedder:
    """Embeds chips with an ONNX model that takes uint8 chips (n, 150, 150, 3) and returns (n, 128) float32.

    Runs on CUDA when ONNX Runtime offers it (the ``onnxruntime-gpu`` build), else on the CPU.
    """

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        """Load the model into an inference session.

        Args:
            model_path: the ONNX file.
            threads: CPU threads one batch may use (ONNX Runtime's intra-op threads).

        Raises:
            ValueError: ``threads`` is below 1.
            ModelLoadFailed: ONNX Runtime cannot read or prepare the file.
        """
        self._session = open_onnx_session(
            model_path,
            threads=threads,
            remedy="delete the file so that Vigil converts it again (vigil models build --force)",
        )

    @property
    def name(self) -> str:
        """``"onnx"``."""
        return "onnx"

    @property
    def model(self) -> ModelIdentity:
        """The network whose verified conversion this runs: :data:`~vigil.vision.face_model.DLIB_MODEL`."""
        return DLIB_MODEL

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers in use, preferred first (e.g. ``["CPUExecutionProvider"]``)."""
        return list(self._session.get_providers())

    def embed(self, chips: Sequence[RgbImage]) -> Embeddings:
        """Embed a batch of chips; see :meth:`~vigil.vision.embedding.Embedder.embed`.

        Raises:
            ValueError: a chip is not (150, 150, 3) uint8.
        """
        validate_chips(chips)
        if not chips:
            return np.zeros((0, DLIB_MODEL.embedding_size), dtype=np.float32)
        (vectors,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: np.stack(chips)})
        return np.ascontiguousarray(vectors, dtype=np.float32)
