import os
from pathlib import Path

import pytest

from vigil.vision.engine import FaceEngine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared test photos: $VIGIL_TESTDATA, else ../shared/testdata beside the repository."""
    path = Path(os.environ.get("VIGIL_TESTDATA", REPO.parent / "shared" / "testdata"))
    if not (path / "faces").is_dir():
        pytest.fail(f"test photos not found at {path}; set VIGIL_TESTDATA")
    return path


@pytest.fixture(scope="session")
def hog_engine() -> FaceEngine:
    """The default engine: HOG upsample 1, dlib landmarks and embedder."""
    from vigil.vision.settings import HogDetectorSettings, VisionSettings, build_engine

    return build_engine(VisionSettings(detector=HogDetectorSettings(upsample=1), max_side_px=1024))
