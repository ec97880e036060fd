"""Detection recall against hand-drawn boxes: how many true faces a detector finds, and what else it reports."""

from collections.abc import Sequence

from pydantic import BaseModel, Field

from vigil.bench.testdata import AnnotatedImage
from vigil.vision.detection import Box, Detector
from vigil.vision.image import load_image


class RecallReport(BaseModel):
    """A detector's recall on an annotated set."""

    found: int = Field(description="True faces matched by a detection.")
    total: int = Field(description="True faces in the set.")
    recall: float = Field(description="found / total.")
    false_positives: int = Field(description="Detections that matched no true face.")
    min_iou: float = Field(description="Intersection over union at which a detection matches a true face.")


def match_boxes(truth: Sequence[Box], found: Sequence[Box], *, min_iou: float) -> tuple[int, int]:
    """Match detections to true boxes one to one, greedily by overlap.

    Returns:
        (true boxes matched, detections left unmatched).
    """
    candidates = sorted(((t.iou(f), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)), reverse=True)
    used_truth: set[int] = set()
    used_found: set[int] = set()
    for overlap, ti, fi in candidates:
        if overlap < min_iou:
            break
        if ti not in used_truth and fi not in used_found:
            used_truth.add(ti)
            used_found.add(fi)
    return len(used_truth), len(found) - len(used_found)


def measure_recall(detector: Detector, images: Sequence[AnnotatedImage], *, min_iou: float = 0.3) -> RecallReport:
    """Run a detector over annotated photos and count what it finds.

    Args:
        detector: the detector under test.
        images: photos with their true face boxes.
        min_iou: overlap needed for a match; 0.3 allows for detectors framing a face differently from the
            person who drew the box.

    Returns:
        Matches, total and false positives.
    """
    found = total = false_positives = 0
    for image in images:
        detections = detector.detect(load_image(image.path))
        matched, unmatched = match_boxes(image.boxes, [d.box for d in detections], min_iou=min_iou)
        found += matched
        false_positives += unmatched
        total += len(image.boxes)
    return RecallReport(
        found=found,
        total=total,
        recall=found / total if total else 0.0,
        false_positives=false_positives,
        min_iou=min_iou,
    )
