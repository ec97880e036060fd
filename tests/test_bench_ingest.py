"""``vigil bench ingest`` end to end, briefly: devices → private Mosquitto → ``vigil serve`` → SQLite."""

import pytest
from typer.testing import CliRunner

from vigil.bench.ingest import BenchFailed, run_ingest_bench
from vigil.cli.app import create_app
from vigil.cli.bench import CommandCentreDatabase


def test_a_short_run_commits_every_event_once_and_reports_each_phase() -> None:
    report = run_ingest_bench(
        store=CommandCentreDatabase(),
        databases=["sqlite"],
        devices=3,
        seconds=1.0,
        warmup_s=0.3,
        runs=1,
        window=2,
        positions_rate=150,
        alerts_rate=15,
    )
    (row,) = report.rows
    assert row.database == "sqlite"
    phases = {
        "positions": row.positions,
        "positions_at_aim": row.positions_at_aim,
        "alerts": row.alerts,
        "alerts_at_aim": row.alerts_at_aim,
    }
    for name, phase in phases.items():
        assert phase.published > 0, name
        assert phase.acknowledged == phase.stored == phase.accepted == phase.published, name
        assert (phase.duplicates, phase.rejected, phase.behind) == (0, 0, 0), name
        assert phase.per_second > 0, name
        assert 0 < phase.p50_ms <= phase.p95_ms, name
    assert (row.positions.offered_per_s, row.positions_at_aim.offered_per_s) == (None, 150)
    assert row.alerts_at_aim.per_second == pytest.approx(15, rel=0.5)
    assert 18_000 <= report.probe_bytes <= 24_000
    assert (report.devices, report.runs, report.window) == (3, 1, 2)


def test_an_unknown_database_is_a_clear_error() -> None:
    with pytest.raises(BenchFailed, match="sqlite or a postgresql"):
        run_ingest_bench(store=CommandCentreDatabase(), databases=["mysql://nobody@localhost/x"], runs=1)


def test_the_command_ends_with_a_clear_error_and_no_document() -> None:
    result = CliRunner().invoke(create_app(), ["bench", "ingest", "--db", "oracle://x", "--json"])
    assert result.exit_code == 1
    assert "error: 'oracle://x'" in result.stderr
    assert result.stdout == ""
