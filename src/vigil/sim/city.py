"""A city's streets as a graph: shortest routes along them, random patrol loops, and the street file dispatch reads.

A :class:`StreetMap` names points (junctions and bends, in degrees) and the streets that run through them in order;
two streets meet only where they share a point. :class:`City` checks the map (every street joins up, no two cross
without a junction) and routes on it: a start or end anywhere near the streets is joined to the nearest point of
the nearest street the traveller may use (cars keep off pedestrian streets), and the route between follows the
streets by Dijkstra's algorithm. Someone on foot also walks the last metres off the street to the exact spot.

Distances are measured on a plane tangent to the Earth at the map's centre (an equirectangular projection),
within 0.1 % of the great-circle distance across a city centre. Everything random takes a ``random.Random``,
so the same seed gives the same patrols.
"""

import heapq
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.dispatch.unit import UnitKind
from vigil.edge.route import EARTH_RADIUS_M, Point
from vigil.sim.errors import InvalidStreetMap, OffTheStreets

_METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180
# Route points closer than this are one point (a route may not have two equal consecutive waypoints), metres.
_SAME_POINT_M = 0.01
# Someone on foot walks off the street to a point farther than this from it, metres.
_OFF_STREET_M = 1.0


@dataclass(frozen=True)
class StreetLine:
    """A street, through named points in order.

    Attributes:
        name: the street's name.
        points: the names of its points (keys of :attr:`StreetMap.points`), at least two.
        foot_only: closed to vehicles (a pedestrianised street, steps, a path).
    """

    name: str
    points: tuple[str, ...]
    foot_only: bool = False


@dataclass(frozen=True)
class StreetMap:
    """A city's streets.

    Attributes:
        name: the city or district.
        points: every junction and bend, by name: (lat, lon) in degrees (WGS 84).
        streets: the streets.
    """

    name: str
    points: Mapping[str, Point]
    streets: tuple[StreetLine, ...]


@dataclass(frozen=True)
class StreetRoute:
    """A way along the streets.

    Attributes:
        points: (lat, lon) waypoints in degrees, no two consecutive ones equal; one point when start and end meet.
        length_m: the length along the waypoints, metres.
    """

    points: tuple[Point, ...]
    length_m: float


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    length_m: float
    foot_only: bool
    street: str


@dataclass(frozen=True)
class _Snap:
    """Where a point joins the streets: ``fraction`` of the way along a segment, ``distance_m`` from the point."""

    segment: int
    fraction: float
    point: Point
    distance_m: float


class City:
    """Routing on a street map; see the module's description."""

    def __init__(self, street_map: StreetMap, *, max_snap_m: float = 250.0) -> None:
        """Check the map and build its graph.

        Args:
            street_map: the streets.
            max_snap_m: the farthest a start or end may be from a usable street, metres.

        Raises:
            InvalidStreetMap: a street names an unknown point, has fewer than two points or the same point twice
                in a row, a point is off the globe, two streets cross without a shared point, or some streets
                cannot be reached from the others (on foot, or by car on the streets open to vehicles).
        """
        if not (math.isfinite(max_snap_m) and max_snap_m > 0):
            raise InvalidStreetMap(f"max_snap_m must be a positive number of metres; got {max_snap_m!r}")
        self.name = street_map.name
        self.street_map = street_map
        self._max_snap_m = max_snap_m
        names = sorted({name for street in street_map.streets for name in street.points})
        for name in names:
            if name not in street_map.points:
                streets = [s.name for s in street_map.streets if name in s.points]
                raise InvalidStreetMap(f"{', '.join(streets)} names the point {name!r}, which the map does not have")
        lat_lon = np.array([street_map.points[name] for name in names], dtype=np.float64).reshape(-1, 2)
        if not (np.isfinite(lat_lon).all() and (np.abs(lat_lon[:, 0]) <= 90).all()):
            raise InvalidStreetMap("every point must be (lat -90..90, lon -180..180) degrees")
        if (np.abs(lat_lon[:, 1]) > 180).any():
            raise InvalidStreetMap("every point must be (lat -90..90, lon -180..180) degrees")
        self._names = names
        self._index = {name: i for i, name in enumerate(names)}
        self._lat_lon = lat_lon
        self._origin = (float(lat_lon[:, 0].mean()), float(lat_lon[:, 1].mean())) if names else (0.0, 0.0)
        self._cos_lat = math.cos(math.radians(self._origin[0]))
        self._xy = np.stack([self._x(lat_lon[:, 1]), self._y(lat_lon[:, 0])], axis=1)
        self._segments = self._build_segments(street_map.streets)
        self._check_crossings()
        self._adjacency = {on_foot: self._build_adjacency(on_foot=on_foot) for on_foot in (True, False)}
        self._check_connected()

    @property
    def centre(self) -> Point:
        """The middle of the map (the mean of its points), (lat, lon) degrees."""
        return self._origin

    @property
    def bounds(self) -> tuple[Point, Point]:
        """The south-west and north-east corners of the map, (lat, lon) degrees."""
        low, high = self._lat_lon.min(axis=0), self._lat_lon.max(axis=0)
        return (float(low[0]), float(low[1])), (float(high[0]), float(high[1]))

    def junctions(self, kind: UnitKind = UnitKind.FOOT) -> dict[str, Point]:
        """The named points a traveller of ``kind`` can reach, (lat, lon) degrees, by name."""
        usable = self._usable_nodes(on_foot=kind is UnitKind.FOOT)
        return {self._names[i]: self._point(i) for i in usable}

    def route(self, start: Point, end: Point, *, kind: UnitKind) -> StreetRoute:
        """The shortest way along the streets from ``start`` to ``end`` for a traveller of ``kind``.

        Args:
            start: (lat, lon) degrees, within the map's snapping distance of a usable street.
            end: likewise.
            kind: on foot every street may be used, and the last metres off the street are walked; vehicles
                keep to the streets open to them and stop on the street nearest ``end``.

        Returns:
            The route.

        Raises:
            OffTheStreets: ``start`` or ``end`` is too far from every street the traveller may use.
        """
        on_foot = kind is UnitKind.FOOT
        first, last = self._snap(start, on_foot=on_foot), self._snap(end, on_foot=on_foot)
        points = [start] if on_foot and first.distance_m > _OFF_STREET_M else []
        points.append(first.point)
        if first.segment != last.segment:
            points += [self._point(node) for node in self._shortest_nodes(first, last, on_foot=on_foot)]
        points.append(last.point)
        if on_foot and last.distance_m > _OFF_STREET_M:
            points.append(end)
        return self._route_through(points)

    def patrol_loop(self, start: Point, *, kind: UnitKind, rng: random.Random, stops: int = 4) -> StreetRoute:
        """A random circuit along the streets from ``start`` through ``stops`` junctions and back to ``start``.

        Args:
            start: (lat, lon) degrees, near a usable street.
            kind: as for :meth:`route`.
            rng: chooses the junctions.
            stops: junctions to pass, at least 2.

        Returns:
            A route whose last point is its first (on the street nearest ``start``).

        Raises:
            InvalidStreetMap: ``stops`` below 2, or the traveller can reach fewer than two junctions.
            OffTheStreets: ``start`` is too far from every usable street.
        """
        if stops < 2:
            raise InvalidStreetMap(f"a patrol passes at least 2 junctions; got {stops}")
        on_foot = kind is UnitKind.FOOT
        origin = self._snap(start, on_foot=on_foot).point
        usable = sorted(self._usable_nodes(on_foot=on_foot))
        if len(usable) < 2:
            raise InvalidStreetMap(f"{self.name}: a {kind.value} patrol needs at least 2 reachable junctions")
        chosen = rng.sample(usable, min(stops, len(usable)))
        legs = [origin, *(self._point(node) for node in chosen), origin]
        points: list[Point] = []
        for a, b in itertools.pairwise(legs):
            points += self.route(a, b, kind=kind).points
        return self._route_through(points)

    def random_point(self, rng: random.Random, *, kind: UnitKind) -> Point:
        """A point on a street a traveller of ``kind`` may use, uniformly by length, (lat, lon) degrees."""
        on_foot = kind is UnitKind.FOOT
        usable = [i for i, s in enumerate(self._segments) if on_foot or not s.foot_only]
        segment = rng.choices(usable, weights=[self._segments[i].length_m for i in usable])[0]
        return self._segment_point(segment, rng.random())

    def covering_circle(self, *, margin_m: float) -> dict[str, Any]:
        """A circle around the whole map, ``margin_m`` beyond its farthest point, as the API takes areas.

        The demo's deployment area: every street the officers patrol lies inside it.
        """
        centre = np.radians(np.array(self._origin))
        points = np.radians(self._lat_lon)
        # Haversine from the centre to each point of the map.
        half = np.sin((points - centre) / 2) ** 2
        a = half[:, 0] + np.cos(centre[0]) * np.cos(points[:, 0]) * half[:, 1]
        farthest_m = float(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)).max())
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self._origin[1], self._origin[0]]},
            "properties": {"radius_m": round(farthest_m + margin_m)},
        }

    def street_geojson(self) -> dict[str, Any]:
        """The streets as a GeoJSON FeatureCollection of LineStrings, the street file dispatch reads.

        Pedestrian streets carry ``highway: pedestrian`` (closed to vehicles there too); the others
        ``highway: unclassified``. Streets meet at exactly shared positions, as :mod:`vigil.dispatch.road_network`
        joins them.
        """
        points = self.street_map.points
        features = [
            {
                "type": "Feature",
                "properties": {"name": street.name, "highway": "pedestrian" if street.foot_only else "unclassified"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[points[name][1], points[name][0]] for name in street.points],
                },
            }
            for street in self.street_map.streets
        ]
        return {"type": "FeatureCollection", "features": features}

    # --- the graph ------------------------------------------------------------------------------------------

    def _build_segments(self, streets: Sequence[StreetLine]) -> list[_Segment]:
        segments = []
        for street in streets:
            if len(street.points) < 2:
                raise InvalidStreetMap(f"{street.name}: a street needs at least 2 points; got {len(street.points)}")
            for a, b in itertools.pairwise(street.points):
                start, end = self._index[a], self._index[b]
                length = float(np.hypot(*(self._xy[end] - self._xy[start])))
                if length == 0:
                    raise InvalidStreetMap(f"{street.name}: {a!r} and {b!r} are the same place; remove one")
                segments.append(_Segment(start, end, length, street.foot_only, street.name))
        return segments

    def _check_crossings(self) -> None:
        """Two segments may meet only at a shared point: anything else is a junction the map forgot."""
        for first, second in itertools.combinations(self._segments, 2):
            shared = {first.start, first.end} & {second.start, second.end}
            if shared:
                continue
            if _segments_touch(
                self._xy[first.start], self._xy[first.end], self._xy[second.start], self._xy[second.end]
            ):
                raise InvalidStreetMap(
                    f"{first.street} ({self._names[first.start]}–{self._names[first.end]}) and {second.street} "
                    f"({self._names[second.start]}–{self._names[second.end]}) cross without a shared point; "
                    "add the junction to both streets"
                )

    def _build_adjacency(self, *, on_foot: bool) -> list[list[tuple[int, float]]]:
        adjacency: list[list[tuple[int, float]]] = [[] for _ in self._names]
        for segment in self._segments:
            if on_foot or not segment.foot_only:
                adjacency[segment.start].append((segment.end, segment.length_m))
                adjacency[segment.end].append((segment.start, segment.length_m))
        return adjacency

    def _usable_nodes(self, *, on_foot: bool) -> set[int]:
        return {node for node, neighbours in enumerate(self._adjacency[on_foot]) if neighbours}

    def _check_connected(self) -> None:
        for on_foot, who in ((True, "on foot"), (False, "by car")):
            usable = self._usable_nodes(on_foot=on_foot)
            if not usable:
                if on_foot:
                    raise InvalidStreetMap(f"{self.name} has no streets")
                continue
            reached = set(self._distances({min(usable): 0.0}, on_foot=on_foot)[0])
            cut_off = sorted(self._names[node] for node in usable - reached)
            if cut_off:
                raise InvalidStreetMap(
                    f"{self.name}: {', '.join(cut_off)} cannot be reached {who} from {self._names[min(usable)]}; "
                    "join those streets to the rest at a shared point"
                )

    def _distances(
        self, sources: Mapping[int, float], *, on_foot: bool
    ) -> tuple[dict[int, float], dict[int, int | None]]:
        """Dijkstra from several start nodes, each with its own starting distance."""
        best = dict(sources)
        previous: dict[int, int | None] = dict.fromkeys(sources)
        heap = [(distance, node) for node, distance in sources.items()]
        heapq.heapify(heap)
        settled: set[int] = set()
        while heap:
            distance, node = heapq.heappop(heap)
            if node in settled:
                continue
            settled.add(node)
            for neighbour, length in self._adjacency[on_foot][node]:
                through = distance + length
                if through < best.get(neighbour, math.inf):
                    best[neighbour] = through
                    previous[neighbour] = node
                    heapq.heappush(heap, (through, neighbour))
        return best, previous

    def _shortest_nodes(self, first: _Snap, last: _Snap, *, on_foot: bool) -> list[int]:
        """The junctions between two points on different segments, in order."""
        start, end = self._segments[first.segment], self._segments[last.segment]
        sources = {start.start: first.fraction * start.length_m}
        tail = (1 - first.fraction) * start.length_m
        sources[start.end] = min(tail, sources.get(start.end, math.inf))
        best, previous = self._distances(sources, on_foot=on_foot)
        exits = [
            (best.get(end.start, math.inf) + last.fraction * end.length_m, end.start),
            (best.get(end.end, math.inf) + (1 - last.fraction) * end.length_m, end.end),
        ]
        _, node = min(exits)
        nodes: list[int] = []
        at: int | None = node
        while at is not None:
            nodes.append(at)
            at = previous[at]
        return nodes[::-1]

    def _snap(self, point: Point, *, on_foot: bool) -> _Snap:
        lat, lon = point
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise OffTheStreets(
                f"{point} is not a point on the Earth: give (lat -90..90, lon -180..180) degrees",
                point=point,
                distance_m=math.inf,
            )
        p = np.array(self._xy_of(point))
        usable = [i for i, s in enumerate(self._segments) if on_foot or not s.foot_only]
        a = self._xy[[self._segments[i].start for i in usable]]
        b = self._xy[[self._segments[i].end for i in usable]]
        ab = b - a
        fraction = np.clip(((p - a) * ab).sum(axis=1) / (ab * ab).sum(axis=1), 0.0, 1.0)
        nearest = a + fraction[:, None] * ab
        distances = np.hypot(*(nearest - p).T)
        best = int(np.argmin(distances))
        if distances[best] > self._max_snap_m:
            who = "anyone on foot" if on_foot else "vehicles"
            raise OffTheStreets(
                f"{point} is {distances[best]:,.0f} m from the nearest street of {self.name} open to {who}; "
                f"the limit is {self._max_snap_m:,.0f} m",
                point=point,
                distance_m=float(distances[best]),
            )
        segment = usable[best]
        where = float(fraction[best])
        snapped = self._segment_point(segment, where)
        return _Snap(segment=segment, fraction=where, point=snapped, distance_m=float(distances[best]))

    def _segment_point(self, segment: int, fraction: float) -> Point:
        """The point ``fraction`` along a segment; exactly its end point's coordinates at 0 and 1."""
        s = self._segments[segment]
        if fraction <= 0.0:
            return self._point(s.start)
        if fraction >= 1.0:
            return self._point(s.end)
        a, b = self._xy[s.start], self._xy[s.end]
        return self._point_of((float(a[0] + fraction * (b[0] - a[0])), float(a[1] + fraction * (b[1] - a[1]))))

    def _route_through(self, points: Sequence[Point]) -> StreetRoute:
        """A route through the points, with points closer than a centimetre to the one before left out."""
        kept: list[Point] = []
        length = 0.0
        for point in points:
            if kept:
                (x0, y0), (x1, y1) = self._xy_of(kept[-1]), self._xy_of(point)
                step = math.hypot(x1 - x0, y1 - y0)
                if step < _SAME_POINT_M:
                    continue
                length += step
            kept.append(point)
        return StreetRoute(points=tuple(kept), length_m=length)

    # --- projection -----------------------------------------------------------------------------------------

    def _x(self, lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (lon - self._origin[1]) * self._cos_lat * _METRES_PER_DEGREE

    def _y(self, lat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (lat - self._origin[0]) * _METRES_PER_DEGREE

    def _xy_of(self, point: Point) -> tuple[float, float]:
        lat, lon = point
        return (
            (lon - self._origin[1]) * self._cos_lat * _METRES_PER_DEGREE,
            (lat - self._origin[0]) * _METRES_PER_DEGREE,
        )

    def _point_of(self, xy: tuple[float, float]) -> Point:
        """Planar metres back to (lat, lon) degrees."""
        return (
            self._origin[0] + xy[1] / _METRES_PER_DEGREE,
            self._origin[1] + xy[0] / (self._cos_lat * _METRES_PER_DEGREE),
        )

    def _point(self, node: int) -> Point:
        return (float(self._lat_lon[node][0]), float(self._lat_lon[node][1]))


def _segments_touch(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], c: npt.NDArray[np.float64], d: npt.NDArray[np.float64]
) -> bool:
    """Whether segments a–b and c–d (planar metres) cross or touch, within a centimetre."""

    def side(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64], r: npt.NDArray[np.float64]) -> float:
        cross = float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))
        scale = float(np.hypot(*(q - p)))
        return 0.0 if abs(cross) / scale < _SAME_POINT_M else cross

    def within(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64], r: npt.NDArray[np.float64]) -> bool:
        return bool(min(p[0], q[0]) - 0.01 <= r[0] <= max(p[0], q[0]) + 0.01) and bool(
            min(p[1], q[1]) - 0.01 <= r[1] <= max(p[1], q[1]) + 0.01
        )

    d1, d2, d3, d4 = side(c, d, a), side(c, d, b), side(a, b, c), side(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and within(c, d, a))
        or (d2 == 0 and within(c, d, b))
        or (d3 == 0 and within(a, b, c))
        or (d4 == 0 and within(a, b, d))
    )
