"""Streets as a graph, and arrival estimates that follow them.

**The file** is GeoJSON (RFC 7946): a FeatureCollection of street features, each geometry a LineString or
MultiLineString in (longitude, latitude). Every vertex is a node, and features that share a vertex (the exact
same coordinates) meet there; streets that cross without one (a bridge) do not. Properties, all optional:

* ``oneway``: ``true``/``"yes"``/``"1"`` for one way in the direction drawn, ``"-1"``/``"reverse"`` for against
  it; absent, ``false``/``"no"``/``"0"``: both ways. Only vehicles keep to it; officers on foot walk both ways.
* ``speed_kph``: the speed a vehicle keeps along the street. Absent: the kind's profile speed.
* ``highway``: OpenStreetMap's value (or a list of them): ``footway``, ``path``, ``pedestrian``, ``steps``,
  ``cycleway``, ``bridleway`` and ``corridor`` are closed to vehicles; ``motorway`` and ``motorway_link`` to
  officers on foot.

With osmnx, made once from OpenStreetMap on a machine with the internet (Vigil downloads nothing)::

    G = osmnx.add_edge_speeds(osmnx.graph_from_place("Manchester, UK", network_type="all"))
    edges = osmnx.graph_to_gdfs(G, nodes=False)
    edges["highway"] = edges["highway"].map(lambda h: h[0] if isinstance(h, list) else h)
    edges[["highway", "oneway", "speed_kph", "geometry"]].to_file("manchester.geojson", driver="GeoJSON")

**Estimates**: the unit and the target are each joined to the nearest node within ``max_snap_m`` in a straight
line, at the kind's profile speed; between those nodes the fastest route for the unit's kind, found by
Dijkstra's algorithm from the target over the reversed streets, stopping once every unit's node is reached.
The kind's ``start_s`` is added; its detour factor is not (the route is the detour). A unit or target beyond
``max_snap_m`` from every node, or a unit with no route, gets the straight-line estimate.
"""

import heapq
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.cell_grid import CellGrid
from vigil.dispatch.errors import RoadNetworkError
from vigil.dispatch.eta import Eta, EtaBasis, StraightLineEta
from vigil.dispatch.geodesy import METRES_PER_DEGREE, FloatArray, GeoPoint, haversine_m, pairwise_haversine_m
from vigil.dispatch.settings import RankingSettings, SpeedProfile
from vigil.dispatch.unit import UnitKind

CLOSED_TO_VEHICLES = frozenset({"footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor"})
CLOSED_TO_FOOT = frozenset({"motorway", "motorway_link"})
_FORWARD = frozenset({True, "yes", "true", "1"})
_REVERSE = frozenset({"-1", "reverse"})
_BOTH_WAYS = frozenset({None, False, "no", "false", "0"})


@dataclass(frozen=True)
class Street:
    """One segment of a street, between two consecutive vertices of a feature."""

    start: int
    end: int
    length_m: float
    speed_mps: float | None
    direction: int
    """1: only start → end for vehicles; -1: only end → start; 0: both ways."""
    vehicles: bool
    foot: bool


@dataclass(frozen=True)
class Route:
    """The fastest way along the streets from a node to the target's node."""

    seconds: float
    length_m: float


class RoadNetwork:
    """Nodes (street corners and bends) and the street segments between them."""

    def __init__(self, *, lat_deg: FloatArray, lon_deg: FloatArray, streets: Sequence[Street]) -> None:
        """A network of these nodes (shape (n,) each) and streets (whose ends index the nodes).

        Raises:
            ValueError: a street refers to a node that does not exist.
        """
        if any(not (0 <= s.start < lat_deg.size and 0 <= s.end < lat_deg.size) for s in streets):
            raise ValueError(f"every street must join two of the {lat_deg.size} nodes")
        self.lat_deg = lat_deg
        self.lon_deg = lon_deg
        self.streets = tuple(streets)
        self._grid = CellGrid(np.arange(lat_deg.size, dtype=np.int64), lat_deg, lon_deg)

    def nearest_node(self, point: GeoPoint, *, within_m: float) -> tuple[int, float] | None:
        """The node nearest a point, and its distance in metres; None when none is within ``within_m``."""
        reach_lat = within_m / METRES_PER_DEGREE
        reach_lon = reach_lat / max(math.cos(math.radians(point.lat)), 1e-6)
        near = self._grid.ids_in_cells_of(
            point.lon - reach_lon, point.lat - reach_lat, point.lon + reach_lon, point.lat + reach_lat
        )
        if near.size == 0:
            return None
        distances = haversine_m(self.lat_deg[near], self.lon_deg[near], to=point)
        best = int(np.argmin(distances))
        if distances[best] > within_m:
            return None
        return int(near[best]), float(distances[best])


class _ReversedGraph:
    """The streets a kind of unit may use, each pointing from its end back to its start (CSR lists)."""

    def __init__(self, streets: Sequence[Street], *, node_count: int, kind: UnitKind, profile: SpeedProfile) -> None:
        on_foot = kind is UnitKind.FOOT
        arcs: list[tuple[int, int, float, float]] = []  # (to, from, seconds, metres): reversed
        for street in streets:
            if not (street.foot if on_foot else street.vehicles):
                continue
            speed = profile.speed_mps if on_foot or street.speed_mps is None else street.speed_mps
            seconds = street.length_m / speed
            if on_foot or street.direction >= 0:
                arcs.append((street.end, street.start, seconds, street.length_m))
            if on_foot or street.direction <= 0:
                arcs.append((street.start, street.end, seconds, street.length_m))
        arcs.sort()
        counts = np.bincount(np.array([arc[0] for arc in arcs], dtype=np.int64), minlength=node_count)
        self._first = [0, *np.cumsum(counts).tolist()]
        self._next = [arc[1] for arc in arcs]
        self._seconds = [arc[2] for arc in arcs]
        self._metres = [arc[3] for arc in arcs]

    def routes_to(self, target: int, sources: set[int]) -> dict[int, Route]:
        """Dijkstra from the target over the reversed arcs, until every source is settled."""
        best: dict[int, tuple[float, float]] = {target: (0.0, 0.0)}
        settled: set[int] = set()
        waiting = set(sources)
        heap = [(0.0, 0.0, target)]
        while heap and waiting:
            seconds, metres, node = heapq.heappop(heap)
            if node in settled:
                continue
            settled.add(node)
            waiting.discard(node)
            for arc in range(self._first[node], self._first[node + 1]):
                neighbour = self._next[arc]
                through = seconds + self._seconds[arc]
                if neighbour not in settled and through < best.get(neighbour, (math.inf, 0.0))[0]:
                    best[neighbour] = (through, metres + self._metres[arc])
                    heapq.heappush(heap, (through, metres + self._metres[arc], neighbour))
        return {node: Route(*best[node]) for node in sources if node in settled}


class RoadNetworkEta:
    """Arrival estimates along the streets, straight-line where the streets cannot say."""

    def __init__(self, network: RoadNetwork, settings: RankingSettings) -> None:
        """Estimate over ``network`` with the speed profiles and snapping distance in ``settings``."""
        self._network = network
        self._settings = settings
        self._straight_line = StraightLineEta(settings)
        self._graphs = {
            kind: _ReversedGraph(
                network.streets, node_count=network.lat_deg.size, profile=settings.profile(kind), kind=kind
            )
            for kind in UnitKind
        }

    def estimate(self, units: Sequence[UnitInArea], *, target: GeoPoint) -> list[Eta]:
        """One estimate per unit, in the order given."""
        estimates = self._straight_line.estimate(units, target=target)
        within_m = self._settings.max_snap_m
        target_node = self._network.nearest_node(target, within_m=within_m)
        if target_node is None:
            return estimates
        entries = [
            self._network.nearest_node(GeoPoint(lat=unit.lat, lon=unit.lon), within_m=within_m) for unit in units
        ]
        for kind in UnitKind:
            mine = {i: entry for i, entry in enumerate(entries) if entry is not None and units[i].kind is kind}
            if not mine:
                continue
            profile = self._settings.profile(kind)
            routes = self._graphs[kind].routes_to(target_node[0], {node for node, _ in mine.values()})
            for i, (node, entry_m) in mine.items():
                route = routes.get(node)
                if route is None:
                    continue
                legs_m = entry_m + target_node[1]
                estimates[i] = Eta(
                    seconds=profile.start_s + legs_m / profile.speed_mps + route.seconds,
                    route_m=legs_m + route.length_m,
                    basis=EtaBasis.ROAD,
                )
        return estimates


def load_road_network(path: Path) -> RoadNetwork:
    """Read a street file (the format is in this module's docstring).

    Raises:
        RoadNetworkError: the file cannot be read, is not GeoJSON, has a feature that is not a street, or a
            property of the wrong type; the message names the feature.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RoadNetworkError(str(path), f"cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise RoadNetworkError(str(path), f"is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise RoadNetworkError(str(path), "expected a GeoJSON FeatureCollection of LineString streets")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise RoadNetworkError(str(path), "the FeatureCollection has no features")
    nodes: dict[tuple[float, float], int] = {}
    segments: list[_Segment] = []
    for number, feature in enumerate(features):
        try:
            segments += _segments(feature, nodes)
        except ValueError as exc:
            raise RoadNetworkError(str(path), f"feature {number}: {exc}") from None
    coordinates = np.array(list(nodes), dtype=np.float64).reshape(-1, 2)
    lon, lat = coordinates[:, 0].copy(), coordinates[:, 1].copy()
    starts = np.array([segment.start for segment in segments], dtype=np.int64)
    ends = np.array([segment.end for segment in segments], dtype=np.int64)
    lengths = pairwise_haversine_m(lat[starts], lon[starts], lat[ends], lon[ends]).tolist()
    streets = [
        Street(
            start=segment.start,
            end=segment.end,
            length_m=length,
            speed_mps=segment.speed_mps,
            direction=segment.direction,
            vehicles=segment.vehicles,
            foot=segment.foot,
        )
        for segment, length in zip(segments, lengths, strict=True)
    ]
    return RoadNetwork(lat_deg=lat, lon_deg=lon, streets=streets)


class _Segment(NamedTuple):
    start: int
    end: int
    speed_mps: float | None
    direction: int
    vehicles: bool
    foot: bool


def _segments(feature: object, nodes: dict[tuple[float, float], int]) -> list[_Segment]:
    if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
        raise ValueError("not a Feature with a geometry")
    geometry, properties = feature["geometry"], feature.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise ValueError("properties is not an object")
    match geometry.get("type"):
        case "LineString":
            lines = [geometry.get("coordinates")]
        case "MultiLineString":
            lines = geometry.get("coordinates")
            if not isinstance(lines, list):
                raise ValueError("coordinates is not an array of lines")
        case other:
            raise ValueError(f"a {other} is not a street; streets are LineStrings or MultiLineStrings")
    direction, speed_mps, vehicles, foot = _properties(properties)
    segments = []
    for line in lines:
        positions = [_position(position) for position in _list(line, "a line")]
        if len(positions) < 2:
            raise ValueError("a line needs at least 2 positions")
        for start, end in itertools.pairwise(positions):
            segments.append(
                _Segment(
                    nodes.setdefault(start, len(nodes)),
                    nodes.setdefault(end, len(nodes)),
                    speed_mps,
                    direction,
                    vehicles,
                    foot,
                )
            )
    return segments


def _properties(properties: Mapping[str, object]) -> tuple[int, float | None, bool, bool]:
    oneway = properties.get("oneway")
    oneway = oneway.lower() if isinstance(oneway, str) else oneway
    if oneway in _FORWARD:
        direction = 1
    elif oneway in _REVERSE:
        direction = -1
    elif oneway in _BOTH_WAYS:
        direction = 0
    else:
        raise ValueError(f"oneway {oneway!r} is not one of yes, no, -1, true, false")
    speed = properties.get("speed_kph")
    speed_mps = None
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed < 500:
            raise ValueError(f"speed_kph {speed!r} is not a speed in km/h")
        speed_mps = speed / 3.6
    highway = properties.get("highway")
    kinds = set(highway) if isinstance(highway, list) else {highway}
    return (
        direction,
        speed_mps,
        not kinds <= CLOSED_TO_VEHICLES,
        not kinds <= CLOSED_TO_FOOT,
    )


def _position(value: object) -> tuple[float, float]:
    numbers = _list(value, "a position")
    if len(numbers) not in (2, 3):
        raise ValueError(f"{value!r} is not a position [longitude, latitude]")
    lon, lat = numbers[0], numbers[1]
    if (
        isinstance(lon, bool)
        or isinstance(lat, bool)
        or not isinstance(lon, int | float)
        or not isinstance(lat, int | float)
    ):
        raise ValueError(f"{value!r} is not a position [longitude, latitude]")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"position {value!r} is out of range (longitude −180…180, latitude −90…90)")
    return float(lon), float(lat)


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise ValueError(f"{what} is not an array")
    return value
