"""``vigil calibrate``: the threshold for a false-alert target at each watchlist size, from labelled faces."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import DetectorKind, JsonOption, vision_settings
from vigil.vision.evaluation import score_pairs
from vigil.vision.pairs import read_pairs
from vigil.vision.settings import build_engine
from vigil.watchlist.calibration import CalibrationReport, calibrate, pair_distances
from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.labelled_faces import LabelledFaces, embed_identities
from vigil.watchlist.open_set import MIN_PASSERS_BY, OpenSetReport, RatePoint, measure_open_set
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.store import WatchlistStore


class CalibrationOutput(BaseModel):
    """What ``vigil calibrate`` prints."""

    measured: OpenSetReport | None = Field(
        description="Sizes measured directly: W labelled people listed, everyone else's faces searched."
    )
    extrapolated: list[CalibrationReport] = Field(
        description="Sizes the labelled set is too small to measure, from its pairs by the independence formula."
    )
    skipped: list[str] = Field(description="Photos without a usable face, or filed under two people.")


def register_calibrate_command(app: typer.Typer) -> None:
    """Add ``calibrate`` to the ``vigil`` app."""
    app.command("calibrate")(exits_on_vigil_error(calibrate_command))


def calibrate_command(
    watchlist_sizes: Annotated[
        list[int], typer.Option("--watchlist-size", min=1, help="People on the watchlist (repeat for several).")
    ],
    identities: Annotated[
        Path | None, typer.Option("--identities", help="Folder with a sub-folder of photos per person.")
    ] = None,
    pairs: Annotated[Path | None, typer.Option("--pairs", help="A labelled pairs file (CSV or LFW).")] = None,
    images: Annotated[Path | None, typer.Option("--images", help="Folder the pairs file refers to.")] = None,
    target: Annotated[
        float, typer.Option("--target", help="False alerts allowed per 10,000 faces of people not on the watchlist.")
    ] = 1.0,
    store: Annotated[
        Path | None, typer.Option("--store", help="Save the threshold in this watchlist file (one size only).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The distance threshold for a false-alert target at each watchlist size, from labelled faces.

    With a folder of identities large enough, each size is measured directly (W people listed, every other
    person's photos passing by); otherwise it is extrapolated from pairs, with a warning.
    """
    if store is not None and len(watchlist_sizes) != 1:
        raise CalibrationError("--store saves one threshold: give exactly one --watchlist-size with it")
    engine = build_engine(vision_settings(detector=DetectorKind.HOG, upsample=1))
    with Progress(
        TextColumn("embedding photos"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True), transient=True
    ) as progress:
        task = progress.add_task("photos", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if identities is not None:
            output = _from_identities(
                embed_identities(engine, identities, on_progress=advance), watchlist_sizes, target
            )
        elif pairs is not None and images is not None:
            scored = score_pairs(engine, read_pairs(pairs, images), on_progress=advance)
            output = CalibrationOutput(
                measured=None,
                extrapolated=_extrapolated(lambda: (scored.genuine, scored.impostor), watchlist_sizes, target),
                skipped=[f"{f.first} ↔ {f.second}: {f.reason}" for f in scored.failed],
            )
        else:
            raise CalibrationError("give --identities DIR, or --pairs FILE with --images DIR")
    if store is not None:
        with WatchlistStore.open(store) as watchlist:
            watchlist.set_threshold(_thresholds(output)[0])
    if json_output:
        typer.echo(output.model_dump_json(indent=2))
    else:
        _print(output)


def _from_identities(faces: LabelledFaces, sizes: list[int], target: float) -> CalibrationOutput:
    faces = faces.without_duplicates()
    direct = [size for size in sizes if faces.identities - size >= MIN_PASSERS_BY]
    rest = [size for size in sizes if size not in direct]

    def distances() -> tuple[np.ndarray, np.ndarray]:
        labelled = pair_distances(faces)
        return np.asarray(labelled.genuine), np.asarray(labelled.impostor)

    return CalibrationOutput(
        measured=(
            measure_open_set(
                faces, sizes=direct, target_false_alerts_per_10k=target, shipped_threshold=threshold_for_size
            )
            if direct
            else None
        ),
        extrapolated=_extrapolated(distances, rest, target) if rest else [],
        skipped=list(faces.skipped),
    )


def _extrapolated(
    distances: Callable[[], tuple[np.ndarray, np.ndarray]], sizes: list[int], target: float
) -> list[CalibrationReport]:
    genuine, impostor = distances()
    return [
        calibrate(
            genuine=genuine.astype(np.float64),
            impostor=impostor.astype(np.float64),
            watchlist_size=size,
            target_false_alerts_per_10k=target,
        )
        for size in sizes
    ]


def _thresholds(output: CalibrationOutput) -> list[float]:
    measured = [size.operating_point.threshold for size in output.measured.sizes] if output.measured else []
    return measured + [report.threshold for report in output.extrapolated]


def _found(point: RatePoint) -> str:
    return "n/a" if point.true_match_rate is None else f"{point.true_match_rate:.1%}"


def _rates(point: RatePoint) -> str:
    return (
        f"{point.threshold:.4f}: {point.false_alerts_per_10k:.2f} ({point.false_alerts_per_10k_low:.2f}–"
        f"{point.false_alerts_per_10k_high:.2f}), {_found(point)}"
    )


def _print(output: CalibrationOutput) -> None:
    console = Console()
    if output.measured is not None:
        measured = output.measured
        table = Table(
            title=(
                f"Measured on {measured.identities:,} people ({measured.photos:,} photos): "
                f"target {measured.target_false_alerts_per_10k:g} false alerts per 10,000 faces"
            )
        )
        columns = (
            "people listed",
            "threshold",
            "false alerts / 10,000 faces (95 %)",
            "listed found",
            "shipped threshold: false alerts (95 %), found",
            "draws",
        )
        for column in columns:
            table.add_column(column, justify="right")
        for size in measured.sizes:
            point = size.operating_point
            table.add_row(
                f"{size.watchlist_size:,}",
                f"{point.threshold:.4f}",
                f"{point.false_alerts_per_10k:.2f} ({point.false_alerts_per_10k_low:.2f}–"
                f"{point.false_alerts_per_10k_high:.2f})",
                _found(point),
                "" if size.at_shipped_threshold is None else _rates(size.at_shipped_threshold),
                str(size.draws),
            )
        console.print(table)
        for size in measured.sizes:
            for warning in size.warnings:
                console.print(f"[yellow]warning[/yellow] {warning}")
    for report in output.extrapolated:
        one_in = "never" if report.one_false_alert_in_faces is None else f"{report.one_false_alert_in_faces:,.0f}"
        console.print(
            f"watchlist of {report.watchlist_size:,}: threshold [bold]{report.threshold:.4f}[/bold] "
            f"({report.method}, extrapolated from pairs) gives {report.expected_false_alerts_per_10k_faces:.3g} "
            f"false alerts per 10,000 faces (one in {one_in}); true match rate {report.true_match_rate}"
        )
        for warning in report.warnings:
            console.print(f"[yellow]warning[/yellow] {warning}")
