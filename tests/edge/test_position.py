"""Position fixes and their sources: the real gpsd (fed by gpsfake), an NMEA replay and a simulated route."""

import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.mosquitto import free_port
from vigil.edge.gpsd import GpsdSource, fix_from_tpv
from vigil.edge.nmea import EpochAssembler, checksum
from vigil.edge.nmea_replay import NmeaFileSource
from vigil.edge.position import (
    InvalidFix,
    InvalidRoute,
    InvalidSourceSettings,
    LatestFix,
    NmeaLogUnreadable,
    PositionFix,
    SourceAlreadyStarted,
)
from vigil.edge.route import EARTH_RADIUS_M, SimulatedRoute

DATA = Path(__file__).parent / "data"
PATROL = DATA / "patrol.nmea"
AT = datetime(2024, 5, 14, 9, 30, 20, tzinfo=UTC)


def _fix(**changes: object) -> PositionFix:
    values: dict[str, object] = {
        "lat": 51.5073,
        "lon": -0.1276,
        "accuracy_m": 13.5,
        "heading_deg": 328.1,
        "speed_mps": 1.4,
        "at": AT,
        "source": "gps",
    }
    return PositionFix(**{**values, **changes})  # type: ignore[arg-type]


def _with_checksums(bodies: Iterable[str]) -> str:
    """NMEA sentences, one a line, from what goes between their ``$`` and ``*``."""
    return "".join(f"${body}*{checksum(body):02X}\n" for body in bodies)


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


# --- PositionFix ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"lat": 90.5}, r"lat must be at least -90 and at most 90 degrees \(WGS 84\); got 90\.5"),
        ({"lat": -91.0}, r"lat must be .*; got -91\.0"),
        ({"lat": math.nan}, r"lat must be .*; got nan"),
        ({"lon": -180.1}, r"lon must be at least -180 and at most 180 degrees \(WGS 84\); got -180\.1"),
        ({"lon": math.inf}, r"lon must be .*; got inf"),
        ({"heading_deg": 360.0}, r"heading_deg must be at least 0 and below 360 degrees from true north; got 360\.0"),
        ({"heading_deg": -0.5}, r"heading_deg .*; got -0\.5"),
        ({"speed_mps": -1.0}, r"speed_mps must be at least 0 metres per second; got -1\.0"),
        ({"accuracy_m": -3.0}, r"accuracy_m .* metres; got -3\.0"),
        ({"at": AT.replace(tzinfo=None)}, r"at must be a timezone-aware UTC datetime"),
        ({"at": AT.astimezone(timezone(timedelta(hours=1)))}, r"at must be .*UTC.*; got 2024-05-14T10:30:20\+01:00"),
        ({"source": "glonass"}, r"source must be one of gps, network, sim; got 'glonass'"),
    ],
)
def test_bad_fixes_are_refused(changes: dict[str, object], match: str) -> None:
    field = next(iter(changes))
    with pytest.raises(InvalidFix, match=match) as caught:
        _fix(**changes)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"lat": 90.0, "lon": 180.0},
        {"lat": -90.0, "lon": -180.0},
        {"heading_deg": 0.0, "speed_mps": 0.0, "accuracy_m": 0.0},
        {"heading_deg": 359.999, "source": "network"},
        {"accuracy_m": None, "heading_deg": None, "speed_mps": None, "source": "sim"},
    ],
)
def test_edge_values_are_accepted(changes: dict[str, object]) -> None:
    fix = _fix(**changes)
    assert {name: getattr(fix, name) for name in changes} == changes


# --- LatestFix -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age_s", "fresh"), [(0.0, True), (9.99, True), (10.0, True), (10.01, False), (3600, False)])
def test_a_fix_is_handed_out_until_it_is_too_old(age_s: float, fresh: bool) -> None:
    now = [100.0]
    latest = LatestFix(max_age_s=10.0, clock=lambda: now[0])
    assert latest.get() is None
    latest.put(_fix())
    now[0] += age_s
    assert latest.get() == (_fix() if fresh else None)
    latest.clear()
    assert latest.get() is None


@pytest.mark.parametrize("max_age_s", [0.0, -1.0, math.nan])
def test_max_age_must_be_positive(max_age_s: float) -> None:
    with pytest.raises(InvalidSourceSettings, match="max_age_s must be a positive number of seconds"):
        LatestFix(max_age_s=max_age_s)


# --- gpsd's TPV reports --------------------------------------------------------------------------------------------

RECEIVED = datetime(2024, 5, 14, 9, 31, tzinfo=UTC)
TPV = {"class": "TPV", "mode": 3, "time": "2024-05-14T09:30:20.000Z", "lat": 51.5073, "lon": -0.1276}


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({**TPV, "eph": 17.1, "track": 328.1, "speed": 1.399}, _fix(accuracy_m=17.1, speed_mps=1.399)),
        ({**TPV, "mode": 2, "epx": 3.0, "epy": 4.0}, _fix(accuracy_m=5.0, heading_deg=None, speed_mps=None)),
        ({**TPV, "eph": 9.0, "epx": 3.0, "epy": 4.0}, _fix(accuracy_m=9.0, heading_deg=None, speed_mps=None)),
        ({**TPV, "epx": 3.0}, _fix(accuracy_m=None, heading_deg=None, speed_mps=None)),
        ({**TPV, "track": 360.0, "speed": 0}, _fix(accuracy_m=None, heading_deg=0.0, speed_mps=0.0)),
        ({**TPV, "track": -1e-14}, _fix(accuracy_m=None, heading_deg=0.0, speed_mps=None)),
        ({**TPV, "time": None}, _fix(accuracy_m=None, heading_deg=None, speed_mps=None, at=RECEIVED)),
        ({**TPV, "mode": 1}, None),
        ({**TPV, "mode": 0}, None),
        ({"class": "TPV", "mode": 1, "time": "2024-05-14T09:30:00.000Z"}, None),
        ({**TPV, "lat": None}, None),
    ],
)
def test_tpv_reports_become_fixes(report: dict[str, object], expected: PositionFix | None) -> None:
    assert fix_from_tpv(report, received_at=RECEIVED) == expected


@pytest.mark.parametrize(
    ("report", "match"),
    [
        ({**TPV, "lat": "51.5"}, "lat must be a number; got '51.5'"),
        ({**TPV, "lon": True}, "lon must be a number; got True"),
        ({**TPV, "lat": 95.0}, "lat must be at least -90"),
        ({**TPV, "speed": -2.0}, "speed_mps must be at least 0"),
        ({**TPV, "time": "yesterday"}, "time must be an ISO 8601 time"),
    ],
)
def test_broken_tpv_reports_are_refused(report: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidFix, match=match):
        fix_from_tpv(report, received_at=RECEIVED)


# --- GpsdSource against the real gpsd --------------------------------------------------------------------------------

GPSFAKE = shutil.which("gpsfake")
needs_gpsfake = pytest.mark.skipif(
    GPSFAKE is None, reason="gpsfake is not installed (Debian: apt-get install gpsd gpsd-clients)"
)


@contextmanager
def gpsfake(log: Path, *, port: int, workdir: Path) -> Iterator[None]:
    """Run gpsd on ``port``, fed ``log`` round and round by gpsfake, one sentence every 50 ms.

    ``-n`` has gpsd read the fake receiver at once rather than when a client asks, ``-q`` quietens gpsfake. It runs
    in its own process group, so gpsd goes with it; gpsd's shared-memory export (key 0x4770 + port) is removed too.
    """
    assert GPSFAKE is not None
    with (workdir / f"gpsfake-{port}.log").open("wb") as output:
        process = subprocess.Popen(
            [GPSFAKE, "-n", "-q", "-c", "0.05", "-P", str(port), str(log)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(workdir)},  # its control socket
            start_new_session=True,
        )
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        if shutil.which("ipcrm"):
            subprocess.run(["ipcrm", "-M", f"0x4770{port:04X}"], capture_output=True, check=False)


@pytest.fixture
def gpsd_port() -> int:
    return free_port()


def _patrol_fixes() -> dict[datetime, tuple[float, float, float, float]]:
    """The log's fixes by time: lat, lon, speed and heading."""
    assembler = EpochAssembler()
    epochs = [assembler.feed(line) for line in PATROL.read_text().splitlines()] + [assembler.finish()]
    return {
        epoch.at: (*epoch.position, epoch.speed_mps or 0.0, epoch.heading_deg or 0.0)
        for epoch in epochs
        if epoch is not None and epoch.position is not None
    }


@needs_gpsfake
def test_gpsd_fixes_match_the_log(gpsd_port: int, tmp_path: Path) -> None:
    expected = _patrol_fixes()
    assert len(expected) == 22  # 25 epochs, three without a fix
    seen: dict[datetime, PositionFix] = {}
    source = GpsdSource("127.0.0.1", gpsd_port, min_backoff_s=0.05, max_backoff_s=0.05)
    source.start()  # before gpsd is there: it keeps trying
    try:
        with gpsfake(PATROL, port=gpsd_port, workdir=tmp_path):

            def all_seen() -> bool:
                fix = source.latest()
                if fix is not None:
                    seen[fix.at] = fix  # gpsd may report an epoch twice (after RMC, then GGA): keep the last
                return seen.keys() >= expected.keys()

            assert _wait_for(all_seen, timeout_s=20), f"missing {sorted(expected.keys() - seen.keys())}"
            assert source.fix_mode == 3
    finally:
        source.stop()
    assert source.latest() is None
    assert seen.keys() == expected.keys()  # nothing but the log's fixes, none from its no-fix epochs
    for at, fix in seen.items():
        lat, lon, speed, heading = expected[at]
        assert (fix.lat, fix.lon) == pytest.approx((lat, lon), abs=1e-7), at
        assert (fix.speed_mps, fix.heading_deg) == pytest.approx((speed, heading), abs=1e-3), at
        assert fix.source == "gps"
        # gpsd's own estimate (eph): 3.22 gives HDOP × 19 m, from the GGA before, as it reports on a new RMC.
        assert fix.accuracy_m is not None
        assert fix.accuracy_m > 0


@needs_gpsfake
def test_gpsd_without_a_fix_gives_none(gpsd_port: int, tmp_path: Path) -> None:
    cold_start = tmp_path / "cold.nmea"
    cold_start.write_text(
        "\n".join(line for line in PATROL.read_text().splitlines() if ",V," in line or ",0,0" in line)
    )
    source = GpsdSource("127.0.0.1", gpsd_port, min_backoff_s=0.05, max_backoff_s=0.05)
    source.start()
    try:
        with gpsfake(cold_start, port=gpsd_port, workdir=tmp_path):
            assert _wait_for(lambda: source.fix_mode == 1), "gpsd never reported 'no fix'"
            assert source.latest() is None
    finally:
        source.stop()


@needs_gpsfake
def test_gpsd_going_away_and_coming_back(gpsd_port: int, tmp_path: Path) -> None:
    sydney = tmp_path / "sydney.nmea"  # standing outside the Opera House for three seconds
    sydney.write_text(
        _with_checksums(
            f"GN{kind},0815{second:02d}.00,{place}"
            for second in range(3)
            for kind, place in [
                ("RMC", "A,3351.4086,S,15112.9084,E,0.0,,070125,,,A"),
                ("GGA", "3351.4086,S,15112.9084,E,2,12,1.3,4.2,M,22.1,M,3.0,0136"),
            ]
        )
    )
    source = GpsdSource("127.0.0.1", gpsd_port, max_age_s=1.0, min_backoff_s=0.05, max_backoff_s=0.2)
    source.start()
    try:
        with gpsfake(PATROL, port=gpsd_port, workdir=tmp_path):
            assert _wait_for(lambda: (fix := source.latest()) is not None and fix.lat > 51)
        assert _wait_for(lambda: source.fix_mode == 0), "the source did not notice gpsd had gone"
        assert _wait_for(lambda: source.latest() is None, timeout_s=5), "the last fix never aged out"
        with gpsfake(sydney, port=gpsd_port, workdir=tmp_path):
            assert _wait_for(lambda: (fix := source.latest()) is not None and fix.lat < 0), "no fix after reconnecting"
            fix = source.latest()
            assert fix is not None
            assert (fix.lat, fix.lon) == pytest.approx((-33.85681, 151.21514), abs=1e-7)
            assert fix.at - datetime(2025, 1, 7, 8, 15, tzinfo=UTC) in {timedelta(seconds=n) for n in range(3)}
    finally:
        source.stop()


def test_gpsd_unreachable_means_no_fix(gpsd_port: int) -> None:
    source = GpsdSource("127.0.0.1", gpsd_port, min_backoff_s=0.05, max_backoff_s=0.1)
    source.start()
    try:
        time.sleep(0.3)  # a few refused connections
        assert (source.latest(), source.fix_mode) == (None, 0)
        with pytest.raises(SourceAlreadyStarted, match="create a new one"):
            source.start()
    finally:
        source.stop()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"port": 0}, "port must be 1 to 65535; got 0"),
        ({"port": 70000}, "port must be 1 to 65535; got 70000"),
        ({"connect_timeout_s": 0.0}, "must be positive"),
        ({"min_backoff_s": 0.0}, "must be positive"),
        ({"min_backoff_s": 5.0, "max_backoff_s": 1.0}, "min_backoff_s at most max_backoff_s; got 5.0, 5.0 and 1.0"),
        ({"max_age_s": -1.0}, "max_age_s must be a positive number"),
    ],
)
def test_gpsd_settings_are_checked(settings: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidSourceSettings, match=match):
        GpsdSource(**settings)  # type: ignore[arg-type]


# --- NmeaFileSource ------------------------------------------------------------------------------------------------


def test_replay_reaches_the_end_of_the_log() -> None:
    source = NmeaFileSource(PATROL, realtime=False)
    source.start()
    try:
        assert source.wait_finished(10)
        # The last epoch: 51° 30.5226' N, 000° 07.5960' W at 09:34:00, standing (0 kn), HDOP 1.0 × 15 m.
        fix = source.latest()
        assert fix is not None
        assert (fix.lat, fix.lon, fix.accuracy_m) == pytest.approx((51 + 30.5226 / 60, -7.5960 / 60, 15.0))
        assert (fix.heading_deg, fix.speed_mps, fix.source) == (98.4, 0.0, "gps")
        assert fix.at == datetime(2024, 5, 14, 9, 34, tzinfo=UTC)
        assert source.rejected == 0
    finally:
        source.stop()
    assert source.latest() is None


def test_replay_skips_and_counts_bad_sentences(tmp_path: Path) -> None:
    lines = PATROL.read_text().splitlines()
    lines[7] = lines[7][:-1] + ("0" if lines[7][-1] != "0" else "1")  # checksum off by one digit
    lines[9] = lines[9][:30]  # truncated
    lines.insert(12, "\x00\xff garbage from a serial line")
    log = tmp_path / "noisy.nmea"
    log.write_text("\n".join(lines), encoding="latin-1")
    source = NmeaFileSource(log, realtime=False)
    source.start()
    try:
        assert source.wait_finished(10)
        assert source.rejected == 3
        fix = source.latest()
        assert fix is not None
        assert fix.at == datetime(2024, 5, 14, 9, 34, tzinfo=UTC)
    finally:
        source.stop()


def _log_of(tmp_path: Path, *positions: tuple[str, str]) -> Path:
    """A log with one GGA per (time, latitude) at 0° E."""
    path = tmp_path / "short.nmea"
    path.write_text(
        _with_checksums(f"GPGGA,{hms},{lat},N,00000.0000,E,1,08,1.0,10.0,M,0.0,M,," for hms, lat in positions)
    )
    return path


def test_realtime_replay_keeps_the_logs_pace(tmp_path: Path) -> None:
    log = _log_of(tmp_path, ("120000.00", "0000.0000"), ("120000.20", "0001.0000"), ("120000.40", "0002.0000"))
    source = NmeaFileSource(log)
    began = time.monotonic()
    source.start()
    try:
        assert source.wait_finished(5)
        took = time.monotonic() - began
        fix = source.latest()
        assert fix is not None
        assert fix.lat == pytest.approx(2 / 60)
    finally:
        source.stop()
    assert took >= 0.4  # two steps of 0.2 s between the three epochs


def test_looped_replay_starts_again(tmp_path: Path) -> None:
    log = _log_of(tmp_path, ("120000.00", "0000.0000"), ("120000.10", "0001.0000"))
    source = NmeaFileSource(log, loop=True)
    source.start()
    order: list[float] = []
    try:

        def lapped() -> bool:
            fix = source.latest()
            if fix is not None and (not order or order[-1] != fix.lat):
                order.append(fix.lat)
            return len(order) >= 4

        assert _wait_for(lapped, timeout_s=5)
        assert not source.wait_finished(0)
    finally:
        source.stop()
    assert order[:4] == pytest.approx([0.0, 1 / 60, 0.0, 1 / 60])


def test_replayed_fixes_age_out(tmp_path: Path) -> None:
    source = NmeaFileSource(_log_of(tmp_path, ("120000.00", "0000.0000")), realtime=False, max_age_s=0.1)
    source.start()
    try:
        assert source.wait_finished(5)
        assert _wait_for(lambda: source.latest() is None, timeout_s=5)
    finally:
        source.stop()


def test_replay_settings_and_missing_logs(tmp_path: Path) -> None:
    with pytest.raises(InvalidSourceSettings, match="loop=True needs realtime=True"):
        NmeaFileSource(PATROL, realtime=False, loop=True)
    missing = NmeaFileSource(tmp_path / "nowhere.nmea")
    with pytest.raises(NmeaLogUnreadable, match=r"cannot read the NMEA log .*nowhere\.nmea: No such file") as caught:
        missing.start()
    assert caught.value.path == tmp_path / "nowhere.nmea"
    missing.stop()
    source = NmeaFileSource(PATROL, realtime=False)
    source.start()
    try:
        with pytest.raises(SourceAlreadyStarted):
            source.start()
    finally:
        source.stop()
        source.stop()


# --- SimulatedRoute ------------------------------------------------------------------------------------------------

# Along the equator then up the meridian 0.01° E: both legs are 0.01° of a great circle, R × 0.01 × π/180 metres.
# The closing leg back to (0, 0) is √2 times as long (the sphere differs from the plane by 1e-8 here).
SQUARE = [(0.0, 0.0), (0.0, 0.01), (0.01, 0.01)]
LEG_M = EARTH_RADIUS_M * math.radians(0.01)  # 1,111.95 m
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def _metres_as_degrees(metres: float) -> float:
    return math.degrees(metres / EARTH_RADIUS_M)


@pytest.mark.parametrize(
    ("elapsed_s", "lat", "lon", "heading"),
    [
        (0.0, 0.0, 0.0, 90.0),
        (50.0, 0.0, _metres_as_degrees(500), 90.0),  # 500 m east along the equator
        (120.0, _metres_as_degrees(1200 - LEG_M), 0.01, 0.0),  # past the corner, heading north
        ((2 * LEG_M + LEG_M * math.sqrt(2) / 2) / 10, 0.005, 0.005, 225.0),  # half-way home, south-west
        ((2 + math.sqrt(2)) * LEG_M / 10 + 50, 0.0, _metres_as_degrees(500), 90.0),  # one lap later
    ],
)
def test_route_position_by_elapsed_time(elapsed_s: float, lat: float, lon: float, heading: float) -> None:
    now = [T0]
    route = SimulatedRoute(SQUARE, 10.0, clock=lambda: now[0])
    assert route.length_m == pytest.approx((2 + math.sqrt(2)) * LEG_M, rel=1e-6)
    assert route.latest() is None
    route.start()
    now[0] += elapsed_s
    fix = route.latest()
    assert fix is not None
    assert (fix.lat, fix.lon) == pytest.approx((lat, lon), abs=1e-7)
    assert fix.heading_deg == pytest.approx(heading, abs=1e-3)
    assert (fix.speed_mps, fix.accuracy_m, fix.source) == (10.0, None, "sim")
    expected_at = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC) + timedelta(seconds=elapsed_s)
    assert abs(fix.at - expected_at) < timedelta(microseconds=10)
    route.stop()
    assert route.latest() is None


def test_route_heading_follows_the_great_circle() -> None:
    # Due east along 60° N the great circle bulges north: it sets off at 89.567° (atan2(sin 1° cos 60°,
    # cos 60° sin 60° (1 - cos 1°))) and is heading due east at its midpoint, 60.000944° N, 0.5° E.
    now = [T0]
    route = SimulatedRoute([(60.0, 0.0), (60.0, 1.0)], 100.0, clock=lambda: now[0], loop=False)
    route.start()
    start = route.latest()
    now[0] += route.length_m / 2 / 100.0
    middle = route.latest()
    assert start is not None
    assert middle is not None
    assert start.heading_deg == pytest.approx(89.567, abs=1e-3)
    assert (middle.lat, middle.lon, middle.heading_deg) == pytest.approx((60.000944, 0.5, 90.0), abs=1e-5)


def test_route_without_loop_stops_at_the_end() -> None:
    now = [T0]
    route = SimulatedRoute(SQUARE, 10.0, clock=lambda: now[0], loop=False)
    assert route.length_m == pytest.approx(2 * LEG_M)
    route.start()
    now[0] += 3600
    fix = route.latest()
    assert fix is not None
    assert (fix.lat, fix.lon, fix.speed_mps, fix.heading_deg) == (0.01, 0.01, 0.0, None)
    with pytest.raises(SourceAlreadyStarted):
        route.start()


@pytest.mark.parametrize(
    ("waypoints", "speed_mps", "match"),
    [
        ([(51.5, -0.12)], 1.4, "at least 2 waypoints; got 1"),
        ([(51.5, -0.12), (91.0, 0.0)], 1.4, r"waypoint 1 must be \(lat -90..90, lon -180..180\) degrees; got \(91.0"),
        ([(51.5, -200.0), (51.5, 0.0)], 1.4, "waypoint 0 must be"),
        ([(math.nan, 0.0), (51.5, 0.0)], 1.4, "waypoint 0 must be"),
        ([(51.5, -0.12), (51.5, -0.12), (51.6, -0.12)], 1.4, "waypoints 0 and 1 are the same point"),
        ([(51.5, -0.12), (51.6, -0.12)], 0.0, "speed_mps must be a positive number"),
        ([(51.5, -0.12), (51.6, -0.12)], -1.4, "speed_mps must be a positive number"),
    ],
)
def test_bad_routes_are_refused(waypoints: list[tuple[float, float]], speed_mps: float, match: str) -> None:
    with pytest.raises(InvalidRoute, match=match):
        SimulatedRoute(waypoints, speed_mps)
