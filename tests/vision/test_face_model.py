"""The model identity and the manifest a force writes for its own network."""

import math
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.vision.face_model import (
    DLIB_MODEL,
    DLIB_MODEL_ID,
    MODEL_ID_PATTERN,
    Alignment,
    FaceModelManifest,
    Metric,
    cosine_to_distance,
    distance_to_cosine,
)
from vigil.vision.models import DLIB_FACE_RECOGNITION
from vigil.vision.settings import DlibEmbedderSettings, OnnxEmbedderSettings, SlotEmbedderSettings, embedder_model

_SHA = "ab" * 32


def _manifest(**changes: object) -> FaceModelManifest:
    fields: dict[str, object] = {
        "name": "force-net",
        "version": "2.1",
        "licence": "licensed to the force by its supplier",
        "file": "force-net.onnx",
        "sha256": _SHA,
        "alignment": "arcface-112",
        "input_size_px": 112,
        "colour_order": "bgr",
        "layout": "nchw",
        "input_dtype": "float32",
        "mean": (127.5, 127.5, 127.5),
        "std": (127.5, 127.5, 127.5),
        "embedding_size": 512,
        "metric": "cosine",
        "threshold": 0.36,
    }
    fields.update(changes)
    return FaceModelManifest.model_validate(fields)


def test_the_shipped_network_is_named_by_its_weights() -> None:
    assert f"dlib_face_recognition_resnet_model_v1:1:{DLIB_FACE_RECOGNITION.sha256[:12]}" == DLIB_MODEL_ID
    assert re.fullmatch(MODEL_ID_PATTERN, DLIB_MODEL_ID)
    assert DLIB_MODEL.metric is Metric.EUCLIDEAN
    assert DLIB_MODEL.embedding_size == 128


def test_a_manifest_names_its_model_and_converts_its_cosine_threshold() -> None:
    manifest = _manifest()
    assert manifest.identity.model_id == "force-net:2.1:" + _SHA[:12]
    assert re.fullmatch(MODEL_ID_PATTERN, manifest.identity.model_id)
    assert manifest.distance_threshold == pytest.approx(math.sqrt(2 - 2 * 0.36))
    assert Alignment.ARCFACE_112.size_px == 112
    assert Alignment.DLIB_CHIP_150.size_px == 150


@pytest.mark.parametrize("similarity", [-0.5, 0.0, 0.36, 0.9])
def test_cosine_and_distance_convert_both_ways(similarity: float) -> None:
    assert distance_to_cosine(cosine_to_distance(similarity)) == pytest.approx(similarity)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"input_size_px": 150}, "cuts 112 px faces"),
        ({"input_dtype": "uint8"}, "uint8 input takes the pixels as they are"),
        ({"std": (1.0, 0.0, 1.0)}, "std must be positive"),
        ({"threshold": 1.2}, "cosine threshold is a similarity"),
        ({"metric": "euclidean", "threshold": 2.5}, "Euclidean threshold lies in"),
        ({"sha256": "AB" * 32}, "sha256"),
        ({"version": "two words"}, "version"),
        ({"colour": "rgb"}, "colour"),
        (
            {
                "operating_points": [
                    {"watchlist_size": 100, "threshold": 0.8, "false_alerts_per_10k": 1, "true_match_rate": 0.9},
                    {"watchlist_size": 10, "threshold": 0.9, "false_alerts_per_10k": 1, "true_match_rate": 0.9},
                ]
            },
            "increasing order",
        ),
    ],
)
def test_an_inconsistent_manifest_is_refused_with_its_reason(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _manifest(**changes)


def test_the_network_settings_name_is_known_without_loading_it(tmp_path: Path) -> None:
    manifest = _manifest()
    path = tmp_path / "manifest.json"
    path.write_text(manifest.model_dump_json(), encoding="utf-8")  # no ONNX file beside it: nothing is loaded
    assert embedder_model(SlotEmbedderSettings(manifest=path)) == manifest.identity
    assert embedder_model(OnnxEmbedderSettings()) == DLIB_MODEL
    assert embedder_model(DlibEmbedderSettings()) == DLIB_MODEL
