import json

from typer.testing import CliRunner

from vigil.bench.dispatch import run_dispatch_bench
from vigil.cli.app import create_app


def test_every_answer_of_the_dispatch_bench_equals_checking_every_unit() -> None:
    report = run_dispatch_bench(sizes=[2_000], queries=20, area_sizes_m=[300.0, 3_000.0])
    assert [(row.shape, row.size_m, row.queries) for row in report.queries] == [
        ("circle", 300.0, 20),
        ("circle", 3_000.0, 20),
        ("polygon", 300.0, 20),
        ("polygon", 3_000.0, 20),
    ]
    assert report.mismatches == 0
    assert sum(row.mean_found for row in report.queries) > 20  # the areas are where the units are
    (index,) = report.indexes
    assert index.moves == 2 * 2_000  # every unit moved every 5 s, for 10 s
    assert report.dispatch_to_device is None


def test_the_dispatch_bench_prints_one_json_document() -> None:
    result = CliRunner().invoke(create_app(), ["bench", "dispatch", "--queries", "10", "--largest", "1000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {row["units"] for row in report["queries"]} == {1_000}
    assert len(report["queries"]) == 6
    assert report["mismatches"] == 0
    assert report["dispatch_to_device"] is None
