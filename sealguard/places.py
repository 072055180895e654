"""The bundled place names (GeoNames' places of 50,000 people or more, ``web/static/vendor/cities.json``,
CC BY 4.0) as an index: the nearest town to a position, for the fleet list ("12 km N of San Antonio"),
and the towns in a box, for the static maps of incident packages. Loaded once; a grid of one-degree
cells, so a lookup reads a few cells, not nine thousand places."""

import math
from functools import cache
from importlib import resources

import orjson

EARTH_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_KM / 180  # along a meridian
Place = tuple[str, float, float, int]  # name, lat, lon, population


@cache
def places() -> list[Place]:
    """Every bundled place, the largest first."""
    data = orjson.loads(resources.files("sealguard.web").joinpath("static", "vendor", "cities.json").read_bytes())
    return [(str(n), float(lat), float(lon), int(pop)) for n, lon, lat, pop in data]


def warm() -> None:
    """Load the index now (at start), so the first fleet list asked for does not pay for it."""
    _grid()


@cache
def _grid() -> dict[tuple[int, int], list[Place]]:
    cells: dict[tuple[int, int], list[Place]] = {}
    for p in places():
        cells.setdefault((math.floor(p[1]), math.floor(p[2])), []).append(p)
    return cells


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> str:
    """The compass point of (lat1, lon1) seen from (lat2, lon2)."""
    y = math.sin(math.radians(lon1 - lon2)) * math.cos(math.radians(lat1))
    x = math.cos(math.radians(lat2)) * math.sin(math.radians(lat1)) - math.sin(math.radians(lat2)) * math.cos(
        math.radians(lat1)
    ) * math.cos(math.radians(lon1 - lon2))
    deg = (math.degrees(math.atan2(y, x)) + 360) % 360
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[round(deg / 45) % 8]


def nearest(lat: float, lon: float, reach_cells: int = 2) -> dict[str, object] | None:
    """The nearest bundled place within about two degrees: its name, how far (km) and in which direction
    the position lies from it; None in the middle of nowhere (or at sea).

    The ring of cells around the position's own widens only while a place beyond it could still be
    nearer than the best found (a fleet list of thousands of trucks asks this thousands of times a
    request; most are settled by the nine nearest cells)."""
    best: tuple[float, Place] | None = None
    cy, cx = math.floor(lat), math.floor(lon)
    shrink = math.cos(math.radians(lat))
    for ring in range(reach_cells + 1):
        for dy in range(-ring, ring + 1):
            for dx in range(-ring, ring + 1):
                if max(abs(dy), abs(dx)) != ring:
                    continue  # an inner ring, already read
                for p in _grid().get((cy + dy, cx + dx), ()):
                    # the flat-earth distance, squared, in degrees of latitude: haversine only for a place
                    # that may beat the best (the flat one is within a few per cent across five cells)
                    flat2 = (p[1] - lat) ** 2 + ((p[2] - lon) * shrink) ** 2
                    if best is not None and flat2 > (best[0] * 1.1 / KM_PER_DEGREE) ** 2:
                        continue
                    d = distance_km(lat, lon, p[1], p[2])
                    if best is None or d < best[0]:
                        best = (d, p)
        # how near a place outside this ring can be: the ring's edge, east-west at the ring's widest cos
        squeeze = math.cos(math.radians(min(89.0, max(abs(cy - ring), abs(cy + ring + 1)))))
        edge_deg = min(
            lat - (cy - ring), cy + ring + 1 - lat, (lon - (cx - ring)) * squeeze, (cx + ring + 1 - lon) * squeeze
        )
        if best is not None and best[0] <= edge_deg * KM_PER_DEGREE:
            break
    if best is None:
        return None
    d, p = best
    return {"name": p[0], "km": round(d, 1), "direction": _bearing(lat, lon, p[1], p[2]) if d >= 1 else ""}
