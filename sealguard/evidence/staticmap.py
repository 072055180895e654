"""A static map of an incident, drawn from the base map the pages bundle (Natural Earth countries, US
states, GeoNames places: ``web/static/vendor``), with no tile server: the package must read the same in
ten years and offline. Pure: the geometry is computed once and drawn twice, as SVG for the HTML report and
as lines for the PDF.

The projection is equirectangular with the longitude scaled by the cosine of the middle latitude: over
the few hundred kilometres around an incident it keeps shapes and distances true to within a percent."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from typing import Any

import orjson

from sealguard.places import places as bundled_places

Point = tuple[float, float]  # lat, lon
MIN_SPAN_DEG = 0.25  # about 25 km: an incident at one place still shows the towns around it
PLACES = 12


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class MapDrawing:
    """Everything to draw, in pixels of a ``width`` x ``height`` picture (y down)."""

    width: int
    height: int
    borders: list[list[Point]]  # x, y polylines: country and state outlines
    route: list[Point]
    track: list[Point]
    marks: list[tuple[float, float, str]]  # x, y, what (the alert's evidence positions)
    places: list[Label]
    bounds: tuple[float, float, float, float]  # south, west, north, east

    def svg(self) -> str:
        def path(points: Sequence[Point]) -> str:
            return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
               f'width="{self.width}" height="{self.height}" role="img" aria-label="map of the incident">',
               f'<rect width="{self.width}" height="{self.height}" fill="#eef3f7"/>']  # fmt: skip
        out += [f'<path d="{path(b)}" fill="none" stroke="#9aa7b1" stroke-width="1"/>' for b in self.borders]
        if len(self.route) > 1:
            out.append(f'<path d="{path(self.route)}" fill="none" stroke="#5b8def" stroke-width="3" '
                       'stroke-dasharray="6 4" opacity="0.8"/>')  # fmt: skip
        if len(self.track) > 1:
            out.append(f'<path d="{path(self.track)}" fill="none" stroke="#222" stroke-width="2"/>')
        for label in self.places:
            out.append(f'<circle cx="{label.x:.1f}" cy="{label.y:.1f}" r="2.5" fill="#555"/>'
                       f'<text x="{label.x + 4:.1f}" y="{label.y - 4:.1f}" font-size="12" fill="#333" '
                       f'font-family="sans-serif">{escape(label.text)}</text>')  # fmt: skip
        for x, y, what in self.marks:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="#d62728" stroke="#fff" stroke-width="2">'
                       f"<title>{escape(what)}</title></circle>")  # fmt: skip
        s, w, n, e = self.bounds
        out.append(f'<text x="6" y="{self.height - 6}" font-size="10" fill="#555" font-family="sans-serif">'
                   f"{s:.3f},{w:.3f} to {n:.3f},{e:.3f} · Natural Earth, US Census, GeoNames</text>")  # fmt: skip
        out.append("</svg>")
        return "".join(out)


def _vendor(name: str) -> Any:
    return orjson.loads(resources.files("sealguard.web").joinpath("static", "vendor", name).read_bytes())


@cache
def _outlines() -> list[tuple[tuple[float, float, float, float], list[Point]]]:
    """Every arc of the bundled country and state outlines as (lat, lon) lines, with its bounding box."""
    lines = []
    for name in ("countries-50m.json", "states-10m.json"):
        topo = _vendor(name)
        (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
        for arc in topo["arcs"]:
            x = y = 0
            points = []
            for dx, dy in arc:  # quantised and delta-encoded (TopoJSON)
                x += dx
                y += dy
                points.append((y * sy + ty, x * sx + tx))
            lats = [p[0] for p in points]
            lons = [p[1] for p in points]
            lines.append(((min(lats), min(lons), max(lats), max(lons)), points))
    return lines


def bounds_of(points: Iterable[Point]) -> tuple[float, float, float, float] | None:
    pts = list(points)
    if not pts:
        return None
    lats, lons = [p[0] for p in pts], [p[1] for p in pts]
    s, n, w, e = min(lats), max(lats), min(lons), max(lons)
    pad_lat = max((n - s) * 0.15, (MIN_SPAN_DEG - (n - s)) / 2, 0.02)
    pad_lon = max((e - w) * 0.15, (MIN_SPAN_DEG - (e - w)) / 2, 0.02)
    return s - pad_lat, w - pad_lon, n + pad_lat, e + pad_lon


def draw(route: Sequence[Point], track: Sequence[Point], marks: Sequence[tuple[float, float, str]],
         *, width: int = 720, height: int = 420) -> MapDrawing | None:  # fmt: skip
    """The map around the evidence (``marks``) and the track; the route is drawn where it passes.
    None when there is nothing with a place to draw."""
    focus = [(lat, lon) for lat, lon, _ in marks] + list(track)
    box = bounds_of(focus or route)
    if box is None:
        return None
    s, w, n, e = box
    k = math.cos(math.radians((s + n) / 2))
    span_x, span_y = (e - w) * k, n - s
    scale = min(width / span_x, height / span_y)
    # centre the box in the picture; the spare side shows more of the surroundings
    cx, cy = (w + e) / 2, (s + n) / 2
    w, e = cx - width / scale / k / 2, cx + width / scale / k / 2
    s, n = cy - height / scale / 2, cy + height / scale / 2

    def xy(p: Point) -> Point:
        return (p[1] - w) * k * scale, (n - p[0]) * scale

    borders = []
    for (bs, bw, bn, be), line in _outlines():
        if bn < s or bs > n or be < w or bw > e:
            continue
        borders.append([xy(p) for p in line])
    places: list[Label] = []
    for name, lat, lon, _ in bundled_places():  # largest first: the towns a reader knows
        if s <= lat <= n and w <= lon <= e:
            x, y = xy((lat, lon))
            if 4 < x < width - 60 and 14 < y < height - 14:
                places.append(Label(x, y, name))
                if len(places) >= PLACES:
                    break
    return MapDrawing(width, height, borders, [xy(p) for p in route], [xy(p) for p in track],
                      [(*xy((lat, lon)), what) for lat, lon, what in marks], places, (s, w, n, e))  # fmt: skip
