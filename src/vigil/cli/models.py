"""``vigil models …``: the models Vigil converts on this machine."""

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.bench.testdata import TestdataMissing, face_chips, locate_testdata
from vigil.cli.boundary import exits_on_vigil_error
from vigil.vision.image import RgbImage
from vigil.vision.model_cache import OnnxModelBuild, ensure_onnx_model
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings, build_engine


def create_models_app() -> typer.Typer:
    """Build the ``vigil models`` command group."""
    models = typer.Typer(help="Models Vigil converts and caches on this machine.", no_args_is_help=True)
    models.command("build")(exits_on_vigil_error(build))
    return models


def build(
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Model cache (default $XDG_CACHE_HOME/vigil/models or ~/.cache/vigil/models)."
        ),
    ] = None,
    testdata: Annotated[
        Path | None,
        typer.Option(
            "--testdata",
            help="Test photos whose faces are checked too (default: $VIGIL_TESTDATA or ../shared/testdata, if there).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Convert and verify again even if already cached.")] = False,
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="CPU threads for the check.")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
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
