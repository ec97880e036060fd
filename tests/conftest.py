import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import browser, open_phone_page, playwright_driver, screenshots  # noqa: F401  (fixtures)
from vigil.vision.engine import FaceEngine
from vigil.vision.image import RgbImage
from vigil.vision.model_cache import OnnxModelBuild

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared test photos: $VIGIL_TESTDATA, else ../shared/testdata beside the repository."""
    path = Path(os.environ.get("VIGIL_TESTDATA", REPO.parent / "shared" / "testdata"))
    if not (path / "faces").is_dir():
        pytest.fail(f"test photos not found at {path}; set VIGIL_TESTDATA")
    return path


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A model cache for the session: no test reads or writes the developer's ~/.cache.

    XDG_CACHE_HOME points at it, so the default ONNX embedder (in this process and in the `vigil` subprocesses
    the CLI tests start) converts dlib's model at most once per session, then finds it here.
    """
    base = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(base))
        yield base / "vigil" / "models"


@pytest.fixture(scope="session")
def real_face_chips(testdata: Path) -> list[RgbImage]:
    """The aligned chip of every face HOG finds in the test photos (faces/ and identities/)."""
    from vigil.bench.testdata import face_chips
    from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings, build_engine

    engine = build_engine(
        VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=1024)
    )
    return face_chips(testdata, engine)


@pytest.fixture(scope="session")
def onnx_model(model_cache: Path, real_face_chips: list[RgbImage]) -> OnnxModelBuild:
    """The session's ONNX embedder model, converted (and verified on the test photos' faces) at most once."""
    from vigil.vision.model_cache import ensure_onnx_model

    return ensure_onnx_model(cache_dir=model_cache, face_chips=lambda: real_face_chips)


@pytest.fixture(scope="session")
def hog_engine() -> FaceEngine:
    """The default engine: HOG upsample 1, dlib landmarks, the ONNX embedder."""
    from vigil.vision.settings import HogDetectorSettings, VisionSettings, build_engine

    return build_engine(VisionSettings(detector=HogDetectorSettings(upsample=1), max_side_px=1024))
