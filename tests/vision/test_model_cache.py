"""Converting dlib's model to ONNX once, verifying it against dlib, and caching only what passed."""

import hashlib
from pathlib import Path

import onnx
import pytest

from tests.vision.test_dlib_net import FIRST_WEIGHT_OFFSET
from vigil.vision.embedding import DlibEmbedder
from vigil.vision.errors import EmbedderVerificationFailed, ModelCacheUnwritable, ModelTruncated
from vigil.vision.image import RgbImage
from vigil.vision.model_cache import (
    SYNTHETIC_CHIPS,
    OnnxModelBuild,
    build_onnx_model,
    converted_model_path,
    default_cache_dir,
    ensure_onnx_model,
    model_digest_path,
)
from vigil.vision.models import DLIB_FACE_RECOGNITION, locate_model
from vigil.vision.onnx_export import CONVERTER_VERSION
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder


@pytest.fixture(scope="module")
def reference() -> DlibEmbedder:
    return DlibEmbedder()


@pytest.mark.parametrize(
    ("xdg_cache_home", "expected"),
    [
        ("/srv/cache", Path("/srv/cache/vigil/models")),
        ("relative/cache", Path("/home/officer/.cache/vigil/models")),  # the XDG spec ignores relative paths
        (None, Path("/home/officer/.cache/vigil/models")),
    ],
)
def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, xdg_cache_home: str | None, expected: Path) -> None:
    monkeypatch.setenv("HOME", "/home/officer")
    if xdg_cache_home is None:
        monkeypatch.delenv("XDG_CACHE_HOME")
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg_cache_home)
    assert default_cache_dir() == expected


def test_the_file_name_names_the_source_and_the_converter() -> None:
    path = converted_model_path(Path("/cache"), "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30")
    assert path == Path(f"/cache/dlib_face_recognition_resnet_model_v1-55533b28a95800a5-c{CONVERTER_VERSION}.onnx")


def test_the_session_model_is_found_not_rebuilt(onnx_model: OnnxModelBuild, model_cache: Path) -> None:
    assert onnx_model.path == converted_model_path(model_cache, DLIB_FACE_RECOGNITION.sha256)
    modified = onnx_model.path.stat().st_mtime_ns
    again = ensure_onnx_model()  # the default cache: $XDG_CACHE_HOME/vigil/models, set for the session
    assert again.path == onnx_model.path
    assert (again.built, again.build_s, again.verification) == (False, None, None)
    assert onnx_model.path.stat().st_mtime_ns == modified
    embedder = build_embedder(OnnxEmbedderSettings(threads=2, cache_dir=model_cache))
    assert embedder.name == "onnx"


def test_the_model_records_its_source(onnx_model: OnnxModelBuild) -> None:
    model = onnx.load(onnx_model.path)
    properties = {entry.key: entry.value for entry in model.metadata_props}
    assert properties == {"source_sha256": DLIB_FACE_RECOGNITION.sha256, "converter_version": str(CONVERTER_VERSION)}
    assert [i.name for i in model.graph.input] == ["chips"]
    assert [o.name for o in model.graph.output] == ["embeddings"]


def test_a_build_is_verified_on_drawn_and_real_faces_then_installed(
    tmp_path: Path, reference: DlibEmbedder, real_face_chips: list[RgbImage]
) -> None:
    cache = tmp_path / "new" / "cache"
    build = build_onnx_model(
        source=locate_model(DLIB_FACE_RECOGNITION),
        expected_sha256=DLIB_FACE_RECOGNITION.sha256,
        cache_dir=cache,
        reference=reference,
        face_chips=real_face_chips[:4],
    )
    assert build.built
    assert build.path == converted_model_path(cache, DLIB_FACE_RECOGNITION.sha256)
    assert sorted(cache.iterdir()) == [build.path, model_digest_path(build.path)]  # no partial file left behind
    assert build.verification is not None
    assert (build.verification.synthetic_chips, build.verification.face_chips) == (SYNTHETIC_CHIPS, 4)
    result = build.verification.result
    assert result.passed
    assert (result.chips, result.pairs) == (SYNTHETIC_CHIPS + 4, 190)
    assert result.min_cosine >= 0.9999
    assert result.decisions_changed == 0


def test_a_model_that_differs_from_dlib_is_not_installed(
    tmp_path: Path, reference: DlibEmbedder, real_face_chips: list[RgbImage]
) -> None:
    # One weight of the first convolution changed from -0.029 to about 480; its own digest, so it parses.
    damaged = bytearray(locate_model(DLIB_FACE_RECOGNITION).read_bytes())
    damaged[FIRST_WEIGHT_OFFSET + 3] ^= 0xFF
    source = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    source.write_bytes(damaged)
    cache = tmp_path / "cache"
    with pytest.raises(EmbedderVerificationFailed, match="does not reproduce dlib's embeddings") as caught:
        build_onnx_model(
            source=source,
            expected_sha256=hashlib.sha256(damaged).hexdigest(),
            cache_dir=cache,
            reference=reference,
            face_chips=real_face_chips[:4],
        )
    assert caught.value.min_cosine < 0.9999
    assert caught.value.path == source
    assert list(cache.iterdir()) == []


def test_a_truncated_source_is_refused_before_anything_is_written(tmp_path: Path, reference: DlibEmbedder) -> None:
    source = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    source.write_bytes(locate_model(DLIB_FACE_RECOGNITION).read_bytes()[:1_000_000])
    cache = tmp_path / "cache"
    with pytest.raises(
        ModelTruncated, match="byte 913,348: the file ends while reading the values of the parameters of layer 51"
    ):
        build_onnx_model(
            source=source, expected_sha256=DLIB_FACE_RECOGNITION.sha256, cache_dir=cache, reference=reference
        )
    assert not cache.exists()


def test_an_unwritable_cache_is_reported(tmp_path: Path, reference: DlibEmbedder) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelCacheUnwritable, match="pass a writable folder as --cache-dir") as caught:
        ensure_onnx_model(cache_dir=blocker / "models")
    assert caught.value.path == blocker / "models"


def test_a_damaged_cached_model_is_converted_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = ensure_onnx_model(cache_dir=cache)
    assert first.built
    damaged = bytearray(first.path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    first.path.write_bytes(bytes(damaged))
    again = ensure_onnx_model(cache_dir=cache)
    assert again.built
    assert again.path.read_bytes() != bytes(damaged)
    assert not ensure_onnx_model(cache_dir=cache).built
