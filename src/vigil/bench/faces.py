"""``vigil bench faces``: the face engine's speed per backend, and each detector's recall, on the test photos."""

from functools import partial
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field

from vigil.bench.recall import RecallReport, measure_recall
from vigil.bench.testdata import read_imglab_boxes
from vigil.bench.timing import Timing, measure
from vigil.vision.alignment import align_face
from vigil.vision.detection import Detector
from vigil.vision.embedding import Embedder
from vigil.vision.engine import FaceEngine
from vigil.vision.image import RgbImage, load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import (
    BlazeFaceDetectorSettings,
    DetectorSettings,
    DlibEmbedderSettings,
    EmbedderSettings,
    HogDetectorSettings,
    OnnxEmbedderSettings,
    SlotEmbedderSettings,
    build_detector,
    build_embedder,
)

DETECTORS: tuple[DetectorSettings, ...] = (
    HogDetectorSettings(upsample=0),
    HogDetectorSettings(upsample=1),
    BlazeFaceDetectorSettings(),
)
EMBEDDERS: tuple[EmbedderSettings, ...] = (
    DlibEmbedderSettings(),
    OnnxEmbedderSettings(threads=1),
    OnnxEmbedderSettings(threads=2),
)


class DetectorFigures(BaseModel):
    """One detector's speed and recall."""

    detector: str = Field(description="Backend and its main setting.")
    frame_640x360: Timing = Field(description="Detection on one 640×360 frame.")
    frame_1280x720: Timing = Field(description="Detection on one 1280×720 frame.")
    recall: RecallReport = Field(description="Recall on detection/training.xml (18 hand-drawn faces).")


class EmbedderFigures(BaseModel):
    """One embedder's speed."""

    embedder: str = Field(description="Backend, and its CPU threads where it has that setting.")
    one_face: Timing = Field(description="Embedding one aligned chip.")
    batch_of_8: Timing = Field(description="Embedding eight chips in one call.")


class EndToEndFigures(BaseModel):
    """Whole-pipeline throughput on a 640×360 frame with one face."""

    detector: str
    embedder: str
    frame: Timing = Field(description="Detect, landmarks, align, quality and embed every face of the frame.")
    faces_per_second: float


class FaceBenchReport(BaseModel):
    """What ``vigil bench faces`` prints."""

    detectors: list[DetectorFigures]
    landmarks_and_alignment: Timing = Field(description="5-point landmarks plus alignment of one face.")
    embedders: list[EmbedderFigures]
    end_to_end: list[EndToEndFigures]
    fast_detector_speedup: float = Field(
        description="HOG (upsample 1) time / BlazeFace time on the 640×360 frame, medians of the same run."
    )
    fast_embedder_speedup: float = Field(
        description="dlib time / ONNX (1 thread) time to embed one face, medians of the same run."
    )


def _label(settings: DetectorSettings) -> str:
    match settings:
        case HogDetectorSettings():
            return f"hog upsample {settings.upsample}"
        case BlazeFaceDetectorSettings():
            return "blazeface"


def _embedder_label(settings: EmbedderSettings) -> str:
    match settings:
        case DlibEmbedderSettings():
            return "dlib"
        case OnnxEmbedderSettings():
            return f"onnx {settings.threads} thread" + ("s" if settings.threads > 1 else "")
        case SlotEmbedderSettings():
            return f"model {settings.manifest.stem}"


def run_face_bench(testdata: Path, *, runs: int) -> FaceBenchReport:
    """Measure the face engine on the project's test photos.

    Args:
        testdata: the test-data folder (see :func:`vigil.bench.testdata.locate_testdata`).
        runs: timed runs per figure; medians are reported.

    Returns:
        Every figure of the benchmark.
    """
    frame_720 = load_image(testdata / "faces" / "obama-720p.jpg")
    frame_360: RgbImage = np.ascontiguousarray(
        cv2.resize(frame_720, (640, 360), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    annotated = read_imglab_boxes(testdata / "detection" / "training.xml")
    landmarker = FivePointLandmarker()
    policy = QualityPolicy()

    detectors: list[tuple[DetectorSettings, Detector]] = [(s, build_detector(s)) for s in DETECTORS]
    detector_figures = [
        DetectorFigures(
            detector=_label(settings),
            frame_640x360=measure(partial(detector.detect, frame_360), runs=runs),
            frame_1280x720=measure(partial(detector.detect, frame_720), runs=runs),
            recall=measure_recall(detector, annotated),
        )
        for settings, detector in detectors
    ]

    box = detectors[1][1].detect(frame_360)[0].box
    landmarks_and_alignment = measure(lambda: align_face(frame_360, landmarker.locate(frame_360, box)), runs=runs)
    chip = align_face(frame_360, landmarker.locate(frame_360, box))

    embedders: list[tuple[str, Embedder]] = []
    embedder_figures = []
    for embedder_settings in EMBEDDERS:
        embedder = build_embedder(embedder_settings)
        embedders.append((_embedder_label(embedder_settings), embedder))
        embedder_figures.append(
            EmbedderFigures(
                embedder=_embedder_label(embedder_settings),
                one_face=measure(partial(embedder.embed, [chip]), runs=runs),
                batch_of_8=measure(partial(embedder.embed, [chip] * 8), runs=max(1, runs // 2)),
            )
        )

    end_to_end = []
    for settings, detector in detectors:
        for embedder_name, embedder in embedders:
            engine = FaceEngine(detector=detector, landmarker=landmarker, embedder=embedder, quality_policy=policy)
            faces = len(engine.find_faces(frame_360))
            timing = measure(partial(engine.analyse, frame_360), runs=runs)
            end_to_end.append(
                EndToEndFigures(
                    detector=_label(settings),
                    embedder=embedder_name,
                    frame=timing,
                    faces_per_second=faces * 1000.0 / timing.median_ms,
                )
            )

    by_label = {figures.detector: figures for figures in detector_figures}
    speedup = by_label["hog upsample 1"].frame_640x360.median_ms / by_label["blazeface"].frame_640x360.median_ms
    by_embedder = {figures.embedder: figures for figures in embedder_figures}
    embedder_speedup = by_embedder["dlib"].one_face.median_ms / by_embedder["onnx 1 thread"].one_face.median_ms
    return FaceBenchReport(
        detectors=detector_figures,
        landmarks_and_alignment=landmarks_and_alignment,
        embedders=embedder_figures,
        end_to_end=end_to_end,
        fast_detector_speedup=speedup,
        fast_embedder_speedup=embedder_speedup,
    )
