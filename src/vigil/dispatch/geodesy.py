"""Points on the Earth and the distances between them, on a sphere.

Distances are great-circle distances on a sphere of radius :data:`EARTH_RADIUS_M`, the WGS 84 mean radius
``(2a + b) / 3``: the sphere PostGIS uses for ``geography`` when told ``use_spheroid => false``. PostGIS works
the central angle out by another formula, so its distances differ from these in the last digits (under 1e-8 m
across London); on the ellipsoid (PostGIS's default) they differ by up to 0.3 %, which moves units across a
circle's edge, so a query on PostGIS must say ``use_spheroid => false`` to give Vigil's answers. Against the
ellipsoid, the sphere's error (at most about 0.5 %, 5 m in a kilometre) is well under a phone's GPS error.

One function, :func:`haversine_m`, computes every distance the live index answers with: whether a unit is
inside a circle, how far it is from the target, and the brute-force answers it is checked against. Element by
element it is deterministic (NumPy's element-wise operations do not depend on the array around an element), so
a unit's distance is the same bits whichever subset of units it is computed with. :func:`pairwise_haversine_m`
applies the same formula to pairs of points (street segments).
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.dispatch.errors import InvalidCoordinate

WGS84_SEMI_MAJOR_AXIS_M = 6_378_137.0
WGS84_FLATTENING = 1 / 298.257223563
EARTH_RADIUS_M = (2 * WGS84_SEMI_MAJOR_AXIS_M + WGS84_SEMI_MAJOR_AXIS_M * (1 - WGS84_FLATTENING)) / 3
"""The WGS 84 mean radius R1 = (2a + b) / 3 = 6,371,008.771 m, as PostGIS's sphere."""

METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180
"""Length of one degree of latitude (and of longitude on the equator) on the sphere, metres."""

FloatArray = npt.NDArray[np.float64]

_RADIANS_PER_DEGREE = math.pi / 180


@dataclass(frozen=True)
class GeoPoint:
    """A point on the Earth (WGS 84), degrees.

    Raises:
        InvalidCoordinate: the latitude is not within −90…90 or the longitude not within −180…180, or either is
            not a finite number.
    """

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise InvalidCoordinate("latitude", self.lat)
        if not (math.isfinite(self.lon) and -180 <= self.lon <= 180):
            raise InvalidCoordinate("longitude", self.lon)


def haversine_m(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, *, to: GeoPoint) -> FloatArray:
    """Great-circle distances from many points to one, by the haversine formula.

    Args:
        lat_deg: latitudes, degrees, shape (n,).
        lon_deg: longitudes, degrees, shape (n,).
        to: the point to measure to.

    Returns:
        Distances in metres, shape (n,).
    """
    return haversine_rows_m(np.array([lat_deg, lon_deg], dtype=np.float64), to=to)


def haversine_rows_m(lat_lon_deg: FloatArray, *, to: GeoPoint) -> FloatArray:
    """:func:`haversine_m` of points given as two rows, latitudes then longitudes: shape (2, n), degrees.

    The same bits as :func:`haversine_m` for the same points; the rows spare the caller a copy.
    """
    return _haversine(lat_lon_deg, np.array([[to.lat], [to.lon]]))


def pairwise_haversine_m(
    lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, to_lat_deg: npt.ArrayLike, to_lon_deg: npt.ArrayLike
) -> FloatArray:
    """Great-circle distances between pairs of points, element by element (the lengths of street segments).

    Args:
        lat_deg: latitudes of the first points, degrees, shape (n,).
        lon_deg: longitudes of the first points, degrees, shape (n,).
        to_lat_deg: latitudes of the second points, degrees, shape (n,).
        to_lon_deg: longitudes of the second points, degrees, shape (n,).

    Returns:
        Distances in metres, shape (n,).
    """
    return _haversine(
        np.array([lat_deg, lon_deg], dtype=np.float64), np.array([to_lat_deg, to_lon_deg], dtype=np.float64)
    )


def _haversine(lat_lon_deg: FloatArray, to_lat_lon_deg: FloatArray) -> FloatArray:
    """Distances from points (shape (2, n): latitudes, longitudes) to others (shape (2, 1) or (2, n)), metres."""
    # Latitude and longitude go through each step together, in place: a query's candidates are few, so NumPy's
    # cost per call is most of the work. Each element meets the same operations whatever the array's shape.
    to: FloatArray = to_lat_lon_deg * _RADIANS_PER_DEGREE
    half: FloatArray = lat_lon_deg * _RADIANS_PER_DEGREE  # as np.radians (the same bits), which is slower by half
    result: FloatArray = np.cos(half[0])
    result *= np.cos(to[0])
    half -= to
    half *= 0.5
    np.sin(half, out=half)
    half *= half  # sin² of half the differences in latitude and in longitude
    result *= half[1]
    result += half[0]  # the haversine of the central angle
    # Rounding can take it a hair past 1 for nearly antipodal points; arcsin would then return NaN.
    np.minimum(result, 1.0, out=result)
    np.sqrt(result, out=result)
    np.arcsin(result, out=result)
    result *= 2.0 * EARTH_RADIUS_M
    return result


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance between two points, metres (the same bits as :func:`haversine_m` gives)."""
    return float(haversine_m(np.array([a.lat]), np.array([a.lon]), to=b)[0])


def destinations(start: GeoPoint, *, bearings_deg: FloatArray, distance_m: float) -> tuple[FloatArray, FloatArray]:
    """The points reached by going ``distance_m`` along great circles from ``start`` at each bearing.

    Args:
        start: where to start.
        bearings_deg: bearings, degrees clockwise from north, shape (n,).
        distance_m: how far, metres.

    Returns:
        (latitudes, longitudes) of the points, degrees, each shape (n,); longitudes wrapped into −180…180.
    """
    angle = distance_m / EARTH_RADIUS_M
    lat0, lon0 = math.radians(start.lat), math.radians(start.lon)
    bearings = np.radians(bearings_deg)
    sin_lat = math.sin(lat0) * math.cos(angle) + math.cos(lat0) * math.sin(angle) * np.cos(bearings)
    lat = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    lon = lon0 + np.arctan2(
        np.sin(bearings) * math.sin(angle) * math.cos(lat0), math.cos(angle) - math.sin(lat0) * np.sin(lat)
    )
    lon = (lon + math.pi) % (2 * math.pi) - math.pi
    return np.degrees(lat), np.degrees(lon)
