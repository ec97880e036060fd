"""``vigil bench …``: performance figures, as a table or as one JSON document."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.bench.faces import FaceBenchReport, run_face_bench
from vigil.bench.testdata import locate_testdata
from vigil.cli.boundary import exits_on_vigil_error


def create_bench_app() -> typer.Typer:
    """Build the ``vigil bench`` command group."""
    bench = typer.Typer(help="Measure Vigil's performance on this machine.", no_args_is_help=True)
    bench.command("faces")(exits_on_vigil_error(faces))
    return bench


def faces(
    testdata: Annotated[
        Path | None,
        typer.Option("--testdata", help="Test-data folder (default: $VIGIL_TESTDATA or ../shared/testdata)."),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, max=1000, help="Timed runs per figure (medians).")] = 15,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
) -> None:
    """Face engine speed per backend and each detector's recall on detection/training.xml."""
    Console(stderr=True).print("[dim]measuring the face engine; this takes a minute or two…[/dim]")
    report = run_face_bench(locate_testdata(testdata), runs=runs)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_face_bench(report)


def _print_face_bench(report: FaceBenchReport) -> None:
    console = Console()
    detectors = Table(title="Detectors (median ms)")
    for column in ("detector", "640×360", "1280×720", "recall on training.xml", "false positives"):
        detectors.add_column(column)
    for d in report.detectors:
        detectors.add_row(
            d.detector,
            f"{d.frame_640x360.median_ms:.1f}",
            f"{d.frame_1280x720.median_ms:.1f}",
            f"{d.recall.found}/{d.recall.total}",
            str(d.recall.false_positives),
        )
    console.print(detectors)
    console.print(f"fast detector speed-up over HOG upsample 1 (640×360): {report.fast_detector_speedup:.1f}×")
    console.print(f"landmarks + alignment: {report.landmarks_and_alignment.median_ms:.2f} ms per face")
    embedders = Table(title="Embedders (median ms)")
    for column in ("embedder", "one face", "batch of 8"):
        embedders.add_column(column)
    for e in report.embedders:
        embedders.add_row(e.embedder, f"{e.one_face.median_ms:.1f}", f"{e.batch_of_8.median_ms:.1f}")
    console.print(embedders)
    pipeline = Table(title="End to end, 640×360 frame")
    for column in ("detector", "embedder", "ms per frame", "faces/s"):
        pipeline.add_column(column)
    for p in report.end_to_end:
        pipeline.add_row(p.detector, p.embedder, f"{p.frame.median_ms:.1f}", f"{p.faces_per_second:.1f}")
    console.print(pipeline)
