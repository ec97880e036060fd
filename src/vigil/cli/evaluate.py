"""``vigil evaluate``: recognition measured against ground truth, on labelled photo pairs or on video."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import (
    DetectorKind,
    DetectorOption,
    EmbedderKind,
    EmbedderOption,
    JsonOption,
    MaxSideOption,
    ModelOption,
    UpsampleOption,
    match_threshold,
    vision_settings,
)
from vigil.edge.footage_evaluation import FootageReport, FootageTruth, Pace, PaceRun, evaluate_footage
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.runner import load_watchlist
from vigil.edge.video_spec import open_source
from vigil.vision.evaluation import evaluate_pairs
from vigil.vision.pairs import read_pairs
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import (
    DEFAULT_MAX_SIDE_PX,
    BlazeFaceDetectorSettings,
    OnnxEmbedderSettings,
    SlotEmbedderSettings,
    build_detector,
    build_embedder,
    build_engine,
)
from vigil.vision.verification import VerificationReport
from vigil.watchlist.operating_point import table_for_embedder


def create_evaluate_app() -> typer.Typer:
    """Build the ``vigil evaluate`` command group."""
    group = typer.Typer(
        help="Measure recognition against ground truth: labelled photo pairs, or video.", no_args_is_help=True
    )
    group.command("pairs")(exits_on_vigil_error(pairs))
    group.command("video")(exits_on_vigil_error(video))
    return group


def pairs(
    pairs_file: Annotated[
        Path, typer.Option("--pairs", help="Pairs file: CSV file_x,file_y,Decision or LFW pairs.txt.", exists=True)
    ],
    images: Annotated[Path, typer.Option("--images", help="Folder the pairs file's names refer to.", exists=True)],
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=2.0,
            help="Threshold for the accuracy figure (default 0.6, or the --model manifest's threshold).",
        ),
    ] = None,
    detector: DetectorOption = DetectorKind.HOG,
    upsample: UpsampleOption = 1,
    embedder: EmbedderOption = EmbedderKind.ONNX,
    model: ModelOption = None,
    max_side: MaxSideOption = DEFAULT_MAX_SIDE_PX,
    details: Annotated[bool, typer.Option("--details", help="List every pair's distance and verdict.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Benchmark face verification over labelled pairs: TAR at fixed FAR, EER, accuracy, failed pairs."""
    settings = vision_settings(
        detector=detector, upsample=upsample, embedder=embedder, max_side_px=max_side, model=model
    )
    pair_list = read_pairs(pairs_file, images)
    engine = build_engine(settings)
    limit = match_threshold(engine.embedder, threshold)
    with _progress("embedding images") as progress:
        task = progress.add_task("images", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = evaluate_pairs(engine, pair_list, threshold=limit, details=details, on_progress=advance)
    if json_output:
        typer.echo(report.model_dump_json(indent=2, by_alias=True))
    else:
        print_verification(report, title="Verification benchmark")


def video(
    video_file: Annotated[Path, typer.Argument(help="A video file or a folder of frames.", exists=True)],
    watchlist: Annotated[Path, typer.Option("--watchlist", help="Device package (.vwl) or local watchlist file.")],
    truth: Annotated[
        Path, typer.Option("--truth", help='Ground truth: {"appearances": [{"subject_id", "first_frame", …}]}.')
    ],
    paces: Annotated[
        list[Pace] | None,
        typer.Option(
            "--pace", help="camera (its own pace, frames dropped when behind), fast (every frame), slow (--device-fps)."
        ),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, max=1000, help="Runs per pace.")] = 1,
    device_fps: Annotated[
        float, typer.Option("--device-fps", min=0.1, max=120, help="Frames a second the slow device processes.")
    ] = 5.0,
    device_key: Annotated[Path | None, typer.Option("--device-key", help="This device's key (for a package).")] = None,
    verify_key: Annotated[
        Path | None, typer.Option("--verify-key", help="The command centre's public key (for a package).")
    ] = None,
    device_id: Annotated[str, typer.Option("--device-id", help="The device a package was made for.")] = "cam-1",
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a video through the body camera's recogniser and hold its alerts against ground truth.

    Lists, per run and pace, the people alerted (with frame, video time, distance and the faces that backed
    each alert), those missed, wrong alerts, and seconds from the first clear view to the alert. Exits 1 when a
    run missed someone or alerted wrongly.
    """
    ground_truth = FootageTruth.read(truth)
    embedder = build_embedder(OnnxEmbedderSettings() if model is None else SlotEmbedderSettings(manifest=model))
    loaded = load_watchlist(
        watchlist,
        device_key=device_key,
        verify_key=verify_key,
        device_id=device_id,
        table=table_for_embedder(embedder),
    )
    detector_settings = BlazeFaceDetectorSettings()
    console = Console(stderr=True)

    def told(run: PaceRun) -> None:
        console.print(
            f"{run.pace.value} run {run.run}: found {', '.join(run.found) or 'nobody'}"
            f"{'; missed ' + ', '.join(run.missed) if run.missed else ''}; wrong alerts {run.wrong_alerts}"
        )

    report = evaluate_footage(
        lambda realtime: open_source(str(video_file), realtime=realtime),
        ground_truth,
        loaded,
        video=str(video_file),
        detector=lambda: build_detector(detector_settings),
        embedder=embedder,
        quality_policy=QualityPolicy(),
        settings=RecognitionSettings(),
        paces=paces or list(Pace),
        runs=runs,
        device_fps=device_fps,
        on_run=None if json_output else told,
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_footage(report)
    if not report.every_run_right:
        raise typer.Exit(code=1)


def print_verification(report: VerificationReport, *, title: str) -> None:
    """A verification report as a table, its failed pairs, warnings and (if listed) every pair."""
    console = Console()
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("pairs", str(report.pairs))
    table.add_row("genuine / impostor scored", f"{report.genuine} / {report.impostor}")
    table.add_row("failed pairs", str(len(report.failed)))
    for far, tar in report.tar_at_far.items():
        table.add_row(f"TAR at FAR {far}", "n/a" if tar is None else f"{tar:.4f}")
    table.add_row("EER", "n/a" if report.eer is None else f"{report.eer:.4f}")
    accuracy = report.accuracy_at_default_threshold
    table.add_row(f"accuracy at {report.default_threshold:.2f}", "n/a" if accuracy is None else f"{accuracy:.4f}")
    every = report.accuracy_all_pairs
    table.add_row("accuracy, failed pairs counted", "n/a" if every is None else f"{every:.4f}")
    console.print(table)
    for failure in report.failed:
        console.print(f"[yellow]failed[/yellow] {failure.first} ↔ {failure.second}: {failure.reason}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}")
    for pair in report.details or []:
        verdict = "right" if pair.correct else "[red]wrong[/red]"
        label = "same" if pair.same else "different"
        console.print(f"{pair.distance:.4f} {label:9} {verdict}  {pair.first} ↔ {pair.second}")


def _print_footage(report: FootageReport) -> None:
    console = Console()
    table = Table(
        title=(
            f"{Path(report.video).name}: {report.watchlist_subjects} subjects, threshold {report.threshold:.3f}; "
            f"expected {', '.join(report.expected) or 'nobody'}"
        )
    )
    for column in ("pace", "run", "frames (dropped)", "alerts: subject, frame, s from clear view, distance, faces"):
        table.add_column(column)
    table.add_column("missed")
    table.add_column("wrong", justify="right")
    for run in report.runs:
        alerts = "; ".join(
            f"{a.subject_id} @{a.decided_frame}"
            f" {'' if a.seconds_from_clear_view is None else f'{a.seconds_from_clear_view:.2f} s'}"
            f" d={a.distance:.3f} {a.faces_matched}/{a.faces_searched}"
            for a in run.alerts
        )
        table.add_row(
            run.pace.value,
            str(run.run),
            f"{run.frames_processed} ({run.frames_dropped})",
            alerts or "none",
            ", ".join(run.missed),
            str(run.wrong_alerts),
        )
    console.print(table)


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
