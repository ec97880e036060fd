"""The model slot: a face network a force brings, as an ONNX file and a manifest beside it, run as an embedder.

:func:`load_face_model` reads the manifest (:class:`~vigil.vision.face_model.FaceModelManifest`), checks the ONNX
file's sha256 against it, loads it with ONNX Runtime, holds the graph's input and output against what the manifest
says (layout, size, channels, element type, embedding width), and then asks it known questions
(:mod:`vigil.vision.model_check`: known people's photos, every pair on the right side of the threshold), or refuses
it with the reason. A wrong threshold, mean or scale is caught there; a swapped colour order was not, on the demo's
four photos, so a force checks on photos of its own (``--check-photos``) as well.

:class:`SlotEmbedder` takes the engine's 150 px dlib chips like every embedder and does the rest itself: the
network's alignment (the chip as it is, or ArcFace's 112 px crop cut from it), colour order, element type,
normalisation and layout; it returns a cosine network's embeddings scaled to unit length, so that Vigil's one
distance, the Euclidean, applies to every network.
"""

import hashlib
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from vigil.vision.arcface_alignment import ArcFaceAligner
from vigil.vision.embedding import DEFAULT_THRESHOLD, Embeddings, validate_chips
from vigil.vision.errors import (
    ModelLoadFailed,
    ModelManifestInvalid,
)
from vigil.vision.face_model import Alignment, FaceModelManifest, Metric, ModelIdentity
from vigil.vision.image import RgbImage
from vigil.vision.model_check import DEFAULT_CHECK_PHOTOS, verify_on_photos
from vigil.vision.models import verify_checksum
from vigil.vision.onnx_embedder import ONNX_RUNTIME_ERRORS, open_onnx_session

MANIFEST_FILE = "manifest.json"
"""The manifest's usual name in a model's folder."""

DLIB_SLOT_NAME = "dlib_face_recognition_resnet_model_v1-onnx"
"""The name :func:`write_dlib_manifest` gives dlib's converted network as a slot model."""

_ONNX_TYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)"}

_log = logging.getLogger(__name__)


class SlotEmbedder:
    """A force's face network, loaded from its manifest, checked, and run on the engine's dlib chips.

    Build it with :func:`load_face_model`.

    Attributes:
        manifest_path: the manifest it was loaded from.
        manifest: the manifest.
        model_path: the ONNX file, verified against the manifest's sha256.
        input_shape: the network's input tensor's axes (a name where an axis is free, e.g. ``["n", 3, 112, 112]``).
        output_shape: its output tensor's axes.
        check: the known-answer check it passed.
    """

    def __init__(self, manifest_path: Path, *, threads: int, check_photos: Path | None) -> None:
        """Load, check and verify the model; see :func:`load_face_model`."""
        self.manifest_path = manifest_path
        self.manifest = read_manifest(manifest_path)
        self.model_path = _model_file(manifest_path, self.manifest)
        verify_checksum(
            self.model_path,
            self.manifest.sha256,
            remedy=f"it is not the file {manifest_path} describes; copy the model again, or fix the manifest's "
            "sha256 if the model was replaced on purpose",
        )
        self._session = open_onnx_session(
            self.model_path,
            threads=threads,
            remedy="the file is not an ONNX model this ONNX Runtime can run; ask its supplier for an opset 17 export",
        )
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelManifestInvalid(
                f"{self.model_path} takes {len(inputs)} inputs and gives {len(outputs)} outputs; a face network in "
                "the model slot takes one image tensor and gives one embedding tensor",
                path=manifest_path,
                field=None,
            )
        self._input_name = inputs[0].name
        self._output_name = outputs[0].name
        self.input_shape = _dims(inputs[0].shape)
        self.output_shape = _dims(outputs[0].shape)
        self._one_at_a_time = _check_input(self.input_shape, inputs[0].type, self.manifest, manifest_path)
        _check_output(self.output_shape, outputs[0].type, self.manifest, manifest_path)
        self._aligner = ArcFaceAligner() if self.manifest.alignment is Alignment.ARCFACE_112 else None
        self._mean = np.asarray(self.manifest.mean, dtype=np.float32)
        self._scale = 1.0 / np.asarray(self.manifest.std, dtype=np.float32)
        self.check = verify_on_photos(
            self, self.manifest, manifest_path=manifest_path, folder=check_photos or DEFAULT_CHECK_PHOTOS
        )
        _log.info(
            "model_slot.loaded",
            extra={
                "model_id": self.model.model_id,
                "manifest": str(manifest_path),
                "providers": self.providers,
                "check_photos": self.check.photos,
                "check_pairs": len(self.check.pairs),
            },
        )

    @property
    def name(self) -> str:
        """The network's name, from its manifest."""
        return self.manifest.name

    @property
    def model(self) -> ModelIdentity:
        """The network's identity, from its manifest."""
        return self.manifest.identity

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers in use, preferred first."""
        return list(self._session.get_providers())

    def embed(self, chips: Sequence[RgbImage]) -> Embeddings:
        """Embed a batch of dlib chips; see :meth:`~vigil.vision.embedding.Embedder.embed`.

        Args:
            chips: (150, 150, 3) uint8 RGB chips from :func:`vigil.vision.alignment.align_face`.

        Returns:
            One row per chip, shape (len(chips), embedding_size), float32; unit length for a cosine network.

        Raises:
            ValueError: a chip is not (150, 150, 3) uint8.
            ModelLoadFailed: ONNX Runtime fails running the network.
            ModelManifestInvalid: the network returns embeddings of another width than its manifest says.
        """
        validate_chips(chips)
        size = self.manifest.embedding_size
        if not chips:
            return np.zeros((0, size), dtype=np.float32)
        faces = self._aligner.align(chips) if self._aligner is not None else chips
        batch = self._network_input(np.stack(faces))
        if self._one_at_a_time:
            vectors = np.concatenate([self._run(batch[index : index + 1]) for index in range(len(batch))])
        else:
            vectors = self._run(batch)
        if vectors.shape != (len(chips), size):
            raise ModelManifestInvalid(
                f"{self.model_path} returned embeddings of shape {vectors.shape} for {len(chips)} chips; its manifest "
                f"{self.manifest_path} says {size} numbers each",
                path=self.manifest_path,
                field="embedding_size",
            )
        if self.manifest.metric is Metric.COSINE:
            lengths = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
            vectors = vectors / np.maximum(lengths, np.finfo(np.float32).tiny)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _network_input(self, faces: RgbImage) -> np.ndarray:
        """(n, s, s, 3) uint8 RGB faces as the network's input tensor says."""
        batch: np.ndarray = faces[..., ::-1] if self.manifest.colour_order == "bgr" else faces
        if self.manifest.input_dtype == "float32":
            batch = (batch.astype(np.float32) - self._mean) * self._scale
        if self.manifest.layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            (vectors,) = self._session.run([self._output_name], {self._input_name: batch})
        except ONNX_RUNTIME_ERRORS as exc:
            raise ModelLoadFailed(
                f"ONNX Runtime failed running {self.model_path} on a batch of shape {batch.shape}: {exc}",
                path=self.model_path,
            ) from exc
        return np.asarray(vectors, dtype=np.float32)


def load_face_model(manifest_path: Path, *, threads: int = 1, check_photos: Path | None = None) -> SlotEmbedder:
    """Load a force's face network from its manifest, check it is the file and network described, and verify it.

    Args:
        manifest_path: the manifest (JSON); its ``file`` is relative to the manifest's folder.
        threads: CPU threads one batch may use.
        check_photos: a folder with a sub-folder of photos per person (at least one person with two photos, and
            two people); None: :data:`DEFAULT_CHECK_PHOTOS`, the demo's.

    Returns:
        The embedder, with the figures of its check (:attr:`SlotEmbedder.check`).

    Raises:
        ValueError: ``threads`` is below 1.
        ModelManifestInvalid: the manifest cannot be read or breaks its rules, its file is missing, or the
            network's input or output disagrees with it.
        ModelChecksumMismatch: the ONNX file is not the one the manifest's sha256 names.
        ModelLoadFailed: ONNX Runtime cannot load or run the file.
        CheckPhotosUnusable: the check photos are missing, a photo holds no face, or they give no pair of one
            person or none of two.
        ModelVerificationFailed: the network puts two photos of one person beyond its threshold, or two people's
            within it.
        ImageError: a check photo cannot be read.
    """
    return SlotEmbedder(manifest_path, threads=threads, check_photos=check_photos)


def read_manifest(path: Path) -> FaceModelManifest:
    """Read and validate a model manifest.

    Raises:
        ModelManifestInvalid: the file cannot be read, is not JSON, or a field is missing or wrong; the message
            names the file and the field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelManifestInvalid(f"cannot read the model manifest {path}: {exc}", path=path, field=None) from exc
    try:
        return FaceModelManifest.model_validate_json(text)
    except ValidationError as exc:
        problems = exc.errors()
        fields = [".".join(str(part) for part in problem["loc"]) for problem in problems]
        described = "; ".join(
            f"{field or '(manifest)'}: {problem['msg']}" for field, problem in zip(fields, problems, strict=True)
        )
        raise ModelManifestInvalid(
            f"the model manifest {path} is not valid: {described}", path=path, field=fields[0] or None
        ) from exc


def write_dlib_manifest(*, onnx_model: Path, out_dir: Path) -> Path:
    """Lay out dlib's verified ONNX conversion as a force's model arrives: the file, and a manifest beside it.

    Args:
        onnx_model: the converted model (:func:`vigil.vision.model_cache.ensure_onnx_model`).
        out_dir: the folder to write to; created if missing; a model and manifest already there are replaced.

    Returns:
        The manifest's path (``out_dir/manifest.json``).

    Raises:
        OSError: the folder cannot be created or written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{DLIB_SLOT_NAME}.onnx"
    shutil.copyfile(onnx_model, target)
    manifest = FaceModelManifest(
        name=DLIB_SLOT_NAME,
        version="1",
        licence="CC0 1.0 (dlib-models, Davis King)",
        file=target.name,
        sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
        alignment=Alignment.DLIB_CHIP_150,
        input_size_px=Alignment.DLIB_CHIP_150.size_px,
        colour_order="rgb",
        layout="nhwc",
        input_dtype="uint8",
        embedding_size=128,
        metric=Metric.EUCLIDEAN,
        threshold=DEFAULT_THRESHOLD,
    )
    path = out_dir / MANIFEST_FILE
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def _model_file(manifest_path: Path, manifest: FaceModelManifest) -> Path:
    relative = Path(manifest.file)
    if relative.is_absolute():
        raise ModelManifestInvalid(
            f"the model manifest {manifest_path} names its file by an absolute path ({manifest.file}); give it "
            "relative to the manifest's folder",
            path=manifest_path,
            field="file",
        )
    path = manifest_path.parent / relative
    if not path.is_file():
        raise ModelManifestInvalid(
            f"the model file {path} that {manifest_path} names is not there; put it beside the manifest",
            path=manifest_path,
            field="file",
        )
    return path


def _dims(shape: Sequence[object]) -> list[int | str]:
    """A graph tensor's dimensions: a whole number where fixed, the dimension's name (or ``"?"``) where not."""
    return [dim if isinstance(dim, int) else (str(dim) if dim else "?") for dim in shape]


def _check_input(shape: list[int | str], onnx_type: str, manifest: FaceModelManifest, manifest_path: Path) -> bool:
    """Refuse an input that is not the manifest's image tensor; True when its batch is fixed at 1."""
    size = manifest.input_size_px
    expected: list[int | str] = ["n", size, size, 3] if manifest.layout == "nhwc" else ["n", 3, size, size]
    said = (
        f"its manifest {manifest_path} says {manifest.layout} {manifest.input_dtype} "
        f"{expected} ({manifest.alignment.value} faces)"
    )
    problem: tuple[str | None, str] | None = None
    if len(shape) != 4:
        problem = ("layout", f"the network's input has {len(shape)} axes, an image batch has 4")
    elif isinstance(shape[0], int) and shape[0] != 1:
        problem = (None, f"the network's input has a fixed batch of {shape[0]}; export it with a dynamic batch or 1")
    else:
        channel_axis, spatial_axes = (3, (1, 2)) if manifest.layout == "nhwc" else (1, (2, 3))
        channels = shape[channel_axis]
        if isinstance(channels, int) and channels != 3:
            problem = ("layout", f"the network's input has {channels} on the axis the layout puts channels on")
        elif any(isinstance(shape[axis], int) and shape[axis] != size for axis in spatial_axes):
            problem = ("input_size_px", "the network's input is another size")
        elif onnx_type != _ONNX_TYPES[manifest.input_dtype]:
            problem = ("input_dtype", f"the network's input is a {onnx_type}")
    if problem is not None:
        field, reason = problem
        raise ModelManifestInvalid(
            f"{reason}: it takes {onnx_type} {shape}, but {said}", path=manifest_path, field=field
        )
    return shape[0] == 1


def _check_output(shape: list[int | str], onnx_type: str, manifest: FaceModelManifest, manifest_path: Path) -> None:
    """Refuse an output that is not one embedding per chip of the manifest's width, in float32."""
    width = manifest.embedding_size
    if len(shape) != 2 or onnx_type != "tensor(float)":
        raise ModelManifestInvalid(
            f"the network gives {onnx_type} {shape}; the model slot takes one float32 embedding per face, shape "
            f"[n, {width}]",
            path=manifest_path,
            field=None,
        )
    if isinstance(shape[1], int) and shape[1] != width:
        raise ModelManifestInvalid(
            f"the network gives embeddings of {shape[1]} numbers, but its manifest {manifest_path} says "
            f"embedding_size {width}",
            path=manifest_path,
            field="embedding_size",
        )
