"""Distances on the sphere: right against an independent formula, and the same bits in any company."""

import math

import numpy as np
import pytest

from vigil.dispatch.errors import InvalidCoordinate
from vigil.dispatch.geodesy import (
    EARTH_RADIUS_M,
    GeoPoint,
    destinations,
    distance_m,
    haversine_m,
    pairwise_haversine_m,
)

TRAFALGAR_SQUARE = GeoPoint(lat=51.50809, lon=-0.12804)
TOWER_OF_LONDON = GeoPoint(lat=51.50811, lon=-0.07595)
PARIS_NOTRE_DAME = GeoPoint(lat=48.85296, lon=2.34990)


def vincenty_sphere_m(a: GeoPoint, b: GeoPoint) -> float:
    """The central angle by the atan2 (Vincenty) formula, as PostGIS computes it on its sphere."""
    lat1, lat2, dlon = math.radians(a.lat), math.radians(b.lat), math.radians(b.lon - a.lon)
    y = math.hypot(
        math.cos(lat2) * math.sin(dlon),
        math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon),
    )
    x = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.atan2(y, x) * 6_371_008.771415059


def test_the_radius_is_the_wgs84_mean_radius_postgis_uses() -> None:
    assert abs(EARTH_RADIUS_M - 6_371_008.771415059) < 1e-6


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        (TRAFALGAR_SQUARE, TRAFALGAR_SQUARE, 0.0),
        (TRAFALGAR_SQUARE, TOWER_OF_LONDON, 3_605.0),
        (TRAFALGAR_SQUARE, PARIS_NOTRE_DAME, 343_900.0),
        (GeoPoint(lat=0, lon=0), GeoPoint(lat=0, lon=90), math.pi / 2 * EARTH_RADIUS_M),
        (GeoPoint(lat=90, lon=0), GeoPoint(lat=-90, lon=0), math.pi * EARTH_RADIUS_M),
        (GeoPoint(lat=0, lon=0), GeoPoint(lat=0, lon=180), math.pi * EARTH_RADIUS_M),
        (GeoPoint(lat=-16.8, lon=179.999), GeoPoint(lat=-16.8, lon=-179.999), 213.0),
    ],
)
def test_distances_agree_with_an_independent_formula(a: GeoPoint, b: GeoPoint, metres: float) -> None:
    assert distance_m(a, b) == pytest.approx(vincenty_sphere_m(a, b), abs=1e-6)
    assert distance_m(a, b) == pytest.approx(metres, rel=2e-3, abs=1e-6)
    assert distance_m(a, b) == distance_m(b, a)


def test_a_units_distance_is_the_same_bits_whichever_units_it_is_computed_with() -> None:
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(51.28, 51.69, 20_000), rng.uniform(-0.51, 0.33, 20_000)
    everyone = haversine_m(lat, lon, to=TRAFALGAR_SQUARE)
    for size in (1, 2, 3, 7, 16, 17, 100, 1_001):
        some = np.sort(rng.choice(lat.size, size, replace=False))
        assert np.array_equal(haversine_m(lat[some], lon[some], to=TRAFALGAR_SQUARE), everyone[some])
    assert np.array_equal(haversine_m(lat[::3], lon[::3], to=TRAFALGAR_SQUARE), everyone[::3])
    one = GeoPoint(lat=float(lat[5]), lon=float(lon[5]))
    assert distance_m(one, TRAFALGAR_SQUARE) == everyone[5]


@pytest.mark.parametrize("bearing", [0.0, 45.0, 90.0, 180.0, 270.0, 333.3])
def test_destinations_lie_at_the_distance_and_bearing_asked(bearing: float) -> None:
    lat, lon = destinations(TRAFALGAR_SQUARE, bearings_deg=np.array([bearing]), distance_m=1_500.0)
    reached = GeoPoint(lat=float(lat[0]), lon=float(lon[0]))
    assert distance_m(TRAFALGAR_SQUARE, reached) == pytest.approx(1_500.0, abs=1e-6)
    north_of = reached.lat > TRAFALGAR_SQUARE.lat + 1e-9
    assert north_of == (bearing < 90 or bearing > 270)


@pytest.mark.parametrize(
    ("lat", "lon", "match"),
    [
        (91.0, 0.0, "latitude 91 is outside −90…90"),
        (-90.5, 0.0, r"latitude -90\.5 is outside"),
        (0.0, 180.25, r"longitude 180\.25 is outside −180…180"),
        (math.nan, 0.0, "latitude nan is not a finite number"),
        (0.0, math.inf, "longitude inf is not a finite number"),
    ],
)
def test_a_point_out_of_range_is_refused(lat: float, lon: float, match: str) -> None:
    with pytest.raises(InvalidCoordinate, match=match) as caught:
        GeoPoint(lat=lat, lon=lon)
    assert caught.value.axis in match


def test_pairs_of_points_are_measured_with_the_same_formula() -> None:
    rng = np.random.default_rng(8)
    lat, lon = rng.uniform(-60, 60, (2, 50)), rng.uniform(-179, 179, (2, 50))
    pairs = pairwise_haversine_m(lat[0], lon[0], lat[1], lon[1])
    one_by_one = [
        distance_m(GeoPoint(lat=lat[0, i], lon=lon[0, i]), GeoPoint(lat=lat[1, i], lon=lon[1, i])) for i in range(50)
    ]
    assert pairs.tolist() == pytest.approx(one_by_one, rel=1e-12)
