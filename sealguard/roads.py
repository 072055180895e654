"""Roads under the offline base map, from a file the operator points at (``SEALGUARD_MAP_ROADS``).

Why a file and not a bundled layer: the public-domain roads that would do (Natural Earth's
``ne_10m_roads_north_america``, 1:10m, or the US Census TIGER primary roads) are tens of megabytes, too
big to ship in every clone, and were not to be had on the machine this was built on; a site that wants
roads downloads one of them once (docs/operations.md). With none, the maps are as before: countries,
states, towns.

The roads are served as tiles (``z/x/y``, the web map's own grid) so the browser fetches only what is in
view and caches it, and each tile holds only what reads at its zoom: motorways from zoom 5, main roads
from 7, the rest from 9, each line simplified to about a pixel. A road keeps one id across the tiles it
crosses, so the map draws it once.
"""

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import orjson

from sealguard.errors import SealguardError

MAX_FILE_BYTES = 512 * 1024 * 1024  # a whole continent of Natural Earth roads is under 100 MB
MAX_TILE_ZOOM = 10  # past this the 1:10m lines gain nothing from finer tiles
SHOWN_FROM = (5, 7, 9)  # the first tile zoom at which each rank (major, secondary, other) is drawn

Point = tuple[float, float]  # lon, lat


class RoadsFileError(SealguardError):
    """The roads file named by SEALGUARD_MAP_ROADS cannot be used: refused at start, with why."""


@dataclass(frozen=True, slots=True)
class Road:
    id: int
    rank: int  # 0 motorway or major highway, 1 secondary highway, 2 any other road
    name: str
    lines: tuple[tuple[Point, ...], ...]
    bbox: tuple[float, float, float, float]  # west, south, east, north


def rank_of(props: dict[str, object]) -> int | None:
    """How important a road is, from Natural Earth's ``type``/``expressway`` or TIGER's ``MTFCC``; None for
    what is not a road to draw (a ferry route)."""
    kind = str(props.get("type") or props.get("featurecla") or "").lower()
    if "ferry" in kind:
        return None
    mtfcc = str(props.get("MTFCC") or props.get("mtfcc") or "")
    if kind == "major highway" or props.get("expressway") == 1 or mtfcc == "S1100":
        return 0
    if kind == "secondary highway" or mtfcc == "S1200":
        return 1
    return 2


def _name(props: dict[str, object]) -> str:
    for key in ("name", "label", "FULLNAME", "fullname", "ref"):
        value = props.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()[:80]
    return ""


def _lines(geometry: object) -> list[tuple[Point, ...]]:
    if not isinstance(geometry, dict):
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    parts = [coords] if kind == "LineString" else coords if kind == "MultiLineString" else []
    out: list[tuple[Point, ...]] = []
    for part in parts if isinstance(parts, list) else []:
        try:
            line = tuple((float(p[0]), float(p[1])) for p in part)
        except (TypeError, ValueError, IndexError):
            continue  # one malformed line is skipped, not the file
        if len(line) >= 2 and all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in line):
            out.append(line)
    return out


def simplify(line: tuple[Point, ...], tolerance: float) -> list[Point]:
    """Douglas-Peucker: the points that keep the line within ``tolerance`` (degrees) of itself; the ends
    always stay."""
    if len(line) <= 2:
        return list(line)
    keep = [False] * len(line)
    keep[0] = keep[-1] = True
    stack = [(0, len(line) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = line[first], line[last]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        worst, at = -1.0, -1
        for i in range(first + 1, last):
            x, y = line[i]
            d = abs(dy * (x - x1) - dx * (y - y1)) / norm if norm else math.hypot(x - x1, y - y1)
            if d > worst:
                worst, at = d, i
        if worst > tolerance:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, k in zip(line, keep, strict=True) if k]


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A web-map tile's west, south, east, north in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


class RoadMap:
    """The roads of one file, indexed by one-degree cells, with the tiles made so far (a bounded cache:
    a tile is a pure function of the file, and an operator's map asks for the same few again and again)."""

    def __init__(self, roads: list[Road], cache_tiles: int = 4096) -> None:
        self.roads = roads
        self._cells: dict[tuple[int, int], list[int]] = {}
        for i, road in enumerate(roads):
            w, s, e, n = road.bbox
            for cx in range(math.floor(w), math.floor(e) + 1):
                for cy in range(math.floor(s), math.floor(n) + 1):
                    self._cells.setdefault((cx, cy), []).append(i)
        self._tiles: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._cache_tiles = cache_tiles

    @classmethod
    def load(cls, path: Path) -> "RoadMap":
        """Read a GeoJSON FeatureCollection of (Multi)LineStrings; a file that is not one is refused at
        start with what is wrong, never half-drawn."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise RoadsFileError(f"SEALGUARD_MAP_ROADS: cannot read {path}: {exc.strerror}") from exc
        if size > MAX_FILE_BYTES:
            raise RoadsFileError(f"SEALGUARD_MAP_ROADS: {path} is {size} bytes, more than {MAX_FILE_BYTES}")
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise RoadsFileError(f"SEALGUARD_MAP_ROADS: {path} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise RoadsFileError(f"SEALGUARD_MAP_ROADS: {path} is not a GeoJSON FeatureCollection")
        roads: list[Road] = []
        for feature in data["features"]:
            if not isinstance(feature, dict):
                continue
            found = feature.get("properties")
            props: dict[str, object] = found if isinstance(found, dict) else {}
            rank = rank_of(props)
            lines = _lines(feature.get("geometry"))
            if rank is None or not lines:
                continue
            xs = [p[0] for line in lines for p in line]
            ys = [p[1] for line in lines for p in line]
            roads.append(Road(len(roads), rank, _name(props), tuple(lines), (min(xs), min(ys), max(xs), max(ys))))
        if not roads:
            raise RoadsFileError(f"SEALGUARD_MAP_ROADS: {path} has no road lines")
        return cls(roads)

    def tile(self, z: int, x: int, y: int) -> bytes:
        """The tile's roads as JSON ``[[id, rank, name, [[[lon, lat], ...], ...]], ...]``: those shown at
        ``z``, crossing the tile, simplified to a pixel of it. ``z`` past MAX_TILE_ZOOM is the caller's to
        avoid (the map asks for MAX_TILE_ZOOM tiles when zoomed in further)."""
        key = (z, x, y)
        cached = self._tiles.get(key)
        if cached is not None:
            self._tiles.move_to_end(key)
            return cached
        west, south, east, north = tile_bounds(z, x, y)
        ranks = sum(1 for first in SHOWN_FROM if z >= first)
        seen: set[int] = set()
        out: list[tuple[int, int, str, list[list[list[float]]]]] = []
        tolerance = (east - west) / 256
        for cx in range(math.floor(west), math.ceil(east)):
            for cy in range(math.floor(south), math.ceil(north)):
                for i in self._cells.get((cx, cy), ()):
                    road = self.roads[i]
                    if i in seen or road.rank >= ranks:
                        continue
                    seen.add(i)
                    w, s, e, n = road.bbox
                    if e < west or w > east or n < south or s > north:
                        continue
                    lines = [[[round(px, 5), round(py, 5)] for px, py in simplify(line, tolerance)]
                             for line in road.lines]  # fmt: skip
                    out.append((road.id, road.rank, road.name, lines))
        body = orjson.dumps(sorted(out))
        self._tiles[key] = body
        if len(self._tiles) > self._cache_tiles:
            self._tiles.popitem(last=False)
        return body
