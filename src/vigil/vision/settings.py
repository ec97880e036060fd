"""Settings of the face engine, and the one place that turns them into a working :class:`FaceEngine`."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.detection import Detector
from vigil.vision.embedding import DEFAULT_THRESHOLD, DlibEmbedder, Embedder
from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL, FaceModelManifest, ModelIdentity
from vigil.vision.hog import HogDetector
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.model_cache import ensure_onnx_model
from vigil.vision.model_slot import load_face_model, read_manifest
from vigil.vision.onnx_embedder import OnnxEmbedder
from vigil.vision.quality import QualityPolicy

DEFAULT_MAX_SIDE_PX = 1600
"""Images are shrunk to this long side before detection, in every command alike."""


class HogDetectorSettings(BaseModel):
    """dlib's HOG detector: accurate on stills, about 100 ms a 640×360 frame at upsample 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hog"] = "hog"
    upsample: int = Field(
        1, ge=0, le=3, description="Times the image is doubled before scanning (finds smaller faces)."
    )


class BlazeFaceDetectorSettings(BaseModel):
    """MediaPipe's BlazeFace over an image pyramid: the fast detector for video."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["blazeface"] = "blazeface"
    min_score: float = Field(
        0.65, gt=0, lt=1, description="Lowest face probability kept; below 0.6 false faces multiply."
    )
    min_face_px: float = Field(32.0, ge=8, le=1024, description="Width of the smallest face to find, in pixels.")
    threads: int = Field(1, ge=1, le=64, description="CPU threads for the TFLite runtime.")


DetectorSettings = Annotated[HogDetectorSettings | BlazeFaceDetectorSettings, Field(discriminator="kind")]


class DlibEmbedderSettings(BaseModel):
    """dlib's ResNet face recognition model, the reference embedder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dlib"] = "dlib"


class OnnxEmbedderSettings(BaseModel):
    """dlib's network converted to ONNX and run by ONNX Runtime: the same embeddings, an order of magnitude faster.

    The model is converted from the installed dlib file and verified against dlib on first use (a few seconds,
    once), or ahead of time with ``vigil models build``, then read from the model cache.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["onnx"] = "onnx"
    threads: int = Field(1, ge=1, le=64, description="CPU threads ONNX Runtime may use for one batch.")
    cache_dir: Path | None = Field(
        None, description="Folder of converted models (default $XDG_CACHE_HOME/vigil/models or ~/.cache/vigil/models)."
    )


class SlotEmbedderSettings(BaseModel):
    """A face network the force brings: an ONNX file and its manifest (:mod:`vigil.vision.model_slot`).

    It is checked against its manifest and on photos of known people every time it is loaded; a model that fails
    is refused, never run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["model"] = "model"
    manifest: Path = Field(description="The model's manifest (JSON); its file is found relative to it.")
    threads: int = Field(1, ge=1, le=64, description="CPU threads ONNX Runtime may use for one batch.")
    check_photos: Path | None = Field(
        None,
        description="Folder with a sub-folder of photos per person the model must tell apart when loaded "
        "(default .vigil/demo/photos, from `vigil sim photos --fetch`).",
    )


EmbedderSettings = Annotated[
    DlibEmbedderSettings | OnnxEmbedderSettings | SlotEmbedderSettings, Field(discriminator="kind")
]


class VisionSettings(BaseModel):
    """Everything the face engine needs to be built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: DetectorSettings = Field(default_factory=HogDetectorSettings, description="Face detector backend.")
    embedder: EmbedderSettings = Field(default_factory=OnnxEmbedderSettings, description="Embedding backend.")
    quality: QualityPolicy = Field(default_factory=QualityPolicy, description="Face quality bounds.")
    max_side_px: int = Field(
        DEFAULT_MAX_SIDE_PX, ge=64, le=16384, description="Images are shrunk to this long side before detection."
    )
    match_threshold: float = Field(
        DEFAULT_THRESHOLD, gt=0, le=2, description="Embedding distance at or below which two faces are the same person."
    )


def build_detector(settings: DetectorSettings) -> Detector:
    """Create the detector the settings name.

    Raises:
        ModelError: the detector's model file is missing or damaged.
    """
    match settings:
        case HogDetectorSettings():
            return HogDetector(upsample=settings.upsample)
        case BlazeFaceDetectorSettings():
            return BlazeFaceDetector(
                min_score=settings.min_score, min_face_px=settings.min_face_px, num_threads=settings.threads
            )


def build_embedder(settings: EmbedderSettings) -> Embedder:
    """Create the embedder the settings name; the ONNX one is converted and verified first if not cached yet.

    Raises:
        ModelError: the embedder's model file is missing or damaged, cannot be cached, or its conversion fails
            verification against dlib; a force's model's manifest is invalid or it fails its check
            (:func:`~vigil.vision.model_slot.load_face_model`).
        ImageError: a force's model's check photo cannot be read.
    """
    match settings:
        case DlibEmbedderSettings():
            return DlibEmbedder()
        case OnnxEmbedderSettings():
            model = ensure_onnx_model(cache_dir=settings.cache_dir, threads=settings.threads)
            return OnnxEmbedder(model.path, threads=settings.threads)
        case SlotEmbedderSettings():
            return load_face_model(settings.manifest, threads=settings.threads, check_photos=settings.check_photos)


def embedder_manifest(settings: EmbedderSettings) -> FaceModelManifest | None:
    """The manifest of the force's network the settings name; None for the built-in embedders (dlib's network).

    Reads the manifest only; nothing is loaded or checked.

    Raises:
        ModelManifestInvalid: the manifest cannot be read or is not valid.
    """
    match settings:
        case SlotEmbedderSettings():
            return read_manifest(settings.manifest)
        case DlibEmbedderSettings() | OnnxEmbedderSettings():
            return None


def embedder_model(settings: EmbedderSettings) -> ModelIdentity:
    """The network the settings' embedder runs, known without loading it (see :func:`embedder_manifest`).

    Raises:
        ModelManifestInvalid: a force's network's manifest cannot be read or is not valid.
    """
    manifest = embedder_manifest(settings)
    return DLIB_MODEL if manifest is None else manifest.identity


def build_engine(settings: VisionSettings) -> FaceEngine:
    """Create a face engine from settings.

    Raises:
        ModelError: a model file is missing or damaged.
    """
    return FaceEngine(
        detector=build_detector(settings.detector),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(settings.embedder),
        quality_policy=settings.quality,
        max_side_px=settings.max_side_px,
    )
