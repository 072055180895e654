"""Places, route corridors and distances on the WGS 84 ellipsoid.

Distances between points are geodesics (pyproj ``Geod``). Polygons are shapely geometries in
``[lon, lat]`` (at facility scale the difference between straight edges in degrees and on the ground is
centimetres). A route corridor is measured in an azimuthal equidistant projection centred on the
route, where shapely's planar distance is within 0.4 % of the ground distance up to 1,000 km from
the centre (better than 0.1 % within 500 km), comfortably inside the 1 % the corridor check needs.

Per-fix cost matters (every GPS fix is checked), so :class:`RouteCorridor` first tries the few route
segments near the last match; that can only *over*-estimate the distance, so when it says "inside"
the answer is right, and anything else is decided by shapely on the whole line.
"""

import bisect
import math
from dataclasses import dataclass

import shapely
from pyproj import CRS, Geod, Transformer

from schemas.places import CirclePlace, Place

_GEOD = Geod(ellps="WGS84")
_M_PER_DEG_LAT = 110_574.0  # lower bound over the ellipsoid, so boxes below are never too small


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two ``lon, lat`` points."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _degree_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box certain to contain every point within ``radius_m`` of ``lon, lat``."""
    dlat = radius_m / _M_PER_DEG_LAT * 1.01 + 1e-9
    cos_lat = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
    dlon = 180.0 if cos_lat < 1e-6 else min(180.0, radius_m / (111_320.0 * cos_lat) * 1.01 + 1e-9)
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


class CompiledPlace:
    """A place ready for fast containment tests: box first, then the exact shape."""

    __slots__ = ("box", "center", "facility_id", "polygon", "radius_m")

    def __init__(self, place: Place) -> None:
        self.facility_id = place.facility_id
        self.polygon: shapely.Polygon | None
        if isinstance(place, CirclePlace):
            self.center: tuple[float, float] | None = (place.center[0], place.center[1])
            self.radius_m = place.radius_m
            self.polygon = None
            self.box = _degree_box(place.center[0], place.center[1], place.radius_m)
        else:
            self.center = None
            self.radius_m = 0.0
            polygon = shapely.Polygon(place.polygon)
            if not polygon.is_valid:
                polygon = shapely.make_valid(polygon)
            shapely.prepare(polygon)
            self.polygon = polygon
            self.box = polygon.bounds

    def contains(self, lon: float, lat: float) -> bool:
        box = self.box
        if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
            return False
        if self.center is not None:
            return distance_m(self.center[0], self.center[1], lon, lat) <= self.radius_m
        # Boundary counts as inside: a truck parked on the fence line is at the facility.
        return bool(shapely.intersects_xy(self.polygon, lon, lat))


class FacilityIndex:
    """Registered facilities of one tenant, searchable by point (an STRtree over their boxes)."""

    def __init__(self) -> None:
        self._places: dict[str, CompiledPlace] = {}
        self._tree: shapely.STRtree | None = None
        self._order: list[CompiledPlace] = []

    def __len__(self) -> int:
        return len(self._places)

    def add(self, place: Place) -> None:
        self._places[place.facility_id] = CompiledPlace(place)
        self._tree = None  # rebuilt on the next query: registrations come in bursts

    def containing(self, lon: float, lat: float) -> list[str]:
        """Facility ids whose place contains the point, sorted for determinism."""
        if not self._places:
            return []
        if self._tree is None:
            self._order = [self._places[k] for k in sorted(self._places)]
            self._tree = shapely.STRtree([shapely.box(*p.box) for p in self._order])
        hits = self._tree.query(shapely.Point(lon, lat))
        return sorted(self._order[i].facility_id for i in hits if self._order[i].contains(lon, lat))


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


@dataclass(frozen=True, slots=True)
class CorridorCheck:
    distance_m: float
    segment: int


class RouteCorridor:
    """A planned route, measured in metres in a projection centred on it."""

    _WINDOW = 3  # segments either side of the last match tried before the whole line

    def __init__(self, route: list[tuple[float, float]]) -> None:
        lons = [p[0] for p in route]
        lats = [p[1] for p in route]
        lon0, lat0 = self._centre(lons, lats)
        crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs")
        self._to_plane = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        xs, ys = self._to_plane.transform(lons, lats)
        self._xs: list[float] = [float(x) for x in xs]
        self._ys: list[float] = [float(y) for y in ys]
        self._line = shapely.LineString(list(zip(self._xs, self._ys, strict=True)))
        shapely.prepare(self._line)
        cumulative = [0.0]
        for i in range(1, len(self._xs)):
            step = math.hypot(self._xs[i] - self._xs[i - 1], self._ys[i] - self._ys[i - 1])
            cumulative.append(cumulative[-1] + step)
        self._cumulative = cumulative

    @staticmethod
    def _centre(lons: list[float], lats: list[float]) -> tuple[float, float]:
        # Mean of unit vectors: right across the antimeridian, where a plain mean of longitudes is not.
        x = sum(math.cos(math.radians(a)) * math.cos(math.radians(o)) for a, o in zip(lats, lons, strict=True))
        y = sum(math.cos(math.radians(a)) * math.sin(math.radians(o)) for a, o in zip(lats, lons, strict=True))
        z = sum(math.sin(math.radians(a)) for a in lats)
        return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))

    def check(self, lon: float, lat: float, limit_m: float, hint: int = -1) -> CorridorCheck:
        """Distance from the route (exact when above ``limit_m``) and the nearest segment index."""
        px, py = self._to_plane.transform(lon, lat)
        xs, ys = self._xs, self._ys
        if hint >= 0:
            best, best_i = math.inf, hint
            for i in range(max(0, hint - self._WINDOW), min(len(xs) - 1, hint + self._WINDOW + 1)):
                d = _segment_distance(px, py, xs[i], ys[i], xs[i + 1], ys[i + 1])
                if d < best:
                    best, best_i = d, i
            if best <= limit_m:
                return CorridorCheck(best, best_i)
        point = shapely.Point(px, py)
        exact = float(self._line.distance(point))
        along = float(self._line.project(point))
        segment = min(len(xs) - 2, max(0, bisect.bisect_right(self._cumulative, along) - 1))
        return CorridorCheck(exact, segment)
