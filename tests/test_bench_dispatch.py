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


def test_the_dispatch_bench_times_orders_to_devices_and_prints_one_json_document() -> None:
    arguments = ["bench", "dispatch", "--queries", "10", "--largest", "1000", "--delivery-runs", "1", "--json"]
    result = CliRunner().invoke(create_app(), arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {row["units"] for row in report["queries"]} == {1_000}
    assert len(report["queries"]) == 6
    assert report["mismatches"] == 0
    delivery = report["dispatch_to_device"]
    assert (delivery["runs"], delivery["samples"]) == (1, 10)  # every order arrived (else the bench fails)
    assert 0 < delivery["median_ms"] <= delivery["p95_ms"] <= delivery["max_ms"]
