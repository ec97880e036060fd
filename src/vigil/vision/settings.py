"""Settings of the face engine, and the one place that turns them into a working :class:`FaceEngine`."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.detection import Detector
from vigil.vision.embedding import DEFAULT_THRESHOLD, DlibEmbedder, Embedder
from vigil.vision.engine import FaceEngine
from vigil.vision.hog import HogDetector
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy


class HogDetectorSettings(BaseModel):
    """dlib's HOG detector: accurate on stills, about 100 ms a 640×360 frame at upsample 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hog"] = "hog"
    upsample: int = Field(
        1, ge=0, le=3, description="Times the image is doubled before scanning (finds smaller faces)."
    )


class BlazeFaceDetectorSettings(BaseModel):
    """MediaPipe's BlazeFace on tiles: the fast detector for video."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["blazeface"] = "blazeface"
    min_score: float = Field(0.5, gt=0, lt=1, description="Lowest face probability kept.")
    threads: int = Field(1, ge=1, le=64, description="CPU threads for the TFLite runtime.")


DetectorSettings = Annotated[HogDetectorSettings | BlazeFaceDetectorSettings, Field(discriminator="kind")]


class DlibEmbedderSettings(BaseModel):
    """dlib's ResNet face recognition model, the reference embedder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["dlib"] = "dlib"


EmbedderSettings = Annotated[DlibEmbedderSettings, Field(discriminator="kind")]


class VisionSettings(BaseModel):
    """Everything the face engine needs to be built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: DetectorSettings = Field(default_factory=HogDetectorSettings, description="Face detector backend.")
    embedder: EmbedderSettings = Field(default_factory=DlibEmbedderSettings, description="Embedding backend.")
    quality: QualityPolicy = Field(default_factory=QualityPolicy, description="Face quality bounds.")
    max_side_px: int = Field(1600, ge=64, le=16384, description="Images are shrunk to this long side before detection.")
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
            return BlazeFaceDetector(min_score=settings.min_score, num_threads=settings.threads)


def build_embedder(settings: EmbedderSettings) -> Embedder:
    """Create the embedder the settings name.

    Raises:
        ModelError: the embedder's model file is missing or damaged.
    """
    match settings:
        case DlibEmbedderSettings():
            return DlibEmbedder()


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
