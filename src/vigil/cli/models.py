"""``vigil models …``: the models Vigil converts on this machine, and the face networks a force brings."""

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from vigil.bench.testdata import TestdataMissing, face_chips, locate_testdata
from vigil.cli.boundary import exits_on_vigil_error
from vigil.vision.face_model import Alignment, Metric
from vigil.vision.image import RgbImage
from vigil.vision.model_cache import OnnxModelBuild, ensure_onnx_model
from vigil.vision.model_check import ModelCheck
from vigil.vision.model_slot import load_face_model, read_manifest, write_dlib_manifest
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings, build_engine

CacheDirOption = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Model cache (default $XDG_CACHE_HOME/vigil/models or ~/.cache/vigil/models)."),
]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, max=64, help="CPU threads for the check.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]


class DlibManifestReport(BaseModel):
    """What ``vigil models manifest-dlib`` prints."""

    manifest: Path = Field(description="The manifest written.")
    file: Path = Field(description="The ONNX file beside it.")
    model_id: str = Field(description="The model id embeddings made with it carry.")


class ModelCheckReport(BaseModel):
    """What ``vigil models check`` prints: the network a manifest describes, and how it did on the check photos."""

    manifest: Path
    model_id: str = Field(description="name:version:sha256-prefix, as templates, packages and alerts carry it.")
    licence: str
    alignment: Alignment
    metric: Metric
    embedding_size: int
    threshold: float = Field(description="The manifest's threshold, in the network's own terms.")
    input_shape: list[int | str] = Field(description="The network's input tensor (a name where an axis is free).")
    output_shape: list[int | str] = Field(description="Its output tensor.")
    providers: list[str] = Field(description="ONNX Runtime execution providers it ran on.")
    check: ModelCheck


def create_models_app() -> typer.Typer:
    """Build the ``vigil models`` command group."""
    models = typer.Typer(
        help="Models Vigil converts and caches on this machine, and face networks a force brings.",
        no_args_is_help=True,
    )
    models.command("build")(exits_on_vigil_error(build))
    models.command("manifest-dlib")(exits_on_vigil_error(manifest_dlib))
    models.command("check")(exits_on_vigil_error(check))
    return models


def build(
    cache_dir: CacheDirOption = None,
    testdata: Annotated[
        Path | None,
        typer.Option(
            "--testdata",
            help="Test photos whose faces are checked too (default: $VIGIL_TESTDATA or ../shared/testdata, if there).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Convert and verify again even if already cached.")] = False,
    threads: ThreadsOption = 1,
    json_output: JsonOption = False,
) -> None:
    """Convert dlib's face model to ONNX, check it against dlib, and store it in the model cache."""
    console = Console(stderr=True)

    def real_face_chips() -> Sequence[RgbImage]:
        try:
            folder = locate_testdata(testdata)
        except TestdataMissing:
            if testdata is not None:
                raise
            console.print("[dim]no test photos found: checking on drawn faces only[/dim]")
            return []
        console.print(f"[dim]converting and checking against dlib, with the faces in {folder}…[/dim]")
        engine = build_engine(
            VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=1024)
        )
        return face_chips(folder, engine)

    report = ensure_onnx_model(cache_dir=cache_dir, threads=threads, face_chips=real_face_chips, force=force)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_build(report)


def _print_build(report: OnnxModelBuild) -> None:
    console = Console()
    if report.verification is None or report.build_s is None:
        console.print(f"already built and verified: {report.path}", soft_wrap=True)
        return
    result = report.verification.result
    table = Table(title="ONNX embedder against dlib")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "chips (drawn + real faces)", f"{report.verification.synthetic_chips} + {report.verification.face_chips}"
    )
    table.add_row("lowest cosine similarity", f"{result.min_cosine:.9f}")
    table.add_row("largest component difference", f"{result.max_abs_diff:.2e}")
    table.add_row("largest pair distance difference", f"{result.max_distance_diff:.2e}")
    table.add_row(f"decisions changed (of {result.pairs} pairs)", str(result.decisions_changed))
    table.add_row("build time", f"{report.build_s:.1f} s")
    console.print(table)
    console.print(f"verified and stored: {report.path}", soft_wrap=True)


def manifest_dlib(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model and its manifest.json to.")],
    cache_dir: CacheDirOption = None,
    threads: ThreadsOption = 1,
    json_output: JsonOption = False,
) -> None:
    """Write dlib's verified ONNX conversion and its manifest, as a force's own face network would arrive.

    The folder then loads in the model slot (--model OUT_DIR/manifest.json; `vigil models check`).
    """
    build_report = ensure_onnx_model(cache_dir=cache_dir, threads=threads)
    try:
        manifest = write_dlib_manifest(onnx_model=build_report.path, out_dir=out_dir)
    except OSError as exc:
        typer.echo(f"error: cannot write the model to {out_dir}: {exc}", err=True)
        raise typer.Exit(code=1) from None
    written = read_manifest(manifest)
    report = DlibManifestReport(manifest=manifest, file=out_dir / written.file, model_id=written.identity.model_id)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        Console().print(f"wrote {report.manifest} for {report.file.name} ({report.model_id})", soft_wrap=True)


def check(
    manifest: Annotated[Path, typer.Argument(help="The model's manifest (JSON).", exists=True, dir_okay=False)],
    check_photos: Annotated[
        Path | None,
        typer.Option(
            "--check-photos",
            help="Folder with a sub-folder of photos per person the model must tell apart (default "
            ".vigil/demo/photos, from `vigil sim photos --fetch`).",
        ),
    ] = None,
    threads: ThreadsOption = 1,
    json_output: JsonOption = False,
) -> None:
    """Load a face network from its manifest, check it against the manifest, and verify it on known photos."""
    embedder = load_face_model(manifest, threads=threads, check_photos=check_photos)
    described = embedder.manifest
    report = ModelCheckReport(
        manifest=manifest,
        model_id=embedder.model.model_id,
        licence=described.licence,
        alignment=described.alignment,
        metric=described.metric,
        embedding_size=described.embedding_size,
        threshold=described.threshold,
        input_shape=embedder.input_shape,
        output_shape=embedder.output_shape,
        providers=embedder.providers,
        check=embedder.check,
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_check(report)


def _print_check(report: ModelCheckReport) -> None:
    console = Console()
    console.print(f"[green]verified[/green] {report.model_id} ({report.manifest})", soft_wrap=True)
    console.print(
        f"licence: {report.licence}\n"
        f"alignment {report.alignment.value}; input {report.input_shape} -> output {report.output_shape}; "
        f"{report.metric.value}, threshold {report.threshold:g} (distance {report.check.threshold:.4f})\n"
        f"runs on: {', '.join(report.providers)}",
        soft_wrap=True,
    )
    table = Table(title=f"Check photos: {report.check.photos} of {report.check.people} people ({report.check.folder})")
    for column in ("first", "second", "pair", "distance"):
        table.add_column(column, justify="right" if column == "distance" else "left")
    for pair in report.check.pairs:
        table.add_row(
            pair.first, pair.second, "same person" if pair.same_person else "different", f"{pair.distance:.4f}"
        )
    console.print(table)
