"""Places, route corridors and distances on the WGS 84 ellipsoid.

Distances between points are geodesics (pyproj ``Geod``). Polygons are shapely geometries in
``[lon, lat]`` (at facility scale the difference between straight edges in degrees and on the ground is
centimetres). A route corridor is measured in an azimuthal equidistant projection centred on the
route, where the planar distance is within 0.4 % of the ground distance up to 1,000 km from
the centre (better than 0.1 % within 500 km), comfortably inside the 1 % the corridor check needs.

Per-fix cost matters (every GPS fix is checked), so :class:`RouteCorridor` first tries the few route
segments near the last match (a trip's first fix: the nearest vertex), in a local tangent plane at the
fix (metres per degree from the WGS 84 radii of curvature there; within 0.1 % over a few kilometres).
Looking at fewer segments can only *over*-estimate the distance, and the answer is trusted only when it is
inside the limit with a 1 % margin; everything else is decided on the whole projected line (numpy, every
segment at once), projected on the first such check, so a trip that stays inside never pays for it.

Memory matters as much (a worker holds every open trip of its partitions): a corridor keeps two flat
arrays of degrees (doubles, for the walk) and, once projected, two of metres (floats, for the exact
check), about 5 KB for a 200-point route and nothing per point beyond that, and identical routes (a
carrier's lanes) share one corridor (:func:`corridor_for`), as trips to the same facility share its
compiled place (:func:`compiled_place`).
"""

import hashlib
import math
import struct
import weakref
from array import array
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import shapely
from pyproj import Geod, Transformer

from sealguard.schemas.places import CirclePlace, Place

_GEOD = Geod(ellps="WGS84")
_M_PER_DEG_LAT = 110_574.0  # lower bound over the ellipsoid, so boxes below are never too small


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two ``lon, lat`` points."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def distance_bound_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """A cheap upper bound of ``distance_m`` (``inf`` where it is not sure): the flat-earth distance with
    the WGS 84 scales at the mid latitude, plus 1 %. Within 50 km and away from the poles that
    approximation is within 0.1 % of the geodesic, so a rule that only needs to know a step is short (or
    slow) asks this first and pays for the geodesic only when the bound does not settle it."""
    if abs(lat1) > 80.0 or abs(lat2) > 80.0:
        return math.inf
    mid = (lat1 + lat2) * 0.5
    kx, ky = _SCALES.get(round(mid * 100.0)) or metres_per_degree(mid)
    east, north = (lon2 - lon1) * kx, (lat2 - lat1) * ky
    flat = math.sqrt(east * east + north * north)
    return flat * 1.01 + 1.0 if flat < 50_000.0 else math.inf


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
    """Registered facilities of one tenant, searchable by point: a grid of degree cells over their boxes.

    Registrations arrive among the events (a tenant adds a facility mid-stream), so adding one must
    not rebuild anything: a place goes into the cells its box covers (0.05 degree, ~5 km), and a place
    too large for that (over ``_MAX_CELLS`` cells) into a short list every query checks. A query looks
    in the point's cell and tests each candidate exactly (``CompiledPlace.contains``), so the index only
    decides what is tested, never what contains the point."""

    _CELL = 0.05
    _MAX_CELLS = 64

    def __init__(self) -> None:
        self._places: dict[str, CompiledPlace] = {}
        self._cells: dict[tuple[int, int], list[str]] = {}
        self._large: list[str] = []

    def __len__(self) -> int:
        return len(self._places)

    def add(self, place: Place) -> None:
        if place.facility_id in self._places:
            self._remove(place.facility_id)
        compiled = self._places[place.facility_id] = CompiledPlace(place)
        cells = self._cells_of(compiled.box)
        if cells is None:
            self._large.append(place.facility_id)
            return
        for cell in cells:
            self._cells.setdefault(cell, []).append(place.facility_id)

    def _remove(self, facility_id: str) -> None:
        cells = self._cells_of(self._places.pop(facility_id).box)
        if cells is None:
            self._large.remove(facility_id)
            return
        for cell in cells:
            ids = self._cells[cell]
            ids.remove(facility_id)
            if not ids:
                del self._cells[cell]

    def _cells_of(self, box: tuple[float, float, float, float]) -> list[tuple[int, int]] | None:
        """The cells a box covers (its edges included: floor is monotonic, so a point inside the box
        falls in one of them), or ``None`` when there are too many (or the box is not finite, as an empty
        shape's is): the place is then in ``_large``."""
        if not all(math.isfinite(v) for v in box):
            return None
        x0, y0 = math.floor(box[0] / self._CELL), math.floor(box[1] / self._CELL)
        x1, y1 = math.floor(box[2] / self._CELL), math.floor(box[3] / self._CELL)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > self._MAX_CELLS:
            return None
        return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]

    def containing(self, lon: float, lat: float) -> list[str]:
        """Facility ids whose place contains the point, sorted for determinism."""
        if not self._places:
            return []
        cell = (math.floor(lon / self._CELL), math.floor(lat / self._CELL))
        candidates = self._cells.get(cell, ())
        places = self._places
        found = [f for f in candidates if places[f].contains(lon, lat)]
        found += (f for f in self._large if places[f].contains(lon, lat))
        return sorted(found)


class CorridorCheck(NamedTuple):
    """A tuple, not a frozen dataclass: one is made for every fix, and a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__``."""

    distance_m: float
    segment: int


_tuple_new = tuple.__new__

_A = 6_378_137.0  # WGS 84
_E2 = 6.694_379_990_14e-3


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude and latitude at ``lat`` on the ellipsoid."""
    cell = round(lat * 100.0)
    scale = _SCALES.get(cell)
    if scale is None:
        scale = _SCALES[cell] = _metres_per_degree(cell / 100.0)
    return scale


#: Scales per 0.01 degree of latitude (at most 18,001 of them), keyed by hundredths of a degree: a
#: dictionary read, where a cached function cost a call more on every fix (``RouteCorridor._walk`` and
#: ``distance_bound_m`` read it directly). ``round(lat * 100)``, not ``round(lat, 2)``: rounding to
#: digits goes through decimal conversion, 180 ns against 60, twice a fix.
_SCALES: dict[int, tuple[float, float]] = {}


def _metres_per_degree(lat: float) -> tuple[float, float]:
    # Per 0.01 degree: the scale changes by under 1e-4 across that, far inside the margin.
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


#: A route's projection and its points in it (metres, as float32).
_Metres = tuple[Transformer, "np.ndarray[Any, np.dtype[np.float32]]", "np.ndarray[Any, np.dtype[np.float32]]"]


class RouteCorridor:
    """A planned route, measured in metres in a projection centred on it."""

    __slots__ = ("__weakref__", "_lats", "_lons", "_metres")

    _WALK = 8  # segments walked from the hint before giving up on the fast path

    def __init__(self, route: Sequence[tuple[float, float]], flat: "array[float] | None" = None) -> None:
        """``flat``: the route as lon, lat, lon, lat, ... when the caller has it already."""
        flat = flat if flat is not None else _flat(route)
        self._lons, self._lats = flat[0::2], flat[1::2]
        # The route in metres is made on the first check the walk cannot settle (``_in_metres``): the
        # projection costs ~0.6 us a point (PROJ's ellipsoidal aeqd), 130 us for a 200-point route,
        # and most trips stay inside their corridor, where the walk alone answers.
        self._metres: _Metres | None = None

    def _in_metres(self) -> "_Metres":
        """The projection and the route in it, made once (the same numbers whenever they are made)."""
        if self._metres is None:
            lons, lats = np.frombuffer(self._lons), np.frombuffer(self._lats)
            lon0, lat0 = _centre(lons, lats)
            # Centred within half a degree of the route's own centre: a few tens of km, which changes the
            # projection's distortion by far less than the 1 % budget, and lets routes share transformers.
            to_plane = _plane(round(lon0), round(lat0))
            # Metres as float32: 0.25 m steps 3,000 km from the centre, far inside the 1 % budget, at half
            # the memory (projecting the route again per check would cost ~0.3 ms).
            xs, ys = to_plane.transform(lons, lats)
            self._metres = (to_plane, np.asarray(xs, dtype=np.float32), np.asarray(ys, dtype=np.float32))
        return self._metres

    def points(self) -> list[list[float]]:
        """The route as ``[lon, lat]`` pairs, exactly as planned (the doubles are kept bit for bit)."""
        return [[lon, lat] for lon, lat in zip(self._lons, self._lats, strict=True)]

    def check(self, lon: float, lat: float, limit_m: float, hint: int = -1) -> CorridorCheck:
        """Distance from the route (exact when above ``limit_m``) and the nearest segment index."""
        # No hint (a trip's first check): start the walk at the route's nearest vertex in a tangent plane at
        # the fix. Only a sure "inside" is taken from the walk, so a poor start costs time, never an answer.
        fast = self._walk(lon, lat, limit_m * 0.99, hint if hint >= 0 else self._nearest_vertex(lon, lat))
        if fast is not None:
            return fast
        to_plane, xs32, ys32 = self._in_metres()
        px, py = to_plane.transform(lon, lat)
        xs, ys = xs32.astype(float), ys32.astype(float)
        ax, ay = xs[:-1] - px, ys[:-1] - py
        dx, dy = np.diff(xs), np.diff(ys)
        length2 = dx * dx + dy * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(length2 > 0.0, -(ax * dx + ay * dy) / length2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        distances = np.hypot(ax + t * dx, ay + t * dy)
        segment = int(np.argmin(distances))
        return CorridorCheck(float(distances[segment]), segment)

    def _nearest_vertex(self, lon: float, lat: float) -> int:
        kx, ky = metres_per_degree(lat)
        east = (np.frombuffer(self._lons) - lon) * kx
        north = (np.frombuffer(self._lats) - lat) * ky
        return int(np.argmin(east * east + north * north))

    def _walk(self, lon: float, lat: float, inside_m: float, hint: int) -> CorridorCheck | None:
        """Walk from the hint towards the fix in a tangent plane at it; only a sure "inside" is returned."""
        kx, ky = _SCALES.get(round(lat * 100.0)) or metres_per_degree(lat)
        lons, lats = self._lons, self._lats
        last = len(lons) - 2
        i = min(hint, last)
        step = 0
        # The segment's ends relative to the fix, in metres; a step along the route reuses the shared end.
        ax, ay = (lons[i] - lon) * kx, (lats[i] - lat) * ky
        bx, by = (lons[i + 1] - lon) * kx, (lats[i + 1] - lat) * ky
        for _ in range(self._WALK):
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0.0 else -(ax * dx + ay * dy) / length2
            if t >= 1.0 and i < last and step >= 0:
                i, step = i + 1, 1  # the fix is past this segment: follow the route forward
                ax, ay = bx, by
                bx, by = (lons[i + 1] - lon) * kx, (lats[i + 1] - lat) * ky
                continue
            if t <= 0.0 and i > 0 and step <= 0:
                i, step = i - 1, -1
                bx, by = ax, ay
                ax, ay = (lons[i] - lon) * kx, (lats[i] - lat) * ky
                continue
            if t > 1.0:
                t = 1.0
            elif t < 0.0:
                t = 0.0
            distance = math.hypot(ax + t * dx, ay + t * dy)
            # tuple.__new__ directly: a named tuple's own __new__ is a Python function, a frame per fix.
            return _tuple_new(CorridorCheck, (distance, i)) if distance <= inside_m else None
        return None


_CORRIDORS: "weakref.WeakValueDictionary[bytes, RouteCorridor]" = weakref.WeakValueDictionary()
_PLACES: "weakref.WeakValueDictionary[str, CompiledPlace]" = weakref.WeakValueDictionary()


def corridor_for(route: Sequence[tuple[float, float]]) -> RouteCorridor:
    """The corridor of ``route``, shared with every open trip planned on the same points.

    Sharing is safe because a corridor is immutable; it is found by a digest of the points and
    confirmed point by point, so a digest collision costs a second corridor, never a wrong one. A
    corridor no open trip holds any more is freed (weak values)."""
    flat = _flat(route)
    key = hashlib.blake2b(flat, digest_size=16).digest()
    known = _CORRIDORS.get(key)
    # Compared as bytes: comparing two arrays makes a float object of every item (9 us a route).
    if (
        known is not None
        and known._lons.tobytes() == flat[0::2].tobytes()
        and known._lats.tobytes() == flat[1::2].tobytes()
    ):
        return known
    built = _CORRIDORS[key] = RouteCorridor(route, flat)
    return built


def _flat(route: Sequence[tuple[float, float]]) -> "array[float]":
    """The route as one array of lon, lat, lon, lat, ...: packed by ``struct`` in one call, 11 us for 200
    points against 21 for an array filled from an iterator."""
    flat = array("d")
    flat.frombytes(struct.pack(f"{2 * len(route)}d", *chain.from_iterable(route)))
    return flat


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
