"""Face commands: ``vigil detect`` and ``vigil verify``, and the options every face command shares."""

import enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.vision.embedding import DEFAULT_THRESHOLD, Embedder, face_distance
from vigil.vision.engine import Face, FaceEngine, photo_subject
from vigil.vision.errors import ImageError, NoFaceFound
from vigil.vision.image import load_image
from vigil.vision.model_slot import SlotEmbedder
from vigil.vision.quality import FaceQuality
from vigil.vision.settings import (
    DEFAULT_MAX_SIDE_PX,
    BlazeFaceDetectorSettings,
    DetectorSettings,
    DlibEmbedderSettings,
    EmbedderSettings,
    HogDetectorSettings,
    OnnxEmbedderSettings,
    SlotEmbedderSettings,
    VisionSettings,
    build_engine,
)


class DetectorKind(enum.StrEnum):
    """The detector backends a command can use."""

    HOG = "hog"
    BLAZEFACE = "blazeface"


class EmbedderKind(enum.StrEnum):
    """The embedder backends a command can use."""

    DLIB = "dlib"
    ONNX = "onnx"


DetectorOption = Annotated[
    DetectorKind,
    typer.Option("--detector", help="Face detector: hog (accurate on stills) or blazeface (fast, for video)."),
]
UpsampleOption = Annotated[
    int, typer.Option("--upsample", min=0, max=3, help="HOG only: times the image is doubled (finds smaller faces).")
]
EmbedderOption = Annotated[
    EmbedderKind,
    typer.Option(
        "--embedder", help="Face embedder: onnx (dlib's network on ONNX Runtime, fast) or dlib (the reference)."
    ),
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="A face network's manifest (JSON, its ONNX file beside it): run that network instead of --embedder. "
        "It is checked on the demo's photos (.vigil/demo/photos, from `vigil sim photos --fetch`) when loaded.",
        exists=True,
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]
MaxSideOption = Annotated[
    int, typer.Option("--max-side", min=64, max=16384, help="Shrink images to this long side (px) before detection.")
]


def vision_settings(
    *,
    detector: DetectorKind,
    upsample: int,
    embedder: EmbedderKind = EmbedderKind.ONNX,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    threshold: float = DEFAULT_THRESHOLD,
    model: Path | None = None,
) -> VisionSettings:
    """Vision settings from the common command-line options; ``model`` (a manifest, --model) overrides ``embedder``."""
    chosen: DetectorSettings = (
        HogDetectorSettings(upsample=upsample) if detector is DetectorKind.HOG else BlazeFaceDetectorSettings()
    )
    embedding: EmbedderSettings
    if model is not None:
        embedding = SlotEmbedderSettings(manifest=model)
    elif embedder is EmbedderKind.DLIB:
        embedding = DlibEmbedderSettings()
    else:
        embedding = OnnxEmbedderSettings()
    return VisionSettings(detector=chosen, embedder=embedding, max_side_px=max_side_px, match_threshold=threshold)


class BoxReport(BaseModel):
    """A face box in image pixels."""

    left: float
    top: float
    right: float
    bottom: float


class FaceReport(BaseModel):
    """One detected face."""

    box: BoxReport
    score: float = Field(description="Detector confidence; scales differ between detectors.")
    landmarks: list[tuple[float, float]] = Field(description="Five (x, y) points: eye corners and nose base.")
    quality: FaceQuality


class ImageReport(BaseModel):
    """The faces of one image, or why it could not be read."""

    file: str
    width: int | None = None
    height: int | None = None
    faces: list[FaceReport] = Field(default_factory=list)
    error: str | None = Field(None, description="Why the image could not be read; null when it was.")


class DetectReport(BaseModel):
    """What ``vigil detect`` prints."""

    detector: str
    images: list[ImageReport]


class VerifiedImage(BaseModel):
    """The face ``vigil verify`` used from one image."""

    file: str
    faces_found: int = Field(description="Faces found in the image; the one it is of (central and large) is compared.")
    face: FaceReport


class VerifyReport(BaseModel):
    """What ``vigil verify`` prints."""

    distance: float = Field(description="Euclidean embedding distance; smaller is more alike.")
    threshold: float = Field(description="Distance at or below which the faces are taken as the same person.")
    same: bool
    first: VerifiedImage
    second: VerifiedImage


def face_report(face: Face) -> FaceReport:
    """The printable form of a face (no chip, no embedding)."""
    box = face.detection.box
    return FaceReport(
        box=BoxReport(left=box.left, top=box.top, right=box.right, bottom=box.bottom),
        score=face.detection.score,
        landmarks=[(float(x), float(y)) for x, y in face.landmarks.points.tolist()],
        quality=face.quality,
    )


def register_face_commands(app: typer.Typer) -> None:
    """Add ``detect`` and ``verify`` to the ``vigil`` app."""
    app.command("detect")(exits_on_vigil_error(detect))
    app.command("verify")(exits_on_vigil_error(verify))


def detect(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, WebP).", exists=True, dir_okay=False)],
    detector: DetectorOption = DetectorKind.HOG,
    upsample: UpsampleOption = 1,
    max_side: MaxSideOption = DEFAULT_MAX_SIDE_PX,
    json_output: JsonOption = False,
) -> None:
    """Find the faces in images: boxes, landmarks and quality. Exits 1 when any image could not be read."""
    engine = build_engine(vision_settings(detector=detector, upsample=upsample, max_side_px=max_side))
    reports = [_detect_one(engine, path) for path in images]
    report = DetectReport(detector=engine.detector.name, images=reports)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_detections(report)
    if any(image.error is not None for image in reports):
        raise typer.Exit(code=1)


def _detect_one(engine: FaceEngine, path: Path) -> ImageReport:
    try:
        image = load_image(path)
    except ImageError as exc:
        return ImageReport(file=str(path), error=str(exc))
    faces = engine.find_faces(image)
    return ImageReport(
        file=str(path), width=image.shape[1], height=image.shape[0], faces=[face_report(f) for f in faces]
    )


def _print_detections(report: DetectReport) -> None:
    console = Console()
    table = Table(title=f"Faces ({report.detector})")
    for column in ("image", "face", "box (l, t, r, b)", "score", "quality", "problems"):
        table.add_column(column)
    for image in report.images:
        name = Path(image.file).name
        if image.error is not None:
            table.add_row(name, "-", "-", "-", "-", f"[red]{image.error}[/red]")
            continue
        if not image.faces:
            table.add_row(name, "0", "no face found", "", "", "")
        for number, face in enumerate(image.faces, start=1):
            box = face.box
            verdict = f"{face.quality.score:.2f} " + ("ok" if face.quality.passed else "[yellow]poor[/yellow]")
            table.add_row(
                name,
                str(number),
                f"{box.left:.0f}, {box.top:.0f}, {box.right:.0f}, {box.bottom:.0f}",
                f"{face.score:.2f}",
                verdict,
                "; ".join(face.quality.reasons),
            )
    console.print(table)


def verify(
    image_a: Annotated[Path, typer.Argument(help="First image.", exists=True, dir_okay=False)],
    image_b: Annotated[Path, typer.Argument(help="Second image.", exists=True, dir_okay=False)],
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=2.0,
            help="Distance at or below which faces match (default 0.6, or the --model manifest's threshold).",
        ),
    ] = None,
    detector: DetectorOption = DetectorKind.HOG,
    upsample: UpsampleOption = 1,
    embedder: EmbedderOption = EmbedderKind.ONNX,
    model: ModelOption = None,
    max_side: MaxSideOption = DEFAULT_MAX_SIDE_PX,
    json_output: JsonOption = False,
) -> None:
    """Say whether two photos show the same person (each photo's most central large face is compared)."""
    settings = vision_settings(
        detector=detector, upsample=upsample, embedder=embedder, max_side_px=max_side, model=model
    )
    engine = build_engine(settings)
    limit = match_threshold(engine.embedder, threshold)
    first_faces, first = _subject_face(engine, image_a)
    second_faces, second = _subject_face(engine, image_b)
    if first.embedding is None or second.embedding is None:
        raise RuntimeError("the engine returned a face without an embedding")
    distance = face_distance(first.embedding, second.embedding)
    report = VerifyReport(
        distance=distance,
        threshold=limit,
        same=distance <= limit,
        first=VerifiedImage(file=str(image_a), faces_found=first_faces, face=face_report(first)),
        second=VerifiedImage(file=str(image_b), faces_found=second_faces, face=face_report(second)),
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    verdict = "[green]same person[/green]" if report.same else "[red]different people[/red]"
    Console().print(f"{verdict}: distance {report.distance:.3f} (threshold {report.threshold:.2f})")
    for side in (report.first, report.second):
        if not side.face.quality.passed:
            Console().print(f"[yellow]warning[/yellow] {side.file}: {'; '.join(side.face.quality.reasons)}")


def match_threshold(embedder: Embedder, given: float | None) -> float:
    """The one-to-one threshold a command decides by: the one given, else the --model manifest's, else dlib's 0.6."""
    if given is not None:
        return given
    if isinstance(embedder, SlotEmbedder):
        return embedder.manifest.distance_threshold
    return DEFAULT_THRESHOLD


def _subject_face(engine: FaceEngine, path: Path) -> tuple[int, Face]:
    image = load_image(path)
    faces = engine.find_faces(image)
    subject = photo_subject(faces, width=image.shape[1], height=image.shape[0])
    if subject is None:
        raise NoFaceFound("no face found; use a photo where the face is at least 40 px wide", source=str(path))
    return len(faces), engine.embed([subject])[0]
