"""``vigil bench ingest`` end to end, briefly: devices → private Mosquitto → ``vigil serve`` → SQLite."""

import re
from typing import Any

import pytest
from typer.testing import CliRunner

from vigil.bench.cpu import CpuLayout, allowed_cpus, can_pin, cpu_time_readable
from vigil.bench.fleet import StageTiming, total_timing
from vigil.bench.ingest import BenchFailed, DatabaseFigures, IngestBenchReport, PhaseFigures, run_ingest_bench
from vigil.cli.app import create_app
from vigil.cli.bench import CommandCentreDatabase, _print_ingest_bench


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
    cpus = sorted(allowed_cpus())
    assert report.cpus.database == "SQLite inside the server process"
    if can_pin() and len(cpus) >= 2:
        assert (report.cpus.pinned, report.cpus.servers, report.cpus.load) == (True, cpus[-1:], cpus[:-1])
    else:
        assert not report.cpus.pinned
    if cpu_time_readable():
        for name, phase in phases.items():
            assert (phase.server_cpu_ms_per_event or 0) > 0, name
            assert phase.server_cpu_ms_per_event_runs == [phase.server_cpu_ms_per_event], name
            assert 0 < (phase.server_cpu_percent or 0) <= 100 * len(report.cpus.servers), name
            # The broker's and the fleet's time at 15 alerts/s for a second can be under one clock tick (10 ms).
            for percent in (phase.broker_cpu_percent, phase.fleet_cpu_percent):
                assert percent is not None, name
                assert 0 <= percent <= 100 * len(report.cpus.load), name
            assert (phase.database_cpu_percent, phase.database_cpu_ms_per_event) == (None, None), name


def _ingestion(timing: dict[str, float] | None) -> dict[str, Any]:
    """A server's ``ingestion`` section of ``GET /api/v1/metrics``, with or without ``timing``."""
    section: dict[str, Any] = {"accepted": 0, "duplicate": 0, "rejected": 0}
    if timing is not None:
        section["timing"] = timing
    return section


def test_stage_timings_per_event_from_two_readings_of_two_servers() -> None:
    first = {"batches": 10, "events": 100, "read_s": 0.01, "check_s": 0.02, "store_s": 0.1, "commit_s": 0.05}
    second = {"batches": 0, "events": 0, "read_s": 0.0, "check_s": 0.0, "store_s": 0.0, "commit_s": 0.0}
    start = total_timing([_ingestion(first | {"ack_s": 0.0, "acks": 10}), _ingestion(second | {"ack_s": 0.0})])
    first_end = {"batches": 30, "events": 1100, "read_s": 0.11, "check_s": 0.12, "store_s": 0.6, "commit_s": 0.35}
    second_end = {"batches": 20, "events": 1000, "read_s": 0.1, "check_s": 0.1, "store_s": 0.4, "commit_s": 0.2}
    end = total_timing([_ingestion(first_end | {"ack_s": 0.01, "acks": 30}), _ingestion(second_end | {"ack_s": 0.03})])
    assert start is not None
    assert end is not None
    gained = end.since(start)
    assert (gained.events, gained.batches) == (2000, 40)
    assert gained.us_per_event() == pytest.approx(
        {"read": 100.0, "check": 100.0, "store": 450.0, "commit": 250.0, "ack": 20.0}
    )
    assert gained.events_per_batch() == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("ingestions", "expected"),
    [
        ([_ingestion(None)], None),  # a server without the timing (before the server reports it)
        ([_ingestion({"batches": 1, "events": 2, "read_s": 0.5}), _ingestion(None)], None),
        (
            [_ingestion({"batches": 1, "events": 2, "read_s": 0.5})],
            StageTiming(batches=1, events=2, seconds={"read": 0.5}),
        ),
    ],
)
def test_stage_timings_need_every_server_to_report_them(
    ingestions: list[dict[str, Any]], expected: StageTiming | None
) -> None:
    assert total_timing(ingestions) == expected


def test_no_events_or_batches_in_the_measured_time_give_no_per_event_figures() -> None:
    idle = StageTiming(batches=0, events=0, seconds={"read": 0.0})
    assert (idle.us_per_event(), idle.events_per_batch()) == (None, None)


def test_a_timing_without_its_counts_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lacks batches or events"):
        total_timing([_ingestion({"read_s": 0.5})])


def test_an_unknown_database_is_a_clear_error() -> None:
    with pytest.raises(BenchFailed, match="sqlite or a postgresql"):
        run_ingest_bench(store=CommandCentreDatabase(), databases=["mysql://nobody@localhost/x"], runs=1)


def test_the_command_ends_with_a_clear_error_and_no_document() -> None:
    result = CliRunner().invoke(create_app(), ["bench", "ingest", "--db", "oracle://x", "--json"])
    assert result.exit_code == 1
    assert "error: 'oracle://x'" in result.stderr
    assert result.stdout == ""


def _phase(stages: list[dict[str, float] | None]) -> PhaseFigures:
    """A phase of two runs, with made-up figures."""
    present = [s for s in stages if s is not None]
    return PhaseFigures(
        offered_per_s=None,
        per_second=1500.0,
        per_second_runs=[1000.0, 2000.0],
        p50_ms=5.0,
        p95_ms=9.0,
        p50_ms_runs=[4.0, 6.0],
        p95_ms_runs=[8.0, 10.0],
        published=3000,
        behind=0,
        acknowledged=3000,
        stored=3000,
        accepted=3000,
        duplicates=0,
        rejected=0,
        server_cpu_ms_per_event=0.25,
        server_cpu_ms_per_event_runs=[0.2, 0.3],
        server_cpu_percent=50.0,
        server_cpu_percent_runs=[40.0, 60.0],
        broker_cpu_percent=5.0,
        broker_cpu_percent_runs=[5.0, 5.0],
        fleet_cpu_percent=20.0,
        fleet_cpu_percent_runs=[None, 20.0],
        database_cpu_percent=None,
        database_cpu_percent_runs=[None, None],
        database_cpu_ms_per_event=None,
        database_cpu_ms_per_event_runs=[None, None],
        stages_us_per_event=present[0] if present else None,
        stages_us_per_event_runs=stages,
        events_per_batch=40.0 if present else None,
        events_per_batch_runs=[40.0, 40.0] if present else [None, None],
    )


@pytest.mark.parametrize(
    ("stages", "expected_stage_lines"),
    [
        ([{"read": 10.0, "store": 30.0}, {"read": 10.0, "store": 30.0}], ["read", "store", "40.0", "40.0"]),
        ([None, None], ["Stages: the server does not report ingestion.timing"]),
    ],
)
def test_the_table_shows_each_figures_spread_the_layout_and_the_stages(
    stages: list[dict[str, float] | None],
    expected_stage_lines: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps a table to the terminal's width
    phase = _phase(stages)
    report = IngestBenchReport(
        rows=[
            DatabaseFigures(
                database="postgresql", positions=phase, positions_at_aim=phase, alerts=phase, alerts_at_aim=phase
            )
        ],
        devices=3,
        servers=1,
        window=4,
        seconds=1.0,
        warmup_s=0.3,
        runs=2,
        probe_bytes=20_000,
        cpu_cores=2,
        cpus=CpuLayout(servers=[1], load=[0], database="PostgreSQL not pinned (its own processes)", pinned=True),
    )
    _print_ingest_bench(report)
    printed = capsys.readouterr().out
    assert "1,500 (1,000–2,000)" in printed
    assert "0.250 (0.200–0.300)" in printed
    assert re.search(r"│ +5 │ +20 │ +– │", printed)  # broker 5 % in both runs: no spread; fleet, one run; no database
    assert "CPUs: server on CPU 1; fleet and broker on CPU 0; PostgreSQL not pinned (its own processes)" in printed
    for expected in expected_stage_lines:
        assert expected in printed
