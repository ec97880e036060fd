"""The model slot: a force's face network, from an ONNX file and its manifest, checked, verified and run."""

import hashlib
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from tests.support.face_networks import (
    ARCFACE_LIKE_SIZE,
    ARCFACE_LIKE_THRESHOLD,
    arcface_like_manifest,
    arcface_like_network,
    link_demo_photos,
    write_manifest,
)
from vigil.vision.embedding import DlibEmbedder
from vigil.vision.engine import FaceEngine, photo_subject
from vigil.vision.equivalence import compare_embeddings
from vigil.vision.errors import (
    CheckPhotosUnusable,
    ModelChecksumMismatch,
    ModelError,
    ModelManifestInvalid,
    ModelVerificationFailed,
)
from vigil.vision.face_model import DLIB_MODEL_ID, Alignment, FaceModelManifest, Metric, cosine_to_distance
from vigil.vision.image import RgbImage, load_image
from vigil.vision.model_cache import OnnxModelBuild
from vigil.vision.model_slot import DLIB_SLOT_NAME, MANIFEST_FILE, SlotEmbedder, load_face_model, write_dlib_manifest
from vigil.vision.onnx_embedder import OnnxEmbedder
from vigil.vision.settings import SlotEmbedderSettings, VisionSettings, build_embedder

# Photos of the test data by person, none of them among the check photos of the models below.
LABELLED_PHOTOS = {
    "obama": ["faces/obama-720p.jpg", "faces/obama_small.jpg", "identities/test/obama1.jpg"],
    "biden": ["identities/train/biden/biden2.jpg"],
    "kit_harington": ["identities/train/kit_harington/john1.jpeg", "identities/test/johnsnow_test1.jpg"],
    "alex_lacamoire": ["identities/train/alex_lacamoire/img1.jpg", "identities/test/alex_lacamoire1.jpg"],
    "rose_leslie": ["identities/train/rose_leslie/img1.jpg", "identities/train/rose_leslie/img2.jpg"],
}


@pytest.fixture(scope="module")
def demo_photos(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return link_demo_photos(testdata, tmp_path_factory.mktemp("demo_photos"))


@pytest.fixture(scope="module")
def dlib_manifest(onnx_model: OnnxModelBuild, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dlib's conversion laid out as a force's model arrives, by `vigil models manifest-dlib`'s code."""
    return write_dlib_manifest(onnx_model=onnx_model.path, out_dir=tmp_path_factory.mktemp("dlib_model"))


@pytest.fixture(scope="module")
def dlib_slot(dlib_manifest: Path, testdata: Path) -> SlotEmbedder:
    return load_face_model(dlib_manifest, check_photos=testdata / "identities" / "train")


@pytest.fixture(scope="module")
def arcface_network(onnx_model: OnnxModelBuild, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return arcface_like_network(onnx_model.path, tmp_path_factory.mktemp("arcface") / "arcface_like.onnx")


@pytest.fixture(scope="module")
def arcface_slot(arcface_network: Path, demo_photos: Path) -> SlotEmbedder:
    return load_face_model(arcface_like_manifest(arcface_network), threads=2, check_photos=demo_photos)


@pytest.fixture(scope="module")
def labelled_chips(testdata: Path, hog_engine: FaceEngine) -> tuple[list[str], list[RgbImage]]:
    """The chip of each labelled photo's face, and whose it is."""
    people, chips = [], []
    for person, names in LABELLED_PHOTOS.items():
        for name in names:
            image = load_image(testdata / name)
            face = photo_subject(hog_engine.find_faces(image), width=image.shape[1], height=image.shape[0])
            assert face is not None, name
            people.append(person)
            chips.append(face.chip)
    return people, chips


def _model_folder(network: Path, tmp_path: Path) -> Path:
    """A folder of its own for a test's manifest, the network linked into it."""
    (tmp_path / network.name).symlink_to(network)
    return tmp_path / network.name


def test_the_dlib_manifest_describes_the_file_beside_it(dlib_manifest: Path, onnx_model: OnnxModelBuild) -> None:
    manifest = FaceModelManifest.model_validate_json(dlib_manifest.read_text(encoding="utf-8"))
    model_file = dlib_manifest.parent / manifest.file
    assert dlib_manifest.name == MANIFEST_FILE
    assert model_file.read_bytes() == onnx_model.path.read_bytes()
    assert manifest.sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert (manifest.name, manifest.licence) == (DLIB_SLOT_NAME, "CC0 1.0 (dlib-models, Davis King)")
    assert (manifest.alignment, manifest.input_size_px, manifest.colour_order, manifest.layout) == (
        Alignment.DLIB_CHIP_150,
        150,
        "rgb",
        "nhwc",
    )
    assert (manifest.input_dtype, manifest.embedding_size, manifest.metric, manifest.threshold) == (
        "uint8",
        128,
        Metric.EUCLIDEAN,
        0.6,
    )


def test_dlib_through_the_slot_embeds_as_the_built_in_embedders(
    dlib_slot: SlotEmbedder, onnx_model: OnnxModelBuild, real_face_chips: list[RgbImage]
) -> None:
    ours = dlib_slot.embed(real_face_chips)
    assert ours.shape == (len(real_face_chips), 128)
    assert ours.dtype == np.float32
    for reference in (OnnxEmbedder(onnx_model.path), DlibEmbedder()):
        result = compare_embeddings(ours, reference.embed(real_face_chips))
        assert result.min_cosine >= 0.9999, type(reference).__name__
        assert result.decisions_changed == 0, type(reference).__name__
    # The same network, but another file: its embeddings carry the file's own id, not the built-in's.
    assert dlib_slot.model.model_id.startswith(f"{DLIB_SLOT_NAME}:1:")
    assert dlib_slot.model.model_id != DLIB_MODEL_ID
    assert (dlib_slot.name, dlib_slot.input_shape, dlib_slot.output_shape) == (
        DLIB_SLOT_NAME,
        ["n", 150, 150, 3],
        ["n", 128],
    )


def test_the_check_compares_every_pair_of_the_check_photos(dlib_slot: SlotEmbedder) -> None:
    check = dlib_slot.check
    assert (check.people, check.photos, len(check.pairs)) == (5, 9, 36)
    same = [pair.distance for pair in check.pairs if pair.same_person]
    different = [pair.distance for pair in check.pairs if not pair.same_person]
    assert len(same) == 4
    assert max(same) <= check.threshold == 0.6 < min(different)


def test_an_arcface_shaped_cosine_network_loads_verifies_and_tells_people_apart(
    arcface_slot: SlotEmbedder, labelled_chips: tuple[list[str], list[RgbImage]]
) -> None:
    assert arcface_slot.input_shape == ["n", 3, 112, 112]
    assert arcface_slot.output_shape == ["n", ARCFACE_LIKE_SIZE]
    assert arcface_slot.model.metric is Metric.COSINE
    assert arcface_slot.model.embedding_size == ARCFACE_LIKE_SIZE
    assert arcface_slot.check.threshold == pytest.approx(cosine_to_distance(ARCFACE_LIKE_THRESHOLD))
    assert len(arcface_slot.check.pairs) == 6

    people, chips = labelled_chips
    embeddings = arcface_slot.embed(chips)
    assert embeddings.shape == (len(chips), ARCFACE_LIKE_SIZE)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    same: list[float] = []
    different: list[float] = []
    for first, second in combinations(range(len(chips)), 2):
        distance = float(np.linalg.norm(embeddings[first] - embeddings[second]))
        (same if people[first] == people[second] else different).append(distance)
    assert max(same) < min(different)


def test_a_network_with_a_batch_of_one_embeds_chip_by_chip(
    onnx_model: OnnxModelBuild,
    arcface_slot: SlotEmbedder,
    demo_photos: Path,
    real_face_chips: list[RgbImage],
    tmp_path: Path,
) -> None:
    network = arcface_like_network(onnx_model.path, tmp_path / "arcface_like_1.onnx", batch=1)
    single = load_face_model(arcface_like_manifest(network), check_photos=demo_photos)
    assert single.input_shape == [1, 3, 112, 112]
    chips = real_face_chips[:5]
    np.testing.assert_allclose(single.embed(chips), arcface_slot.embed(chips), atol=1e-5)


def test_no_chips_give_no_embeddings(arcface_slot: SlotEmbedder) -> None:
    assert arcface_slot.embed([]).shape == (0, ARCFACE_LIKE_SIZE)


def test_the_settings_build_a_slot_embedder(dlib_manifest: Path, demo_photos: Path) -> None:
    settings = VisionSettings.model_validate(
        {"embedder": {"kind": "model", "manifest": str(dlib_manifest), "check_photos": str(demo_photos)}}
    )
    assert settings.embedder == SlotEmbedderSettings(manifest=dlib_manifest, check_photos=demo_photos)
    embedder = build_embedder(settings.embedder)
    assert embedder.model.name == DLIB_SLOT_NAME
    assert embedder.embed([]).shape == (0, 128)


@pytest.mark.parametrize(
    ("changes", "error", "field", "message"),
    [
        ({"sha256": "0" * 64}, ModelChecksumMismatch, None, "it is not the file"),
        ({"input_size_px": 150}, ModelManifestInvalid, None, "arcface-112 cuts 112 px faces, but input_size_px is 150"),
        (
            {"alignment": "dlib-chip-150", "input_size_px": 150},
            ModelManifestInvalid,
            "input_size_px",
            r"another size: it takes tensor\(float\) \['n', 3, 112, 112\], .* says nchw float32 \['n', 3, 150, 150\]",
        ),
        ({"embedding_size": 128}, ModelManifestInvalid, "embedding_size", "embeddings of 64 numbers"),
        ({"layout": "nhwc"}, ModelManifestInvalid, "layout", "has 112 on the axis the layout puts channels on"),
        (
            {"input_dtype": "uint8", "mean": [0, 0, 0], "std": [1, 1, 1]},
            ModelManifestInvalid,
            "input_dtype",
            r"the network's input is a tensor\(float\)",
        ),
        ({"threshold": 1.5}, ModelManifestInvalid, None, r"similarity in \(-1, 1\)"),
        ({"colour_order": "yuv"}, ModelManifestInvalid, "colour_order", "colour_order: Input should be 'rgb' or"),
        ({"file": "elsewhere.onnx"}, ModelManifestInvalid, "file", "elsewhere.onnx .* is not there"),
        ({"file": "/srv/models/arcface.onnx"}, ModelManifestInvalid, "file", "absolute path"),
        ({"sha256": None}, ModelManifestInvalid, "sha256", "sha256: Input should be a valid string"),
    ],
)
def test_a_manifest_that_does_not_describe_its_network_is_refused(
    arcface_network: Path,
    demo_photos: Path,
    tmp_path: Path,
    changes: dict[str, object],
    error: type[ModelError],
    field: str | None,
    message: str,
) -> None:
    manifest = arcface_like_manifest(_model_folder(arcface_network, tmp_path), **changes)
    with pytest.raises(error, match=message) as caught:
        load_face_model(manifest, check_photos=demo_photos)
    if isinstance(caught.value, ModelManifestInvalid):
        assert caught.value.field == field
        assert str(manifest) in str(caught.value)


def test_a_manifest_that_is_not_json_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / MANIFEST_FILE
    manifest.write_text("name: arcface\n", encoding="utf-8")
    with pytest.raises(ModelManifestInvalid, match=f"the model manifest {manifest} is not valid: .*Invalid JSON"):
        load_face_model(manifest)


@pytest.mark.parametrize(
    ("threshold", "verdict", "pair"),
    [
        (0.3, "different people", ("obama/obama2.jpg", "obama/obama3.jpg")),
        (0.95, "the same person", ("biden/biden.jpg", "obama/obama2.jpg")),
    ],
)
def test_a_threshold_that_gets_the_known_pairs_wrong_is_refused(
    dlib_manifest: Path,
    demo_photos: Path,
    tmp_path: Path,
    threshold: float,
    verdict: str,
    pair: tuple[str, str],
) -> None:
    fields = json.loads(dlib_manifest.read_text(encoding="utf-8"))
    manifest = write_manifest(tmp_path / MANIFEST_FILE, {**fields, "threshold": threshold})
    _model_folder(dlib_manifest.parent / fields["file"], tmp_path)
    with pytest.raises(ModelVerificationFailed, match=f"{pair[0]} and {pair[1]} {verdict}") as caught:
        load_face_model(manifest, check_photos=demo_photos)
    failed = caught.value
    assert (failed.first, failed.second) == (demo_photos / pair[0], demo_photos / pair[1])
    assert failed.threshold == threshold
    assert failed.distance is not None
    assert (failed.distance > threshold) is (verdict == "different people")


def test_a_network_fed_unnormalised_pixels_fails_its_check(
    arcface_network: Path, demo_photos: Path, tmp_path: Path
) -> None:
    # A manifest that forgot the network's normalisation: valid, the right shapes, and wrong vectors.
    manifest = arcface_like_manifest(_model_folder(arcface_network, tmp_path), mean=[0, 0, 0], std=[1, 1, 1])
    with pytest.raises(ModelVerificationFailed, match="does not fit the network"):
        load_face_model(manifest, check_photos=demo_photos)


def test_missing_check_photos_name_the_command_that_fetches_them(
    dlib_manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default folder, .vigil/demo/photos, is relative to the working directory
    expected = r"no check photos at .*/\.vigil/demo/photos: .*`vigil sim photos --fetch`"
    with pytest.raises(CheckPhotosUnusable, match=expected):
        load_face_model(dlib_manifest)


def test_check_photos_of_one_person_cannot_verify_a_model(dlib_manifest: Path, testdata: Path, tmp_path: Path) -> None:
    (tmp_path / "obama").mkdir()
    for name in ("obama.jpg", "obama2.jpg"):
        (tmp_path / "obama" / name).symlink_to(testdata / "faces" / name)
    with pytest.raises(CheckPhotosUnusable, match=r"\(2 photos of 1 people\) cannot test a model"):
        load_face_model(dlib_manifest, check_photos=tmp_path)
