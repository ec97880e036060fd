"""MediaPipe's BlazeFace face detector, run on Google's ai-edge-litert runtime over a small image pyramid.

BlazeFace's short-range model takes a 128×128 px input and finds faces about 16–100 px wide in it, so a
640×360 px frame squeezed to 128 px loses every face narrower than about 80 px. The network is fully
convolutional, though: it runs unchanged on any input whose sides are multiples of 16 px, with one anchor
grid per input size. So this detector runs it over the whole image at a few scales, from the image shrunk to
128 px on its long side (faces that fill the frame) up to the scale at which the smallest face asked for is
about 20 px wide. Each pass keeps the face sizes it sees well; the passes' detections are merged, in image
pixels, by MediaPipe's weighted non-maximum suppression, and re-framed the way dlib's HOG detector frames a
face, which is what the 5-point landmark model expects.

MediaPipe's full-range model is not used: the runtime cannot resize its input (its graph reshapes to a fixed
anchor count), and covering a frame with its 192 px tiles at about 5 ms each costs more than this pyramid.
"""

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from ai_edge_litert.interpreter import Interpreter

from vigil.vision.detection import Box, Detection
from vigil.vision.errors import ModelLoadFailed
from vigil.vision.image import RgbImage
from vigil.vision.models import BLAZEFACE_SHORT_RANGE, locate_model
from vigil.vision.native_stderr import withholding_stderr_lines

# The short-range model's own input side, and the coarsest pass: the whole image shrunk to 128 px.
_NATIVE_SIDE_PX = 128
# Input sides must divide by the stride of the coarsest feature map.
_SIDE_MULTIPLE_PX = 16
# (stride in px, anchors per cell) of each feature map, from MediaPipe's
# face_detection_short_range_common.pbtxt; every anchor is centred in its cell and has a fixed size, so the
# regressors give box centres as offsets from the cell centre, and box sizes, in input pixels.
_ANCHOR_LAYERS = ((8, 2), (16, 6))
# Width of a HOG-framed face, in model input pixels, that the model still finds with a score of about 0.9
# (measured on 4 portraits shrunk step by step; at 16 px scores fall to 0.6–0.9, at 12 px to about 0.3).
_SMALLEST_FACE_MODEL_PX = 20.0
# The largest scale ratio between neighbouring passes. Each pass keeps raw boxes _BAND_MODEL_PX wide (the
# coarsest keeps larger ones too, the finest smaller ones); the band spans this ratio, so every face size is
# kept by at least one pass. Outside the band the model errs: beyond about 100 px it splits a face into
# several false detections, and below about 24 px it reports a group of small faces as one.
_PYRAMID_STEP = 4.0
_BAND_MODEL_PX = (24.0, 96.0)
# MediaPipe clips logits to ±100; ±80 keeps exp() finite in float32.
_LOGIT_LIMIT = 80.0
_DELEGATE_ANNOUNCEMENT = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."

# From BlazeFace's box (centre cx, cy, size w, h) to dlib HOG's framing of the same face: centre
# (cx + _HOG_SHIFT_X·w, cy + _HOG_SHIFT_Y·h), size (_HOG_SCALE_X·w, _HOG_SCALE_Y·h). Measured as medians over
# 84 pairs of boxes: the 22 single-face photos of testdata faces/ and identities/, each shrunk to 1,024, 896,
# 768 and 640 px (several sizes average out the 1.2× steps of HOG's scale pyramid), wherever
# HogDetector(upsample=1) and this detector both found exactly one face. Re-framed boxes overlap HOG's with a
# mean IoU of 0.80 (0.78 before), and dlib's 5 landmarks predicted from either box differ by 0.8% of the
# inter-ocular distance on average (the worst point of a face: 2.0% on average, 5.9% at most).
_HOG_SHIFT_X = -0.005
_HOG_SHIFT_Y = -0.036
_HOG_SCALE_X = 0.982
_HOG_SCALE_Y = 0.977


class BlazeFaceDetector:
    """BlazeFace (MediaPipe's short-range model) over an image pyramid.

    On a 640×360 px frame it runs 8–10 times as fast as ``HogDetector(upsample=1)`` (one thread) and finds
    faces down to ``min_face_px`` wide. Not thread-safe: each instance owns its runtime interpreters, so use
    one detector per thread.
    """

    def __init__(
        self,
        *,
        min_score: float = 0.65,
        min_face_px: float = 32.0,
        max_input_side_px: int = 1024,
        nms_iou: float = 0.3,
        num_threads: int = 1,
    ) -> None:
        """Load the model and size the pyramid.

        Args:
            min_score: the lowest face probability kept, strictly between 0 and 1. MediaPipe uses 0.5, but
                a pyramid looks at many more windows than one 128 px pass: on Vigil's test photos, textures
                (suits, hands, a seal) then score up to 0.71 while true faces mostly score above 0.75.
            min_face_px: the width, in image pixels, of the smallest (HOG-framed) face to find; the finest
                pass scales the image so that such a face is about 20 px wide in the model's input. Smaller
                values find smaller faces at a cost that grows with the square of 1 / ``min_face_px``.
            max_input_side_px: the longest side, in pixels, of the finest pass's input before it is padded to
                a multiple of 16 px (at least 128). It bounds the work per image: on large images it wins
                over ``min_face_px``.
            nms_iou: detections overlapping more than this intersection over union are merged into one.
            num_threads: CPU threads the runtime uses per inference.

        Raises:
            ValueError: an argument is out of range.
            ModelNotInstalled: the package that ships the model is not installed.
            ModelChecksumMismatch: the installed model file is not the one Vigil was tested with.
            ModelLoadFailed: the runtime cannot load the model file.
        """
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be strictly between 0 and 1, got {min_score}")
        if not min_face_px > 0.0:
            raise ValueError(f"min_face_px must be a positive width in pixels, got {min_face_px}")
        if max_input_side_px < _NATIVE_SIDE_PX:
            raise ValueError(f"max_input_side_px must be at least {_NATIVE_SIDE_PX}, got {max_input_side_px}")
        if not 0.0 < nms_iou < 1.0:
            raise ValueError(f"nms_iou must be strictly between 0 and 1, got {nms_iou}")
        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self._min_logit = math.log(min_score / (1.0 - min_score))
        self._finest_scale_factor = _SMALLEST_FACE_MODEL_PX / min_face_px
        self._max_input_side_px = max_input_side_px
        self._nms_iou = nms_iou
        path = locate_model(BLAZEFACE_SHORT_RANGE)
        most_passes = 1 + _steps_between_passes(max_input_side_px / _NATIVE_SIDE_PX)
        self._passes = [_Pass(path, num_threads=num_threads) for _ in range(most_passes)]

    @property
    def name(self) -> str:
        """``"blazeface"``."""
        return "blazeface"

    def detect(self, image: RgbImage) -> list[Detection]:
        """Find every face; see :meth:`vigil.vision.detection.Detector.detect`.

        Boxes are in the image's pixels, framed like dlib's HOG detector; they may reach past the image's
        edges. Scores are BlazeFace's face probabilities, from ``min_score`` to 1.

        Raises:
            ValueError: ``image`` is not an 8-bit RGB array of shape (height, width, 3), both sides ≥ 1 px.
            ModelLoadFailed: the runtime cannot prepare the model for this image's size.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
            raise ValueError(
                "expected an 8-bit RGB image of shape (height, width, 3) with dtype uint8, "
                f"got shape {image.shape} with dtype {image.dtype}"
            )
        image = np.ascontiguousarray(image)
        scales = self._pyramid_scales(height=image.shape[0], width=image.shape[1])
        finest, coarsest = len(scales) - 1, 0
        found = [
            stage.run(
                image,
                scale=scale,
                min_logit=self._min_logit,
                min_width_px=0.0 if level == finest else _BAND_MODEL_PX[0],
                max_width_px=math.inf if level == coarsest else _BAND_MODEL_PX[1],
            )
            for level, (stage, scale) in enumerate(zip(self._passes[: len(scales)], scales, strict=True))
        ]
        boxes, scores = _weighted_nms(
            np.concatenate([boxes for boxes, _ in found]),
            np.concatenate([scores for _, scores in found]),
            iou_threshold=self._nms_iou,
        )
        return [
            Detection(Box(*(float(v) for v in box)), float(score))
            for box, score in zip(_hog_framing(boxes), scores, strict=True)
        ]

    def _pyramid_scales(self, *, height: int, width: int) -> list[float]:
        """Scales (model input px per image px) of the passes for an image, coarsest first."""
        long_side = max(height, width)
        coarsest = _NATIVE_SIDE_PX / long_side
        # Finest over coarsest scale, computed so that it never exceeds the ratio __init__ made passes for.
        ratio = min(self._finest_scale_factor * long_side, self._max_input_side_px) / _NATIVE_SIDE_PX
        if ratio <= 1.0:
            return [coarsest]
        steps = _steps_between_passes(ratio)
        return [coarsest * ratio ** (step / steps) for step in range(steps + 1)]


def _steps_between_passes(ratio: float) -> int:
    """How many steps of at most _PYRAMID_STEP lead from the coarsest scale to one ``ratio`` times finer."""
    return math.ceil(math.log(ratio) / math.log(_PYRAMID_STEP))


class _Pass:
    """One level of the pyramid: an interpreter, its input buffer and its anchors.

    They are resized only when the input size changes: reallocating the interpreter costs several
    milliseconds, and the frames of one camera keep one size.
    """

    def __init__(self, path: Path, *, num_threads: int) -> None:
        self._path = path
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            # The runtime announces its CPU delegate on the process's first preparation of a model.
            with withholding_stderr_lines(_DELEGATE_ANNOUNCEMENT):
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadFailed(f"ai-edge-litert cannot load {path.name}: {exc}", path=path) from exc
        self._input_index = int(self._interpreter.get_input_details()[0]["index"])
        # Told apart by their last dimension: 16 regressor values per anchor (box centre, box size,
        # 6 keypoints) and 1 classifier logit.
        outputs = {int(out["shape"][-1]): int(out["index"]) for out in self._interpreter.get_output_details()}
        self._regressor_index = outputs[16]
        self._classifier_index = outputs[1]
        self._input_size: tuple[int, int] = (0, 0)
        self._input: npt.NDArray[np.float32] = np.empty((1, 0, 0, 3), dtype=np.float32)  # (1, h, w, 3)
        self._anchors: npt.NDArray[np.float32] = np.empty((0, 2), dtype=np.float32)  # (anchors, 2)

    def run(
        self,
        image: RgbImage,
        *,
        scale: float,
        min_logit: float,
        min_width_px: float,
        max_width_px: float,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Run the model on the image resized by ``scale``.

        Args:
            image: the RGB image, (height, width, 3), C-contiguous.
            scale: model input pixels per image pixel.
            min_logit: the lowest classifier logit kept.
            min_width_px: the narrowest raw box kept, in model input pixels.
            max_width_px: the widest raw box kept, in model input pixels.

        Returns:
            BlazeFace's raw boxes in image pixels, (n, 4) as left, top, right, bottom, and their face
            probabilities, (n,).

        Raises:
            ModelLoadFailed: the runtime cannot prepare the model for this input size.
        """
        height, width = image.shape[:2]
        scaled_width, scaled_height = max(1, round(width * scale)), max(1, round(height * scale))
        self._prepare(
            height=math.ceil(scaled_height / _SIDE_MULTIPLE_PX) * _SIDE_MULTIPLE_PX,
            width=math.ceil(scaled_width / _SIDE_MULTIPLE_PX) * _SIDE_MULTIPLE_PX,
        )
        # Area averaging avoids aliasing when shrinking a lot; at milder scales it costs ~1 ms for no recall.
        interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (scaled_width, scaled_height), interpolation=interpolation)
        # The model takes RGB in [-1, 1]; the padding right and below the image is black (-1).
        self._input[0, :scaled_height, :scaled_width] = resized * np.float32(2.0 / 255.0) - np.float32(1.0)
        self._input[0, scaled_height:, :] = -1.0
        self._input[0, :, scaled_width:] = -1.0
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()

        logits = self._interpreter.get_tensor(self._classifier_index)[0, :, 0]
        candidates = np.flatnonzero(logits >= min_logit)
        regressors = self._interpreter.get_tensor(self._regressor_index)[0, candidates, :4]
        centres = self._anchors[candidates] + regressors[:, :2]
        sizes = regressors[:, 2:]
        kept = (sizes[:, 0] >= min_width_px) & (sizes[:, 0] <= max_width_px) & (sizes > 0.0).all(axis=1)
        image_px_per_input_px = np.array([width / scaled_width, height / scaled_height], dtype=np.float32)
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)[kept] * np.tile(
            image_px_per_input_px, 2
        )
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits[candidates[kept]], -_LOGIT_LIMIT, _LOGIT_LIMIT)))
        return boxes.astype(np.float32), probabilities.astype(np.float32)

    def _prepare(self, *, height: int, width: int) -> None:
        """Size the interpreter, input buffer and anchors for a (height, width) input, unless already so."""
        if (height, width) == self._input_size:
            return
        try:
            self._interpreter.resize_tensor_input(self._input_index, [1, height, width, 3])
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadFailed(
                f"ai-edge-litert cannot run {self._path.name} on a {width}×{height} px input: {exc}",
                path=self._path,
            ) from exc
        self._input_size = (height, width)
        self._input = np.full((1, height, width, 3), -1.0, dtype=np.float32)
        self._anchors = _anchor_centres(height=height, width=width)


def _anchor_centres(*, height: int, width: int) -> npt.NDArray[np.float32]:
    """Anchor centres for a (height, width) input in the model's output order: (anchors, 2) as x, y in px."""
    layers = []
    for stride, per_cell in _ANCHOR_LAYERS:
        rows, columns = np.mgrid[0 : height // stride, 0 : width // stride]
        centres = np.stack([columns.ravel(), rows.ravel()], axis=1) * stride + stride / 2
        layers.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(layers).astype(np.float32)


def _weighted_nms(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], *, iou_threshold: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """MediaPipe's weighted non-maximum suppression.

    The best remaining box claims every remaining box that overlaps it by more than ``iou_threshold``
    (itself included); the claimed boxes are averaged, weighted by score, into one detection with the best
    one's score.

    Args:
        boxes: (n, 4) as left, top, right, bottom, each with positive width and height.
        scores: (n,) probabilities.
        iou_threshold: the intersection over union above which two boxes are one face.

    Returns:
        The merged boxes, (m, 4), and their scores, (m,), best score first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    corners_min = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    corners_max = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    overlap = np.clip(corners_max - corners_min, 0.0, None).prod(axis=2)
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(axis=1)
    similar = overlap / (areas[:, None] + areas[None, :] - overlap) > iou_threshold  # (n, n)
    unclaimed = np.ones(len(scores), dtype=bool)
    merged_boxes, merged_scores = [], []
    for best in range(len(scores)):
        if not unclaimed[best]:
            continue
        claimed = unclaimed & similar[best]
        weights = scores[claimed]
        merged_boxes.append(weights @ boxes[claimed] / weights.sum())
        merged_scores.append(scores[best])
        unclaimed &= ~claimed
    return (
        np.array(merged_boxes, dtype=np.float32).reshape(-1, 4),
        np.array(merged_scores, dtype=np.float32),
    )


def _hog_framing(boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Re-frame BlazeFace boxes, (n, 4) as left, top, right, bottom, the way dlib's HOG detector would."""
    sizes = boxes[:, 2:] - boxes[:, :2]
    shifts = np.array([_HOG_SHIFT_X, _HOG_SHIFT_Y], dtype=np.float32)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2 + sizes * shifts
    half_sizes = sizes * np.array([_HOG_SCALE_X, _HOG_SCALE_Y], dtype=np.float32) / 2
    return np.concatenate([centres - half_sizes, centres + half_sizes], axis=1)
