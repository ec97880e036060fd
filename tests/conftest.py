import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import browser, open_phone_page, playwright_driver, screenshots  # noqa: F401  (fixtures)
from vigil.vision.engine import FaceEngine
from vigil.vision.image import RgbImage
from vigil.vision.model_cache import OnnxModelBuild

REPO = Path(__file__).resolve().parents[1]

SLOW_FILES_FIRST = (
    "tests/edge/test_real_footage.py",
    "tests/sim/test_demo.py",
    "tests/command/api/test_roles.py",
    "tests/command/test_scale_out.py",
    "tests/test_cli.py",
    "tests/edge/test_agent.py",
    "tests/edge/test_recognition.py",
    "tests/test_cli_watchlist.py",
    "tests/command/api/test_schemathesis.py",
    "tests/command/web/test_control_room.py",
    "tests/command/web/test_emergency.py",
    "tests/command/web/test_second_verification.py",
    "tests/command/web/test_two_person_verification.py",
    "tests/edge/test_handset_verification.py",
    "tests/vision/test_embedding.py",
    "tests/vision/test_model_slot.py",
    "tests/command/ingestion/test_osmand.py",
    "tests/test_bench_ingest.py",
    "tests/test_cli_edge.py",
    "tests/test_bench.py",
    "tests/sim/test_shift.py",
)
"""The test files that take longest (a CI run's ``--durations``, 2026-12-07), started first.

The workers take whole files in turn (``--dist loadfile``) in collection order (``--no-loadscope-reorder``).
xdist's own order puts the files with the most tests first, and so the long files with few tests (the demo, the
real footage) last, where one worker runs them while the other has nothing left to take.
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run :data:`SLOW_FILES_FIRST` first, in that order; every other file after them, in collection order."""
    rank = {path: n for n, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


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
