"""The Embedder contract, passed by every backend (a force's network in the model slot too), and the ONNX
backend's equivalence to dlib on real faces."""

import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from tests.support.face_networks import ARCFACE_LIKE_SIZE, arcface_like_manifest, arcface_like_network, link_demo_photos
from vigil.vision.embedding import DEFAULT_THRESHOLD, DlibEmbedder, Embedder
from vigil.vision.engine import FaceEngine
from vigil.vision.errors import ModelLoadFailed
from vigil.vision.face_model import DLIB_MODEL_ID, Metric
from vigil.vision.image import RgbImage, load_image
from vigil.vision.model_cache import OnnxModelBuild
from vigil.vision.model_slot import SlotEmbedder, load_face_model
from vigil.vision.onnx_embedder import OnnxEmbedder
from vigil.vision.settings import OnnxEmbedderSettings, VisionSettings, build_embedder


@pytest.fixture(scope="module")
def dlib_embedder() -> DlibEmbedder:
    return DlibEmbedder()


@pytest.fixture(scope="module")
def onnx_embedder(onnx_model: OnnxModelBuild) -> OnnxEmbedder:
    return OnnxEmbedder(onnx_model.path)


@pytest.fixture(scope="module")
def slot_embedder(onnx_model: OnnxModelBuild, testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> SlotEmbedder:
    """A force's network of another shape (ArcFace's input, 64 numbers, cosine) in the model slot."""
    folder = tmp_path_factory.mktemp("slot")
    network = arcface_like_network(onnx_model.path, folder / "arcface_like.onnx")
    return load_face_model(arcface_like_manifest(network), check_photos=link_demo_photos(testdata, folder / "photos"))


@pytest.fixture(params=["dlib", "onnx", "slot"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    fixture: Embedder = request.getfixturevalue(f"{request.param}_embedder")
    return fixture


@pytest.mark.parametrize(
    ("chips", "message"),
    [
        ([np.zeros((150, 150), dtype=np.uint8)], r"chip 0 must be \(150, 150, 3\) uint8"),
        ([np.zeros((150, 150, 3), dtype=np.uint8), np.zeros((112, 112, 3), dtype=np.uint8)], "chip 1"),
        ([np.zeros((150, 150, 3), dtype=np.float32)], "float32"),
    ],
)
def test_embedder_refuses_malformed_chips(embedder: Embedder, chips: list[np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        embedder.embed(chips)


def test_embedder_batch_equals_single(embedder: Embedder, hog_engine: FaceEngine, testdata: Path) -> None:
    faces = hog_engine.find_faces(load_image(testdata / "faces" / "two_people.jpg"))
    batch = embedder.embed([f.chip for f in faces])
    size = embedder.model.embedding_size
    assert batch.shape == (2, size)
    assert batch.dtype == np.float32
    for row, face in zip(batch, faces, strict=True):
        np.testing.assert_allclose(row, embedder.embed([face.chip])[0], atol=1e-6)
    assert embedder.embed([]).shape == (0, size)


@pytest.mark.parametrize(
    ("kind", "model_id", "metric", "size"),
    [
        ("dlib", DLIB_MODEL_ID, Metric.EUCLIDEAN, 128),
        ("onnx", DLIB_MODEL_ID, Metric.EUCLIDEAN, 128),
        ("slot", r"arcface-like-test:1:[0-9a-f]{12}", Metric.COSINE, ARCFACE_LIKE_SIZE),
    ],
)
def test_every_embedder_names_its_network(
    request: pytest.FixtureRequest, kind: str, model_id: str, metric: Metric, size: int
) -> None:
    embedder: Embedder = request.getfixturevalue(f"{kind}_embedder")
    assert re.fullmatch(model_id, embedder.model.model_id)
    assert (embedder.model.metric, embedder.model.embedding_size) == (metric, size)


def test_onnx_gives_dlibs_embeddings_on_every_test_photo_face(
    dlib_embedder: DlibEmbedder, onnx_embedder: OnnxEmbedder, real_face_chips: list[RgbImage]
) -> None:
    assert len(real_face_chips) >= 25
    reference = dlib_embedder.embed(real_face_chips).astype(np.float64)
    ours = onnx_embedder.embed(real_face_chips).astype(np.float64)
    cosines = (reference * ours).sum(axis=1) / (np.linalg.norm(reference, axis=1) * np.linalg.norm(ours, axis=1))
    assert cosines.min() >= 0.9999
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_onnx_makes_dlibs_decision_for_every_pair_of_test_photo_faces(
    dlib_embedder: DlibEmbedder, onnx_embedder: OnnxEmbedder, real_face_chips: list[RgbImage]
) -> None:
    reference = dlib_embedder.embed(real_face_chips)
    ours = onnx_embedder.embed(real_face_chips)
    pairs = list(combinations(range(len(real_face_chips)), 2))
    same_by_dlib = [float(np.linalg.norm(reference[i] - reference[j])) <= DEFAULT_THRESHOLD for i, j in pairs]
    same_by_onnx = [float(np.linalg.norm(ours[i] - ours[j])) <= DEFAULT_THRESHOLD for i, j in pairs]
    assert same_by_onnx == same_by_dlib
    # The set holds both kinds of pair, so the comparison can fail either way.
    assert 0 < sum(same_by_dlib) < len(pairs)


def test_onnx_is_the_default_embedder(onnx_model: OnnxModelBuild) -> None:
    settings = VisionSettings()
    assert isinstance(settings.embedder, OnnxEmbedderSettings)
    embedder = build_embedder(settings.embedder)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name == "onnx"
    assert embedder.providers[-1] == "CPUExecutionProvider"


def test_threads_are_validated(onnx_model: OnnxModelBuild) -> None:
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        OnnxEmbedder(onnx_model.path, threads=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "File doesn't exist"), (b"", "delete the file"), (b"not a model" * 100, "Protobuf parsing failed")],
)
def test_an_unloadable_onnx_file_is_refused(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadFailed, match=message) as caught:
        OnnxEmbedder(path)
    assert caught.value.path == path
