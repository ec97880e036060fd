"""``vigil.bench.cpu``: CPU layouts for ``vigil bench ingest``, and CPU time read from ``/proc``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.bench.cpu import (
    PartsReading,
    allowed_cpus,
    can_pin,
    cpu_layout,
    cpu_time_readable,
    cpu_used,
    parts_used,
    pin_command,
    postgres_cpu_s,
    process_cpu_s,
)
from vigil.bench.mosquitto import start_broker

needs_proc = pytest.mark.skipif(not cpu_time_readable(), reason="CPU times are read from /proc (Linux)")

BURN = """
import sys, time
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("burned", flush=True)
sys.stdin.read()
"""
"""A child that burns 0.3 s of CPU, says so, then waits (idle) for its stdin to close."""


@needs_proc
def test_a_busy_process_reading_grows_by_the_cpu_it_burned_and_a_gone_one_reads_as_missing() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        before = process_cpu_s(child.pid)
        assert child.stdout is not None
        assert child.stdout.readline() == "burned\n"
        after = process_cpu_s(child.pid)
    finally:
        child.communicate("", timeout=30)
    assert before is not None
    assert after is not None
    assert after - before > 0.1
    assert process_cpu_s(child.pid) is None  # exited and reaped: missing, not an error


@needs_proc
def test_postgres_processes_are_only_those_named_postgres() -> None:
    for pid in postgres_cpu_s():
        with open(f"/proc/{pid}/comm") as comm:
            assert comm.read().strip() == "postgres"


def test_processes_that_come_and_go_count_what_each_reading_saw() -> None:
    start = {1: 2.0, 2: 5.0}  # 2 ends before the second reading: its time since the first is not known
    end = {1: 2.5, 3: 0.25}  # 3 started in between: all its time falls between the readings
    assert cpu_used(start, end) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("start_servers", "end_servers", "expected_server_s"),
    [
        ({10: 1.0, 11: 2.0}, {10: 1.5, 11: 3.0}, 1.5),
        ({10: 1.0, 11: 2.0}, {10: 1.5}, None),  # a server gone: no figure rather than half of one
    ],
)
def test_parts_used_per_part(
    start_servers: dict[int, float], end_servers: dict[int, float], expected_server_s: float | None
) -> None:
    start = PartsReading(servers=start_servers, broker={20: 1.0}, fleet={30: 4.0}, database=None)
    end = PartsReading(servers=end_servers, broker={20: 1.25}, fleet={30: 4.5}, database=None)
    used = parts_used(start, end, servers=2)
    assert used.server_s == (pytest.approx(expected_server_s) if expected_server_s is not None else None)
    assert (used.broker_s, used.fleet_s, used.database_s) == (pytest.approx(0.25), pytest.approx(0.5), None)


@pytest.mark.skipif(not can_pin(), reason="pinning needs sched_setaffinity (Linux)")
@pytest.mark.parametrize(
    ("allowed", "servers", "pinned", "server_cpus", "load_cpus"),
    [
        ({0, 1}, 1, True, [1], [0]),
        ({0, 1, 2, 3}, 2, True, [2, 3], [0, 1]),
        ({0, 1, 2, 3}, 8, True, [1, 2, 3], [0]),  # the load keeps one CPU at least
        ({5, 2}, 1, True, [5], [2]),
        ({0}, 1, False, [0], [0]),
    ],
)
def test_layout_gives_the_servers_the_last_cpus_and_the_load_the_rest(
    allowed: set[int], servers: int, pinned: bool, server_cpus: list[int], load_cpus: list[int]
) -> None:
    layout = cpu_layout(allowed=allowed, servers=servers, pin=True, database="SQLite inside the server process")
    assert (layout.pinned, layout.servers, layout.load) == (pinned, server_cpus, load_cpus)
    assert (layout.unpinned_because is None) == pinned


@pytest.mark.parametrize(
    ("allowed", "servers", "pin", "error", "because"),
    [
        ({0, 1}, 1, False, None, "--no-pin"),
        pytest.param({0}, 1, True, None, "only CPU 0", marks=pytest.mark.skipif(not can_pin(), reason="Linux")),
        (set(), 1, True, ValueError, None),
        ({0, 1}, 0, True, ValueError, None),
    ],
)
def test_layout_not_pinned_or_refused(
    allowed: set[int], servers: int, pin: bool, error: type[Exception] | None, because: str | None
) -> None:
    if error is not None:
        with pytest.raises(error, match="at least one CPU and one server"):
            cpu_layout(allowed=allowed, servers=servers, pin=pin, database="x")
        return
    layout = cpu_layout(allowed=allowed, servers=servers, pin=pin, database="x")
    assert not layout.pinned
    assert layout.servers == layout.load == sorted(allowed)
    assert layout.unpinned_because is not None
    assert because in layout.unpinned_because


needs_two_cpus = pytest.mark.skipif(
    not can_pin() or len(allowed_cpus()) < 2, reason="pinning needs sched_setaffinity and two CPUs"
)


@needs_two_cpus
def test_a_child_started_with_the_pin_command_runs_only_on_those_cpus() -> None:
    last = max(allowed_cpus())
    source = f"{pin_command([last])}; import os; print(sorted(os.sched_getaffinity(0)))"
    printed = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == f"[{last}]"


@needs_two_cpus
def test_the_broker_is_pinned_as_it_starts(tmp_path: Path) -> None:
    first = min(allowed_cpus())
    broker = start_broker(tmp_path, cpus=[first])
    try:
        assert os.sched_getaffinity(broker.process.pid) == {first}
    finally:
        broker.stop()
