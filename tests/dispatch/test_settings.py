"""Dispatch settings: defaults within their bounds, rules across fields, and typos refused."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.dispatch.settings import AreaLimits, DispatchSettings, PositionAges, RankingSettings, SpeedProfile


def test_the_defaults_are_the_documented_ones() -> None:
    settings = DispatchSettings()
    assert (settings.areas.default_radius_m, settings.areas.max_radius_m, settings.areas.max_span_m) == (
        1_000,
        20_000,
        40_000,
    )
    assert (settings.positions.stale_after_s, settings.positions.max_age_s) == (60, 600)
    assert settings.ranking.foot == SpeedProfile(speed_mps=1.4, detour_factor=1.3)
    assert (settings.ranking.suggest_count, settings.ranking.road_network_path) == (3, None)
    assert settings.escalation.ack_timeout_s == 60


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: AreaLimits(default_radius_m=30_000), "need min_radius_m ≤ default_radius_m ≤ max_radius_m"),
        (lambda: AreaLimits(min_radius_m=500, default_radius_m=100), "got 500 m, 100 m and 20000 m"),
        (lambda: AreaLimits(max_radius_m=0), "greater than 0"),
        (lambda: AreaLimits(max_positions=3), "greater than or equal to 4"),
        (lambda: PositionAges(stale_after_s=700), "stale_after_s \\(700 s\\) must not exceed max_age_s \\(600 s\\)"),
        (lambda: SpeedProfile(speed_mps=1.4, detour_factor=0.9), "greater than or equal to 1"),
        (lambda: RankingSettings(suggest_count=0), "greater than or equal to 1"),
        (lambda: DispatchSettings.model_validate({"areas": {"radius_m": 5}}), "Extra inputs are not permitted"),
        (lambda: DispatchSettings.model_validate({"escalation": {"ack_timeout_s": 1}}), "greater than or equal to 5"),
    ],
)
def test_bad_settings_are_refused(build: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        build()  # type: ignore[operator]


def test_a_street_file_is_a_path() -> None:
    settings = DispatchSettings.model_validate({"ranking": {"road_network_path": "streets.geojson"}})
    assert settings.ranking.road_network_path == Path("streets.geojson")
