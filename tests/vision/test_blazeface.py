import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import pytest

import vigil.vision.blazeface
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.detection import Box, Detection
from vigil.vision.errors import ModelLoadFailed
from vigil.vision.hog import HogDetector
from vigil.vision.image import RgbImage, fit_within, load_image
from vigil.vision.models import DLIB_SHAPE_PREDICTOR_5, locate_model

TrainingResults = list[tuple[list[Box], list[Detection]]]


@pytest.fixture(scope="module")
def detector() -> BlazeFaceDetector:
    return BlazeFaceDetector()


def _photo(testdata: Path, name: str) -> RgbImage:
    image, _ = fit_within(load_image(testdata / name), 1024)
    return image


def _training_boxes(testdata: Path) -> dict[str, list[Box]]:
    """The hand-drawn face boxes of detection/training.xml, by file name."""
    root = ET.parse(testdata / "detection" / "training.xml").getroot()
    return {
        image.attrib["file"]: [
            Box(
                float(box.attrib["left"]),
                float(box.attrib["top"]),
                float(box.attrib["left"]) + float(box.attrib["width"]),
                float(box.attrib["top"]) + float(box.attrib["height"]),
            )
            for box in image.iter("box")
        ]
        for image in root.iter("image")
    }


@pytest.fixture(scope="module")
def training_results(detector: BlazeFaceDetector, testdata: Path) -> TrainingResults:
    """Ground truth and detections for each photo of detection/training.xml."""
    return [
        (truth, detector.detect(load_image(testdata / "detection" / name)))
        for name, truth in _training_boxes(testdata).items()
    ]


@pytest.mark.parametrize("min_iou", [0.3, 0.5])
def test_finds_16_of_the_18_training_faces(training_results: TrainingResults, min_iou: float) -> None:
    truths = [box for truth, _ in training_results for box in truth]
    found = sum(
        any(truth.iou(detection.box) >= min_iou for detection in detections)
        for truth_boxes, detections in training_results
        for truth in truth_boxes
    )
    assert len(truths) == 18
    assert found >= 16, f"found {found} of 18 faces at IoU ≥ {min_iou}"


def test_reports_at_most_one_false_face_on_the_training_photos(training_results: TrainingResults) -> None:
    false = [
        detection
        for truth_boxes, detections in training_results
        for detection in detections
        if all(truth.iou(detection.box) < 0.3 for truth in truth_boxes)
    ]
    assert len(false) <= 1, f"false detections: {false}"


@pytest.mark.parametrize(
    ("photo", "faces"),
    [
        ("faces/obama.jpg", 1),
        ("faces/biden.jpg", 1),
        ("faces/two_people.jpg", 2),
        ("identities/test/kit_with_rose.jpg", 2),
    ],
)
def test_counts_faces(detector: BlazeFaceDetector, testdata: Path, photo: str, faces: int) -> None:
    detections = detector.detect(_photo(testdata, photo))
    assert len(detections) == faces, detections


def test_best_score_first_and_probabilities(training_results: TrainingResults) -> None:
    for _, detections in training_results:
        scores = [detection.score for detection in detections]
        assert scores == sorted(scores, reverse=True)
        assert all(0.65 <= score <= 1.0 for score in scores)  # 0.65: the default min_score


@pytest.mark.parametrize(
    "image",
    [
        np.full((360, 640, 3), 128, dtype=np.uint8),
        np.random.default_rng(7).integers(0, 256, size=(360, 640, 3), dtype=np.uint8),
        np.zeros((64, 48, 3), dtype=np.uint8),
    ],
    ids=["grey", "noise", "tiny-black"],
)
def test_no_face_in_an_empty_picture(detector: BlazeFaceDetector, image: RgbImage) -> None:
    assert detector.detect(image) == []


def _five_landmarks(image: RgbImage, box: Box) -> np.ndarray:
    predictor = dlib.shape_predictor(str(locate_model(DLIB_SHAPE_PREDICTOR_5)))
    rectangle = dlib.rectangle(round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1)
    return np.array([(point.x, point.y) for point in predictor(image, rectangle).parts()], dtype=np.float64)


@pytest.mark.parametrize("long_side_px", [1024, 640, 333])
def test_box_is_framed_like_hog(detector: BlazeFaceDetector, testdata: Path, long_side_px: int) -> None:
    """Odd sizes too: the anchor grid and the padding must follow every input size."""
    image, _ = fit_within(load_image(testdata / "faces" / "obama.jpg"), long_side_px)
    (hog,) = HogDetector(upsample=1).detect(image)
    (blazeface,) = detector.detect(image)
    assert blazeface.box.iou(hog.box) >= 0.75, (blazeface.box, hog.box)  # measured 0.85–0.87
    from_hog, from_blazeface = _five_landmarks(image, hog.box), _five_landmarks(image, blazeface.box)
    interocular = np.linalg.norm(from_hog[0:2].mean(axis=0) - from_hog[2:4].mean(axis=0))
    worst = np.linalg.norm(from_hog - from_blazeface, axis=1).max() / interocular
    assert worst <= 0.05, f"a landmark moved by {worst:.1%} of the inter-ocular distance"  # measured ≤ 3.3%


def test_one_detector_serves_frames_of_any_size(detector: BlazeFaceDetector, testdata: Path) -> None:
    large = _photo(testdata, "faces/two_people.jpg")
    small, _ = fit_within(large, 500)
    first = detector.detect(small)
    detector.detect(large)
    assert detector.detect(small) == first
    assert len(first) == 2


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((360, 640), dtype=np.uint8),
        np.zeros((360, 640, 4), dtype=np.uint8),
        np.zeros((360, 640, 3), dtype=np.float32),
        np.zeros((0, 640, 3), dtype=np.uint8),
        np.zeros((3, 360, 640), dtype=np.uint8),
    ],
    ids=["grey", "rgba", "float", "empty", "channels-first"],
)
def test_refuses_what_is_not_an_rgb_image(detector: BlazeFaceDetector, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=re.escape(f"got shape {image.shape} with dtype {image.dtype}")):
        detector.detect(image)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_score": 0.0}, "min_score must be strictly between 0 and 1, got 0.0"),
        ({"min_score": 1.0}, "min_score must be strictly between 0 and 1, got 1.0"),
        ({"min_face_px": 0.0}, "min_face_px must be a positive width in pixels, got 0.0"),
        ({"max_input_side_px": 64}, "max_input_side_px must be at least 128, got 64"),
        ({"nms_iou": 1.5}, "nms_iou must be strictly between 0 and 1, got 1.5"),
        ({"num_threads": 0}, "num_threads must be at least 1, got 0"),
    ],
)
def test_refuses_bad_settings(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BlazeFaceDetector(**arguments)


@pytest.mark.parametrize(("min_face_px", "faces"), [(24.0, 7), (200.0, 0)])
def test_min_face_px_sets_the_smallest_face_found(testdata: Path, min_face_px: float, faces: int) -> None:
    """The group photo's faces are 37–45 px wide: found when asked for, not when only large ones are."""
    image = load_image(testdata / "detection" / "2007_007763.jpg")
    assert len(BlazeFaceDetector(min_face_px=min_face_px).detect(image)) == faces


def test_a_model_the_runtime_cannot_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    damaged = tmp_path / "face_detection_short_range.tflite"
    damaged.write_bytes(b"not a flatbuffer" * 64)
    monkeypatch.setattr(vigil.vision.blazeface, "locate_model", lambda _: damaged)
    with pytest.raises(ModelLoadFailed, match=r"cannot load face_detection_short_range\.tflite") as caught:
        BlazeFaceDetector()
    assert caught.value.path == damaged
