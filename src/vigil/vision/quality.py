"""Face quality from measurable parts, each reported with its value, so a later stage can refuse a face and say why.

Parts, all measured on the detected face and its aligned chip:

========== ============================================== ===========================================
part        value                                           why it matters
========== ============================================== ===========================================
face_size   distance between the eye centres, pixels        small faces carry less of a person
sharpness   share of the face's contrast in its finest      blur erases identity, and blurred
            detail, at a fixed scale (see below)            strangers look alike
yaw         nose offset from the eyes' midpoint / eye gap    turned faces embed far from frontal ones
roll        angle of the line through the eyes, degrees     alignment undoes roll, unless extreme
brightness  mean grey level of the chip's centre, 0–255      under- and over-exposure hide features
clipping    fraction of the chip's centre at 0–7 or 248–255  blown highlights, crushed shadows, or a face
                                                            cut off by the frame edge (padded black)
========== ============================================== ===========================================

Each part scores 0 at its refusal bound and 1 at its "good" bound, linearly between. A face passes when every
part passes; its overall score is its weakest part's.

Sharpness is the variance of the Laplacian of the face's centre over the variance of its grey levels, measured
where blur means the same for every face: the chip (whose eyes are 52 px apart) is shrunk until the eyes are
24 px apart, or to the face's own size in the frame if that is smaller. Measured on the chip itself, a small face
that the chip enlarges looked blurred however sharp it was, and the gate refused real video frames that the
network recognises well; and without dividing by the contrast, a low-contrast frame looked blurred and a blurred
studio portrait sharp.

The bounds come from the network, on real faces (LFW pairs, folds 3 and 4, 1,200 pairs; dlib's ResNet):

* face size: shrinking the photos from a 24 px eye gap to 20, 16 and 12 px raised the equal error rate from
  1.0 % to 1.35 %, 1.5 % and 2.0 %: most of the loss comes below 16 px. Faces are refused below 14 px and score
  1 from 20 px.
* sharpness: a Gaussian blur of σ 1, 1.5, 2 and 3 px on the 24 px faces gave sharpness 0.10, 0.058, 0.037 and
  0.022 (medians; 0.32 unblurred) and raised the equal error rate from 1.0 % to 2.2 %, 3.9 %, 6.8 % and 23 %,
  while the nearest strangers came closer (1st percentile of different-person distances 0.64 → 0.59 at σ 2).
  Faces are refused below 0.035 and score 1 from 0.12.
* roll: alignment rotates the face upright; the corridor clip's man at a 40° tilt embeds as near his other
  clip's frontal faces as his upright ones do. Faces are refused beyond 50° and score 1 within 25°.
"""

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.vision.image import RgbImage
from vigil.vision.landmarks import FaceLandmarks

# The chip's centre (rows and columns 25–125 of 150) holds the face itself; its margins hold hair and background.
_CHIP_SIDE_PX = 150
_CENTRE_FROM, _CENTRE_TO = 25, 125
_CENTRE = slice(_CENTRE_FROM, _CENTRE_TO)
# dlib's chip puts the eye centres about 52 px apart; sharpness is measured with them at most 24 px apart.
_CHIP_EYE_GAP_PX = 52.0
_SHARPNESS_EYE_GAP_PX = 24.0
_FLAT = 1.0
_CLIP_LOW = 8
_CLIP_HIGH = 247


class QualityPolicy(BaseModel):
    """The bounds that decide whether a face is good enough to embed and search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_interocular_px: float = Field(14.0, gt=0, le=500, description="Eye gap below which a face is refused.")
    good_interocular_px: float = Field(20.0, gt=0, le=1000, description="Eye gap that scores 1 for size.")
    min_sharpness: float = Field(0.035, ge=0, description="Sharpness below which a face is refused.")
    good_sharpness: float = Field(0.12, gt=0, description="Sharpness that scores 1.")
    max_abs_yaw: float = Field(0.35, gt=0, le=1, description="Largest |nose offset / eye gap| accepted.")
    good_abs_yaw: float = Field(0.15, ge=0, le=1, description="|nose offset / eye gap| that scores 1.")
    max_abs_roll_deg: float = Field(50.0, gt=0, le=90, description="Largest eye-line tilt accepted, degrees.")
    good_abs_roll_deg: float = Field(25.0, ge=0, le=90, description="Eye-line tilt that scores 1, degrees.")
    min_brightness: float = Field(40.0, ge=0, le=255, description="Darkest mean grey level accepted.")
    max_brightness: float = Field(220.0, ge=0, le=255, description="Brightest mean grey level accepted.")
    good_brightness_low: float = Field(70.0, ge=0, le=255, description="Lower end of the ideal grey level.")
    good_brightness_high: float = Field(180.0, ge=0, le=255, description="Upper end of the ideal grey level.")
    max_clipped_fraction: float = Field(0.3, gt=0, le=1, description="Largest share of clipped pixels.")
    good_clipped_fraction: float = Field(0.05, ge=0, le=1, description="Share of clipped pixels scoring 1.")

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> "QualityPolicy":
        pairs = [
            ("min_interocular_px", self.min_interocular_px, "good_interocular_px", self.good_interocular_px),
            ("min_sharpness", self.min_sharpness, "good_sharpness", self.good_sharpness),
            ("good_abs_yaw", self.good_abs_yaw, "max_abs_yaw", self.max_abs_yaw),
            ("good_abs_roll_deg", self.good_abs_roll_deg, "max_abs_roll_deg", self.max_abs_roll_deg),
            ("min_brightness", self.min_brightness, "good_brightness_low", self.good_brightness_low),
            (
                "good_brightness_low",
                self.good_brightness_low,
                "good_brightness_high",
                self.good_brightness_high,
            ),
            ("good_brightness_high", self.good_brightness_high, "max_brightness", self.max_brightness),
            (
                "good_clipped_fraction",
                self.good_clipped_fraction,
                "max_clipped_fraction",
                self.max_clipped_fraction,
            ),
        ]
        for low_name, low, high_name, high in pairs:
            if low >= high:
                raise ValueError(f"{low_name} ({low}) must be below {high_name} ({high})")
        return self


class QualityPart(BaseModel):
    """One measured part of a face's quality."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Which part: face_size, sharpness, yaw, roll, brightness or clipping.")
    value: float = Field(description="The measurement, in the unit given.")
    unit: str = Field(description="Unit of the value.")
    score: float = Field(ge=0, le=1, description="0 at the refusal bound, 1 at the good bound.")
    passed: bool = Field(description="Whether the value is within the policy's refusal bound.")
    reason: str | None = Field(None, description="Why the part failed, for a person; null when it passed.")


class FaceQuality(BaseModel):
    """The quality verdict for one face."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0, le=1, description="The weakest part's score.")
    passed: bool = Field(description="True when every part passed.")
    parts: list[QualityPart] = Field(description="Every part, in a fixed order.")

    @property
    def reasons(self) -> list[str]:
        """The failed parts' reasons, in order."""
        return [part.reason for part in self.parts if part.reason is not None]


def assess_quality(chip: RgbImage, landmarks: FaceLandmarks, policy: QualityPolicy) -> FaceQuality:
    """Measure every quality part of one face.

    Args:
        chip: the face's aligned 150×150 chip.
        landmarks: the face's landmarks in the original image (size and pose are measured there).
        policy: the bounds to judge by.

    Returns:
        The verdict with every part.
    """
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)[_CENTRE, _CENTRE]
    eye_gap = landmarks.interocular_px
    eye_line = landmarks.image_right_eye - landmarks.image_left_eye
    roll_deg = float(np.degrees(np.arctan2(eye_line[1], eye_line[0])))
    # Signed offset of the nose from the eyes' midpoint, along the eye line: 0 for a frontal face.
    along = eye_line / max(eye_gap, 1e-6)
    midpoint = (landmarks.image_right_eye + landmarks.image_left_eye) / 2
    yaw = float(np.dot(landmarks.nose - midpoint, along)) / max(eye_gap, 1e-6)
    sharpness = _sharpness(chip, eye_gap)
    brightness = float(grey.mean())
    clipped = float(np.mean((grey < _CLIP_LOW) | (grey > _CLIP_HIGH)))

    p = policy
    parts = [
        _at_least(
            "face_size",
            eye_gap,
            "px between eyes",
            p.min_interocular_px,
            p.good_interocular_px,
            "the face is too small: eyes {value:.0f} px apart, at least {bound:.0f} px needed",
        ),
        _at_least(
            "sharpness",
            sharpness,
            "fine detail / contrast",
            p.min_sharpness,
            p.good_sharpness,
            "the face is blurred: sharpness {value:.3f}, at least {bound:.3f} needed",
        ),
        _at_most(
            "yaw",
            abs(yaw),
            "nose offset / eye gap",
            p.good_abs_yaw,
            p.max_abs_yaw,
            "the face is turned sideways: yaw ratio {value:.2f}, at most {bound:.2f} accepted",
        ),
        _at_most(
            "roll",
            abs(roll_deg),
            "degrees",
            p.good_abs_roll_deg,
            p.max_abs_roll_deg,
            "the head is tilted {value:.0f}°, at most {bound:.0f}° accepted",
        ),
        _brightness(brightness, p),
        _at_most(
            "clipping",
            clipped,
            "fraction of pixels",
            p.good_clipped_fraction,
            p.max_clipped_fraction,
            "{value:.0%} of the face is blown out, black or outside the frame; at most {bound:.0%} accepted",
        ),
    ]
    return FaceQuality(score=min(part.score for part in parts), passed=all(part.passed for part in parts), parts=parts)


def _sharpness(chip: RgbImage, eye_gap_px: float) -> float:
    """Laplacian variance over grey-level variance of the face's centre, eyes at most 24 px apart (module docstring)."""
    factor = min(max(eye_gap_px, 1.0), _SHARPNESS_EYE_GAP_PX) / _CHIP_EYE_GAP_PX
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    side = small.shape[0]
    inner = slice(round(side * _CENTRE_FROM / _CHIP_SIDE_PX), round(side * _CENTRE_TO / _CHIP_SIDE_PX))
    centre = small[inner, inner]
    contrast = float(centre.var())
    if contrast < _FLAT:
        return 0.0  # a face of one grey level has no detail at all
    return float(cv2.Laplacian(centre, cv2.CV_32F).var()) / contrast


def _at_least(name: str, value: float, unit: str, minimum: float, good: float, message: str) -> QualityPart:
    passed = value >= minimum
    score = float(np.clip((value - minimum) / (good - minimum), 0.0, 1.0))
    reason = None if passed else message.format(value=value, bound=minimum)
    return QualityPart(name=name, value=value, unit=unit, score=score, passed=passed, reason=reason)


def _at_most(name: str, value: float, unit: str, good: float, maximum: float, message: str) -> QualityPart:
    passed = value <= maximum
    score = float(np.clip((maximum - value) / (maximum - good), 0.0, 1.0))
    reason = None if passed else message.format(value=value, bound=maximum)
    return QualityPart(name=name, value=value, unit=unit, score=score, passed=passed, reason=reason)


def _brightness(value: float, policy: QualityPolicy) -> QualityPart:
    if value < policy.good_brightness_low:
        part = _at_least(
            "brightness",
            value,
            "mean grey level",
            policy.min_brightness,
            policy.good_brightness_low,
            "the face is too dark: mean grey level {value:.0f}, at least {bound:.0f} needed",
        )
    else:
        part = _at_most(
            "brightness",
            value,
            "mean grey level",
            policy.good_brightness_high,
            policy.max_brightness,
            "the face is over-exposed: mean grey level {value:.0f}, at most {bound:.0f} accepted",
        )
    return part
