"""Where ``vigil bench ingest`` puts its processes on the CPUs, and how much CPU time each part uses.

**Layout.** The server processes, the broker, the simulated fleet and the database share this machine's CPUs, so
each one's figures move with what the others happen to do. Pinning (Linux's ``sched_setaffinity``) gives the
server processes the last CPUs the benchmark may use and the load (the fleet and the broker) the rest
(:func:`cpu_layout`). The database is not pinned: PostgreSQL is a system service the benchmark does not own, and a
SQLite database lives inside the server process. Where the system cannot pin (no ``sched_setaffinity``), or only one
CPU is allowed, nothing is pinned and the layout says why.

**CPU time.** :func:`process_cpu_s` reads a process's user plus system time from ``/proc/<pid>/stat`` (every thread,
including threads that have ended). :func:`postgres_cpu_s` reads every process named ``postgres``
(``/proc`` is world-readable); :func:`cpu_used` turns two readings into the time used between them. PostgreSQL's
processes come and go (a backend per connection, autovacuum workers): a process present at both readings counts
its difference; one that started between them counts all its time (all of it falls between the readings); one
that ended between them is gone from the second reading and its time since the first is lost. The figure holds
whatever else PostgreSQL does meanwhile (other clients' queries), so measure on an otherwise idle machine. Without
``/proc`` (not Linux) every reading is None.
"""

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

PROC = Path("/proc")


class CpuLayout(BaseModel):
    """Which CPUs the benchmark's processes may run on."""

    servers: list[int] = Field(description="CPUs every `vigil serve` process of the run shares.")
    load: list[int] = Field(description="CPUs the simulated fleet's process and the broker share.")
    database: str = Field(description="Where the database runs (it is never pinned).")
    pinned: bool = Field(description="False: every process may run on every allowed CPU (servers and load alike).")
    unpinned_because: str | None = Field(None, description="Why nothing is pinned, when so.")


def allowed_cpus() -> frozenset[int]:
    """The CPUs this process may run on (its affinity where the system has one, else every CPU)."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def can_pin() -> bool:
    """Whether this system can pin a process to CPUs (Linux's ``sched_setaffinity``)."""
    return hasattr(os, "sched_setaffinity")


def cpu_layout(*, allowed: Collection[int], servers: int, pin: bool, database: str) -> CpuLayout:
    """Split the allowed CPUs between the server processes and the load.

    Sorted, the last ``min(servers, n - 1)`` CPUs go to the servers (all of them share that set) and the rest to
    the fleet and the broker. Nothing is pinned when ``pin`` is False, the system cannot pin, or fewer than two
    CPUs are allowed; the layout then lists every allowed CPU for both.

    Args:
        allowed: the CPUs the benchmark may use.
        servers: server processes in a run.
        pin: whether to pin at all.
        database: where the database runs, as the report says it.

    Returns:
        The layout.

    Raises:
        ValueError: no CPU allowed, or ``servers`` below 1.
    """
    cpus = sorted(allowed)
    if not cpus or servers < 1:
        raise ValueError(f"need at least one CPU and one server, got CPUs {cpus} and {servers} servers")
    reason = None
    if not pin:
        reason = "--no-pin"
    elif not can_pin():
        reason = "this system cannot pin processes to CPUs"
    elif len(cpus) < 2:
        reason = f"only CPU {cpus[0]} is allowed"
    if reason is not None:
        return CpuLayout(servers=cpus, load=cpus, database=database, pinned=False, unpinned_because=reason)
    split = len(cpus) - min(servers, len(cpus) - 1)
    return CpuLayout(servers=cpus[split:], load=cpus[:split], database=database, pinned=True)


def pin_process(pid: int, cpus: Collection[int]) -> None:
    """Let process ``pid`` (0: this one) run only on ``cpus``; threads it starts afterwards inherit it.

    Raises:
        OSError: the system refused (no such process, or a CPU not allowed).
    """
    os.sched_setaffinity(pid, set(cpus))


def pin_command(cpus: Collection[int]) -> str:
    """Python source that pins its own process to ``cpus``, to run before anything else in a child."""
    return f"import os; os.sched_setaffinity(0, {sorted(cpus)!r})"


def cpu_time_readable() -> bool:
    """Whether CPU times can be read here (``/proc``)."""
    return (PROC / "self" / "stat").exists()


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user plus system, every thread) process ``pid`` has used; None when it is not there.

    Raises:
        ValueError: the stat file does not have the layout Linux documents (proc(5)).
    """
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses: split after the last one.
    fields = stat[stat.rindex(")") + 2 :].split()
    if len(fields) < 13:
        raise ValueError(f"/proc/{pid}/stat has {len(fields) + 2} fields; utime and stime are fields 14 and 15")
    # Fields 14 (utime) and 15 (stime), counted from 1 with pid and comm as 1 and 2.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> dict[int, float]:
    """CPU seconds of every process here whose name is ``postgres``, by pid (those seen at this moment)."""
    readings: dict[int, float] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone since the listing, or hidden from us
        if name != "postgres":
            continue
        seconds = process_cpu_s(int(entry.name))
        if seconds is not None:
            readings[int(entry.name)] = seconds
    return readings


def cpu_used(start: Mapping[int, float], end: Mapping[int, float]) -> float:
    """CPU seconds used between two readings of the same processes, by pid.

    A pid in both counts its difference; one only in ``end`` started in between and counts all its time; one only
    in ``start`` ended in between and its time since then is not known (left out).
    """
    return sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())


class PartsCpu(BaseModel):
    """CPU seconds each part of a benchmark used between two readings; None where it was not read."""

    server_s: float | None = Field(description="Every server process together.")
    broker_s: float | None
    fleet_s: float | None = Field(description="The simulated fleet's own process.")
    database_s: float | None = Field(
        description="Every process named postgres here (see the module for those that come and go); None: SQLite "
        "(inside the server's figure) or a database on another machine."
    )


class PartsReading(BaseModel):
    """CPU seconds used so far by each part's processes, by pid, at one moment."""

    servers: dict[int, float]
    broker: dict[int, float] | None
    fleet: dict[int, float]
    database: dict[int, float] | None


def read_parts(*, server_pids: Collection[int], broker_pid: int | None, database: bool) -> PartsReading | None:
    """Read the CPU time of the servers, the broker, this process (the fleet) and, if asked, PostgreSQL's processes.

    Returns:
        The reading; None where CPU times cannot be read (no ``/proc``).
    """
    if not cpu_time_readable():
        return None

    def present(pids: Collection[int]) -> dict[int, float]:
        readings = {pid: process_cpu_s(pid) for pid in pids}
        return {pid: seconds for pid, seconds in readings.items() if seconds is not None}

    return PartsReading(
        servers=present(server_pids),
        broker=present([broker_pid]) if broker_pid is not None else None,
        fleet=present([os.getpid()]),
        database=postgres_cpu_s() if database else None,
    )


def parts_used(start: PartsReading, end: PartsReading, *, servers: int) -> PartsCpu:
    """The CPU seconds each part used between two readings (see :func:`cpu_used` for processes that come and go).

    Args:
        start: the first reading.
        end: the second.
        servers: how many server processes there are; if one of them was not there at both readings, the
            servers' figure is None rather than a part of them.
    """
    complete = servers > 0 and len(start.servers) == len(end.servers) == servers
    server_s = cpu_used(start.servers, end.servers) if complete else None
    broker_s = cpu_used(start.broker, end.broker) if start.broker and end.broker else None
    database_s = cpu_used(start.database, end.database) if start.database is not None and end.database else None
    return PartsCpu(
        server_s=server_s, broker_s=broker_s, fleet_s=cpu_used(start.fleet, end.fleet), database_s=database_s
    )
