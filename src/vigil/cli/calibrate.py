"""``vigil calibrate``: the threshold for a false-alert target at each watchlist size, from labelled faces."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import DetectorKind, JsonOption, ModelOption, vision_settings
from vigil.vision.engine import FaceEngine
from vigil.vision.evaluation import score_pairs
from vigil.vision.face_model import FaceModelManifest, ManifestOperatingPoint, Metric
from vigil.vision.model_slot import read_manifest
from vigil.vision.pairs import read_pairs
from vigil.vision.settings import build_engine
from vigil.watchlist.calibration import CalibrationReport, calibrate, pair_distances
from vigil.watchlist.errors import CalibrationError
from vigil.watchlist.labelled_faces import LabelledFaces, embed_identities, load_labelled_faces, save_labelled_faces
from vigil.watchlist.open_set import MIN_PASSERS_BY, OpenSetReport, RatePoint, measure_open_set
from vigil.watchlist.operating_point import table_for_embedder
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


@dataclass(frozen=True)
class _Fusion:
    """How the measurement fuses photos (``--enrol-photos``, ``--probe-frames``, ``--equal-weights``).

    With the true-match rates to report the rates at (``--true-match-rate``).
    """

    enrol_photos: int
    probe_frames: int
    quality_weighted: bool
    true_match_rates: list[float]

    @property
    def fusing(self) -> bool:
        """Whether any photos are fused."""
        return self.enrol_photos > 1 or self.probe_frames > 1


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
    enrol_photos: Annotated[
        int,
        typer.Option("--enrol-photos", min=1, help="Enrol each listed person from the fusion of their first K photos."),
    ] = 1,
    probe_frames: Annotated[
        int, typer.Option("--probe-frames", min=1, help="Search with the fusion of M photos of one person.")
    ] = 1,
    equal_weights: Annotated[
        bool, typer.Option("--equal-weights", help="Fuse photos with equal weights, not by their quality score.")
    ] = False,
    true_match_rates: Annotated[
        list[float] | None,
        typer.Option(
            "--true-match-rate", min=0.0, max=1.0, help="Also report the rates where this share is found (repeat)."
        ),
    ] = None,
    embeddings_cache: Annotated[
        Path | None,
        typer.Option(
            "--embeddings-cache",
            help="Keep the folder's embeddings in this file, and reuse them while the model and the photos are "
            "the same (biometric data: keep it with the photos).",
        ),
    ] = None,
    model: ModelOption = None,
    save_operating_points: Annotated[
        bool,
        typer.Option(
            "--save-operating-points",
            help="Write the thresholds measured at each size into the --model manifest (its operating_points), "
            "so that watchlists of that network run at them.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """The distance threshold for a false-alert target at each watchlist size, from labelled faces.

    With a folder of identities large enough, each size is measured directly (W people listed, every other
    person's photos passing by); otherwise it is extrapolated from pairs, with a warning. With --enrol-photos or
    --probe-frames, several photos of a person are fused into one template or one search; such a measurement is
    made directly only.
    """
    if store is not None and len(watchlist_sizes) != 1:
        raise CalibrationError("--store saves one threshold: give exactly one --watchlist-size with it")
    fusion = _Fusion(
        enrol_photos=enrol_photos,
        probe_frames=probe_frames,
        quality_weighted=not equal_weights,
        true_match_rates=true_match_rates or [],
    )
    if identities is None and (fusion.fusing or embeddings_cache is not None):
        raise CalibrationError("--enrol-photos, --probe-frames and --embeddings-cache need --identities DIR")
    if save_operating_points and (model is None or identities is None or fusion.fusing):
        raise CalibrationError(
            "--save-operating-points writes a force's network's thresholds into its manifest: give --model MANIFEST "
            "and --identities DIR, without --enrol-photos or --probe-frames (watchlists search single faces)"
        )
    engine = build_engine(vision_settings(detector=DetectorKind.HOG, upsample=1, model=model))
    table = table_for_embedder(engine.embedder)
    with Progress(
        TextColumn("embedding photos"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True), transient=True
    ) as progress:
        task = progress.add_task("photos", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if identities is not None:
            faces = _labelled_faces(engine, identities, embeddings_cache, advance)
            output = _from_identities(
                faces,
                watchlist_sizes,
                target,
                fusion,
                unit_length=engine.embedder.model.metric is Metric.COSINE,
                shipped_threshold=table.threshold_for_size,
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
    if save_operating_points and model is not None:
        _save_operating_points(model, output)
    if json_output:
        typer.echo(output.model_dump_json(indent=2))
    else:
        _print(output)


def _labelled_faces(
    engine: FaceEngine, folder: Path, cache: Path | None, advance: Callable[[int, int], None]
) -> LabelledFaces:
    model = engine.embedder.model.model_id
    if cache is not None and cache.exists():
        return load_labelled_faces(cache, model=model, folder=folder)
    faces = embed_identities(engine, folder, on_progress=advance)
    if cache is not None:
        save_labelled_faces(faces, cache, model=model, folder=folder)
    return faces


def _from_identities(
    faces: LabelledFaces,
    sizes: list[int],
    target: float,
    fusion: _Fusion,
    *,
    unit_length: bool,
    shipped_threshold: Callable[[int], float],
) -> CalibrationOutput:
    faces = faces.without_duplicates()
    direct = [size for size in sizes if faces.identities - size >= MIN_PASSERS_BY]
    rest = [size for size in sizes if size not in direct]
    if rest and fusion.fusing:
        raise CalibrationError(
            f"{faces.identities:,} labelled people are too few to measure a watchlist of "
            f"{', '.join(f'{size:,}' for size in rest)} directly, and fused photos are measured directly only: "
            "measure smaller sizes, or label more people"
        )

    def distances() -> tuple[np.ndarray, np.ndarray]:
        labelled = pair_distances(faces)
        return np.asarray(labelled.genuine), np.asarray(labelled.impostor)

    return CalibrationOutput(
        measured=(
            measure_open_set(
                faces,
                sizes=direct,
                target_false_alerts_per_10k=target,
                shipped_threshold=shipped_threshold,
                enrol_photos=fusion.enrol_photos,
                probe_frames=fusion.probe_frames,
                quality_weighted=fusion.quality_weighted,
                unit_length=unit_length,
                true_match_rates=fusion.true_match_rates,
            )
            if direct
            else None
        ),
        extrapolated=_extrapolated(distances, rest, target) if rest else [],
        skipped=list(faces.skipped),
    )


def _save_operating_points(manifest_path: Path, output: CalibrationOutput) -> None:
    """Write the sizes measured directly into the manifest's operating points (any earlier ones replaced)."""
    if output.measured is None or output.extrapolated:
        raise CalibrationError(
            "--save-operating-points keeps measured thresholds only: every --watchlist-size must leave at least "
            f"{MIN_PASSERS_BY} labelled people to pass by"
        )
    manifest = read_manifest(manifest_path)
    points = tuple(
        ManifestOperatingPoint(
            watchlist_size=size.watchlist_size,
            threshold=size.operating_point.threshold,
            false_alerts_per_10k=size.operating_point.false_alerts_per_10k,
            true_match_rate=size.operating_point.true_match_rate or 0.0,
        )
        for size in sorted(output.measured.sizes, key=lambda figures: figures.watchlist_size)
    )
    updated = FaceModelManifest.model_validate({**manifest.model_dump(), "operating_points": points})
    partial = manifest_path.with_name(manifest_path.name + ".partial")
    partial.write_text(updated.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(manifest_path)


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
        fused = ""
        if measured.enrol_photos > 1 or measured.probe_frames > 1:
            weights = "quality-weighted" if measured.quality_weighted else "equal weights"
            fused = (
                f"; enrolled from {measured.enrol_photos} photo(s), searched with {measured.probe_frames} "
                f"photo(s) fused ({weights})"
            )
        table = Table(
            title=(
                f"Measured on {measured.identities:,} people ({measured.photos:,} photos): "
                f"target {measured.target_false_alerts_per_10k:g} false alerts per 10,000 faces{fused}"
            )
        )
        columns = (
            "people listed",
            "threshold",
            "false alerts / 10,000 faces (95 %)",
            "listed found",
            "shipped threshold: false alerts (95 %), found",
            "at fixed shares found: threshold: false alerts (95 %), found",
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
                "\n".join(_rates(point) for point in size.at_true_match_rates),
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
