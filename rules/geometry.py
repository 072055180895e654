"""Places, route corridors and distances on the WGS 84 ellipsoid.

Distances between points are geodesics (pyproj ``Geod``). Polygons are shapely geometries in
``[lon, lat]`` (at facility scale the difference between straight edges in degrees and on the ground is
centimetres). A route corridor is measured in an azimuthal equidistant projection centred on the
route, where the planar distance is within 0.4 % of the ground distance up to 1,000 km from
the centre (better than 0.1 % within 500 km), comfortably inside the 1 % the corridor check needs.

Per-fix cost matters (every GPS fix is checked), so :class:`RouteCorridor` first tries the few route
segments near the last match, in a local tangent plane at the fix (metres per degree from the WGS 84
radii of curvature there; within 0.1 % over a few kilometres). Looking at fewer segments can only
*over*-estimate the distance, and the answer is trusted only when it is inside the limit with a 1 %
margin; everything else is decided on the whole projected line (numpy, every segment at once).

Memory matters as much (a worker holds every open trip of its partitions): a corridor keeps four flat
arrays (degrees as doubles for the walk, metres as floats for the exact check), about 5 KB for a 200-point route
and nothing per point beyond that, and identical routes (a carrier's lanes) share one corridor
(:func:`corridor_for`), as trips to the same facility share its compiled place (:func:`compiled_place`).
"""

import hashlib
import math
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer

from sealguard.schemas.places import CirclePlace, Place

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

    __slots__ = ("__weakref__", "box", "center", "facility_id", "plain", "polygon", "radius_m")

    def __init__(self, place: Place) -> None:
        self.facility_id = place.facility_id
        self.plain: dict[str, Any] = place.model_dump(mode="json", exclude_none=True)  # as planned, for snapshots
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


@dataclass(frozen=True, slots=True)
class CorridorCheck:
    distance_m: float
    segment: int


_A = 6_378_137.0  # WGS 84
_E2 = 6.694_379_990_14e-3


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude and latitude at ``lat`` on the ellipsoid."""
    return _metres_per_degree(round(lat, 2))


@lru_cache(maxsize=20_000)
def _metres_per_degree(lat: float) -> tuple[float, float]:
    # Cached per 0.01 degree: the scale changes by under 1e-4 across that, far inside the margin.
    phi = math.radians(lat)
    w2 = 1.0 - _E2 * math.sin(phi) ** 2
    prime_vertical = _A / math.sqrt(w2)
    meridional = _A * (1.0 - _E2) / (w2 * math.sqrt(w2))
    return math.radians(1.0) * prime_vertical * math.cos(phi), math.radians(1.0) * meridional


@lru_cache(maxsize=4096)
def _plane(lon0: int, lat0: int) -> Transformer:
    """An azimuthal equidistant projection on WGS 84 centred on a whole degree. Built as a PROJ pipeline:
    the same numbers as ``Transformer.from_crs`` between EPSG:4326 and the aeqd CRS (no datum shift
    between them), in 0.1 ms instead of 15 ms, which a worker pays for each new degree cell of routes."""
    return Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad"
        f" +step +proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84"
    )


class RouteCorridor:
    """A planned route, measured in metres in a projection centred on it."""

    __slots__ = ("__weakref__", "_lats", "_lons", "_to_plane", "_xs", "_ys")

    _WALK = 8  # segments walked from the hint before giving up on the fast path

    def __init__(self, route: Sequence[tuple[float, float]]) -> None:
        self._lons = array("d", (p[0] for p in route))
        self._lats = array("d", (p[1] for p in route))
        lons, lats = np.frombuffer(self._lons), np.frombuffer(self._lats)
        lon0, lat0 = _centre(lons, lats)
        # Centred within half a degree of the route's own centre: a few tens of km, which changes the
        # projection's distortion by far less than the 1 % budget, and lets routes share transformers.
        self._to_plane = _plane(round(lon0), round(lat0))
        # Metres as float32: 0.25 m steps 3,000 km from the centre, far inside the 1 % budget, at half
        # the memory (projecting the route again per check would cost ~0.3 ms).
        xs, ys = self._to_plane.transform(lons, lats)
        self._xs: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(xs, dtype=np.float32)
        self._ys: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(ys, dtype=np.float32)

    def points(self) -> list[list[float]]:
        """The route as ``[lon, lat]`` pairs, exactly as planned (the doubles are kept bit for bit)."""
        return [[lon, lat] for lon, lat in zip(self._lons, self._lats, strict=True)]

    def check(self, lon: float, lat: float, limit_m: float, hint: int = -1) -> CorridorCheck:
        """Distance from the route (exact when above ``limit_m``) and the nearest segment index."""
        if hint >= 0:
            fast = self._walk(lon, lat, limit_m * 0.99, hint)
            if fast is not None:
                return fast
        px, py = self._to_plane.transform(lon, lat)
        xs, ys = self._xs.astype(float), self._ys.astype(float)
        ax, ay = xs[:-1] - px, ys[:-1] - py
        dx, dy = np.diff(xs), np.diff(ys)
        length2 = dx * dx + dy * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(length2 > 0.0, -(ax * dx + ay * dy) / length2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        distances = np.hypot(ax + t * dx, ay + t * dy)
        segment = int(np.argmin(distances))
        return CorridorCheck(float(distances[segment]), segment)

    def _walk(self, lon: float, lat: float, inside_m: float, hint: int) -> CorridorCheck | None:
        """Walk from the hint towards the fix in a tangent plane at it; only a sure "inside" is returned."""
        kx, ky = metres_per_degree(lat)
        lons, lats = self._lons, self._lats
        last = len(lons) - 2
        i = min(hint, last)
        step = 0
        for _ in range(self._WALK):
            ax, ay = (lons[i] - lon) * kx, (lats[i] - lat) * ky
            dx, dy = (lons[i + 1] - lon) * kx - ax, (lats[i + 1] - lat) * ky - ay
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0.0 else -(ax * dx + ay * dy) / length2
            if t >= 1.0 and i < last and step >= 0:
                i, step = i + 1, 1  # the fix is past this segment: follow the route forward
                continue
            if t <= 0.0 and i > 0 and step <= 0:
                i, step = i - 1, -1
                continue
            t = min(1.0, max(0.0, t))
            distance = math.hypot(ax + t * dx, ay + t * dy)
            return CorridorCheck(distance, i) if distance <= inside_m else None
        return None


_CORRIDORS: "weakref.WeakValueDictionary[bytes, RouteCorridor]" = weakref.WeakValueDictionary()
_PLACES: "weakref.WeakValueDictionary[str, CompiledPlace]" = weakref.WeakValueDictionary()


def corridor_for(route: Sequence[tuple[float, float]]) -> RouteCorridor:
    """The corridor of ``route``, shared with every open trip planned on the same points.

    Sharing is safe because a corridor is immutable; it is found by a digest of the points and
    confirmed point by point, so a digest collision costs a second corridor, never a wrong one. A
    corridor no open trip holds any more is freed (weak values)."""
    lons, lats = array("d", (p[0] for p in route)), array("d", (p[1] for p in route))
    key = hashlib.blake2b(lons.tobytes() + lats.tobytes(), digest_size=16).digest()
    known = _CORRIDORS.get(key)
    if known is not None and known._lons == lons and known._lats == lats:
        return known
    built = _CORRIDORS[key] = RouteCorridor(route)
    return built


def compiled_place(place: Place) -> "CompiledPlace":
    """The compiled form of ``place``, shared by every trip that names the same place (same JSON)."""
    key = place.model_dump_json(exclude_none=True)
    known = _PLACES.get(key)
    if known is None:
        known = _PLACES[key] = CompiledPlace(place)
    return known


def _centre(lons: "np.ndarray[Any, Any]", lats: "np.ndarray[Any, Any]") -> tuple[float, float]:
    """Mean of unit vectors: right across the antimeridian, where a plain mean of longitudes is not."""
    phi, lam = np.radians(lats), np.radians(lons)
    x, y, z = (np.cos(phi) * np.cos(lam)).sum(), (np.cos(phi) * np.sin(lam)).sum(), np.sin(phi).sum()
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))
