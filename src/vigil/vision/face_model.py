"""Which face network made an embedding: its identity, and the manifest a force writes to bring its own.

Embeddings of two networks cannot be compared: a gallery made with one and searched with another's probes gives
distances that mean nothing. So every embedding Vigil keeps or sends is named by the network that made it
(:attr:`ModelIdentity.model_id`: name, version and the first 12 hex digits of the weights' sha256), and every
place that compares two (the gallery, a device installing a package, the server accepting an alert) refuses a
mismatch with a reason.

A force brings a network as an ONNX file and a :class:`FaceModelManifest` beside it (JSON). Vigil speaks one
distance everywhere: the Euclidean distance between embeddings as the embedder returns them. A cosine network's
embeddings are returned scaled to unit length, so its distance is the chord ``sqrt(2 − 2·cos)``, monotone in the
cosine similarity; its manifest states its threshold as a cosine similarity, as such networks are published, and
:attr:`FaceModelManifest.distance_threshold` converts it.
"""

import enum
import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.vision.models import DLIB_FACE_RECOGNITION

MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._-]{0,31}:[0-9a-f]{12}$"
"""What a model id looks like: ``name:version:sha256-prefix``."""

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
_SHA256_PATTERN = r"^[0-9a-f]{64}$"


class Metric(enum.StrEnum):
    """How a network's embeddings are compared."""

    EUCLIDEAN = "euclidean"
    COSINE = "cosine"


class Alignment(enum.StrEnum):
    """How a face is cut out for a network.

    ``dlib-chip-150``: dlib's 150 px chip (five landmarks onto dlib's mean face, 25 % padding), what dlib's
    ResNet was trained on. ``arcface-112``: the 112 px five-point template of ArcFace-style networks (eye centres,
    nose tip, mouth corners), the one InsightFace, SFace and most networks since 2018 expect.
    """

    DLIB_CHIP_150 = "dlib-chip-150"
    ARCFACE_112 = "arcface-112"

    @property
    def size_px(self) -> int:
        """The side of the aligned chip, pixels."""
        return 150 if self is Alignment.DLIB_CHIP_150 else 112


@dataclass(frozen=True)
class ModelIdentity:
    """The network an embedding comes from.

    Attributes:
        name: the network's name, e.g. ``dlib_face_recognition_resnet_model_v1``.
        version: its version, as its supplier numbers it.
        sha256: hex digest of its weights file.
        metric: how its embeddings are compared.
        embedding_size: numbers per embedding.
    """

    name: str
    version: str
    sha256: str
    metric: Metric
    embedding_size: int

    @property
    def model_id(self) -> str:
        """``name:version:sha256-prefix``: what templates, versions, packages and alerts carry."""
        return f"{self.name}:{self.version}:{self.sha256[:12]}"


DLIB_MODEL = ModelIdentity(
    name="dlib_face_recognition_resnet_model_v1",
    version="1",
    sha256=DLIB_FACE_RECOGNITION.sha256,
    metric=Metric.EUCLIDEAN,
    embedding_size=128,
)
"""dlib's ResNet, the network Vigil ships, whether dlib runs it or ONNX Runtime runs its verified conversion."""

DLIB_MODEL_ID = DLIB_MODEL.model_id


class ManifestOperatingPoint(BaseModel):
    """A threshold measured for one watchlist size (``vigil calibrate --model``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist_size: int = Field(ge=1, le=1_000_000, description="W, people on the watchlist.")
    threshold: float = Field(gt=0, le=2, description="Vigil distance (Euclidean; chord for cosine networks).")
    false_alerts_per_10k: float = Field(ge=0, le=10_000, description="Passers-by's faces alerted per 10,000, measured.")
    true_match_rate: float = Field(ge=0, le=1, description="Share of listed people's other faces found, measured.")


class FaceModelManifest(BaseModel):
    """What Vigil needs to know to run a face network it did not ship, and to check it is the file meant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_PATTERN, description="The network's name.")
    version: str = Field(pattern=_VERSION_PATTERN, description="Its version; a retrained network is a new version.")
    licence: str = Field(min_length=2, max_length=500, description="Its licence, and who holds it.")
    file: str = Field(min_length=1, max_length=255, description="The ONNX file, relative to the manifest.")
    sha256: str = Field(pattern=_SHA256_PATTERN, description="The ONNX file's sha256, lower-case hex.")
    alignment: Alignment = Field(description="How faces are cut out for it.")
    input_size_px: int = Field(ge=32, le=1024, description="Side of the square input, pixels.")
    colour_order: Literal["rgb", "bgr"] = Field(description="Channel order the network expects.")
    layout: Literal["nhwc", "nchw"] = Field(description="Axis order of the input tensor.")
    input_dtype: Literal["uint8", "float32"] = Field(description="Element type of the input tensor.")
    mean: tuple[float, float, float] = Field((0.0, 0.0, 0.0), description="Subtracted per channel (float32 input).")
    std: tuple[float, float, float] = Field((1.0, 1.0, 1.0), description="Then divided by, per channel.")
    embedding_size: int = Field(ge=2, le=4096, description="Numbers per embedding.")
    metric: Metric = Field(description="How embeddings are compared.")
    threshold: float = Field(
        description="One-to-one decision threshold in the network's own terms: a Euclidean distance, or for a cosine "
        "network the cosine similarity at or above which two faces are the same person."
    )
    operating_points: tuple[ManifestOperatingPoint, ...] = Field(
        (), description="Thresholds measured by watchlist size; without them every size runs at the threshold."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "FaceModelManifest":
        if self.input_size_px != self.alignment.size_px:
            raise ValueError(
                f"alignment {self.alignment.value} cuts {self.alignment.size_px} px faces, "
                f"but input_size_px is {self.input_size_px}"
            )
        if self.input_dtype == "uint8" and (self.mean != (0.0, 0.0, 0.0) or self.std != (1.0, 1.0, 1.0)):
            raise ValueError("a uint8 input takes the pixels as they are: mean and std apply to float32 input only")
        if any(value <= 0 for value in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.metric is Metric.COSINE and not -1 < self.threshold < 1:
            raise ValueError(f"a cosine threshold is a similarity in (-1, 1), got {self.threshold}")
        if self.metric is Metric.EUCLIDEAN and not 0 < self.threshold <= 2:
            raise ValueError(f"a Euclidean threshold lies in (0, 2], got {self.threshold}")
        sizes = [point.watchlist_size for point in self.operating_points]
        if sizes != sorted(set(sizes)):
            raise ValueError("operating points must have distinct watchlist sizes in increasing order")
        return self

    @property
    def identity(self) -> ModelIdentity:
        """The network's identity, as embeddings name it."""
        return ModelIdentity(self.name, self.version, self.sha256, self.metric, self.embedding_size)

    @property
    def distance_threshold(self) -> float:
        """The threshold as a Vigil distance: as given (Euclidean), or the chord of the cosine similarity."""
        return cosine_to_distance(self.threshold) if self.metric is Metric.COSINE else self.threshold


def cosine_to_distance(similarity: float) -> float:
    """The distance between two unit vectors whose cosine similarity is ``similarity``: ``sqrt(2 − 2·cos)``."""
    return math.sqrt(max(0.0, 2.0 - 2.0 * similarity))


def distance_to_cosine(distance: float) -> float:
    """The cosine similarity of two unit vectors this far apart: ``1 − d²/2``."""
    return 1.0 - distance * distance / 2.0
