import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.bench.gallery import run_gallery_bench
from vigil.cli.app import create_app


def test_gallery_bench_reports_both_indexes_with_full_recall() -> None:
    report = run_gallery_bench(sizes=[3_000], probes_per_size=30)
    assert [(row.templates, row.index) for row in report.rows] == [(3_000, "exact"), (3_000, "hashed")]
    exact, hashed = report.rows
    assert exact.recall_at_1 == 1.0
    assert hashed.agrees_with_exact is not None
    assert hashed.agrees_with_exact >= 0.9
    assert exact.memory_mb == (3_000 * 128 * 4 + 3_000 * 4) / 2**20


def test_face_bench_prints_one_json_document(testdata: Path) -> None:
    result = CliRunner().invoke(create_app(), ["bench", "faces", "--runs", "1", "--testdata", str(testdata), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    detectors = {row["detector"]: row for row in report["detectors"]}
    assert set(detectors) == {"hog upsample 0", "hog upsample 1", "blazeface"}
    assert detectors["hog upsample 1"]["recall"]["found"] == 18
    assert detectors["blazeface"]["recall"]["found"] >= 16
    assert report["fast_detector_speedup"] > 0
