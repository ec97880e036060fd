from pathlib import Path

import pytest

from vigil.edge.battery import InvalidBatterySettings, SimulatedBattery, SysfsBattery


def _supply(root: Path, name: str, kind: str, capacity: str | None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "type").write_text(kind + "\n")
    if capacity is not None:
        (folder / "capacity").write_text(capacity + "\n")


@pytest.mark.parametrize(
    ("supplies", "expected"),
    [
        ([], None),
        ([("AC", "Mains", None)], None),
        ([("AC", "Mains", None), ("BAT0", "Battery", "57")], 57.0),
        ([("BAT0", "Battery", "garbage"), ("BAT1", "Battery", "91")], 91.0),
        ([("BAT0", "Battery", None)], None),
    ],
)
def test_sysfs_battery_reads_the_first_battery(
    tmp_path: Path, supplies: list[tuple[str, str, str | None]], expected: float | None
) -> None:
    for name, kind, capacity in supplies:
        _supply(tmp_path, name, kind, capacity)
    assert SysfsBattery(tmp_path).percent() == expected


def test_sysfs_battery_is_unknown_without_power_supplies(tmp_path: Path) -> None:
    assert SysfsBattery(tmp_path / "missing").percent() is None


def test_simulated_battery_drains_and_stops_at_empty() -> None:
    now = [0.0]
    battery = SimulatedBattery(start_pct=50, drain_pct_per_h=10, clock=lambda: now[0])
    now[0] = 1800
    assert battery.percent() == pytest.approx(45)
    now[0] = 10 * 3600
    assert battery.percent() == 0


@pytest.mark.parametrize(("start", "drain", "match"), [(101, 1, "start_pct"), (50, -1, "drain_pct_per_h")])
def test_simulated_battery_refuses_values_out_of_range(start: float, drain: float, match: str) -> None:
    with pytest.raises(InvalidBatterySettings, match=match):
        SimulatedBattery(start_pct=start, drain_pct_per_h=drain)
