"""The operator's roads for the offline map (sealguard/roads.py): what each zoom's tile holds, that a
road keeps its id across tiles, that lines are simplified but keep their ends, and that a bad file is
refused at start with why, not half-drawn. The file is in Natural Earth's roads schema (``type``,
``name``, ``expressway``); the browser test draws one on the dashboard."""

import math
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI

from sealguard import roads as roads_mod
from sealguard.roads import RoadMap, RoadsFileError, simplify, tile_bounds
from sealguard.web import pages


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    r = math.radians(lat)
    return z, int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


def wiggle(a: tuple[float, float], b: tuple[float, float], points: int) -> list[list[float]]:
    """A line from a to b through ``points`` points, each off the straight line by a few metres."""
    return [[a[0] + (b[0] - a[0]) * i / (points - 1) + (0.0003 if i % 2 and i < points - 1 else 0.0),
             a[1] + (b[1] - a[1]) * i / (points - 1)] for i in range(points)]  # fmt: skip


SAN_ANTONIO, AUSTIN = (-98.49, 29.42), (-97.74, 30.27)


def road(kind: str, name: str, coords: object, geometry: str = "LineString") -> dict[str, object]:
    return {"type": "Feature", "properties": {"type": kind, "name": name, "featurecla": "Road"},
            "geometry": {"type": geometry, "coordinates": coords}}  # fmt: skip


def roads_file(tmp_path: Path, features: list[dict[str, object]]) -> Path:
    path = tmp_path / "roads.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture
def texas(tmp_path: Path) -> RoadMap:
    return RoadMap.load(roads_file(tmp_path, [
        road("Major Highway", "I-35", wiggle(SAN_ANTONIO, AUSTIN, 200)),
        road("Secondary Highway", "US-281", wiggle((-98.49, 29.42), (-98.3, 29.9), 20)),
        road("Road", "FM-78", [[[-98.4, 29.5], [-98.3, 29.55]], [[-98.3, 29.55], [-98.2, 29.6]]], "MultiLineString"),
        road("Ferry Route", "Port Aransas ferry", [[-97.07, 27.84], [-97.05, 27.83]]),
        road("Major Highway", "a polygon", [[[-98, 29], [-97, 29], [-97, 30], [-98, 29]]], "Polygon"),
        road("Major Highway", "off the globe", [[-98, 29], [-98, 95]]),
        road("Road", "malformed", [[-98, "north"], [1]]),
        "not a feature",  # type: ignore[list-item]
    ]))  # fmt: skip


def names(body: bytes) -> list[str]:
    return [row[2] for row in orjson.loads(body)]


def test_each_zoom_shows_what_reads_at_it(texas: RoadMap) -> None:
    assert [r.name for r in texas.roads] == ["I-35", "US-281", "FM-78"]  # no ferry, polygon, bad lines
    assert names(texas.tile(*tile_of(*SAN_ANTONIO, 4))) == []
    assert names(texas.tile(*tile_of(*SAN_ANTONIO, 5))) == ["I-35"]
    assert names(texas.tile(*tile_of(*SAN_ANTONIO, 7))) == ["I-35", "US-281"]
    assert names(texas.tile(*tile_of(-98.35, 29.52, 9))) == ["I-35", "US-281", "FM-78"]
    # a tile the roads do not cross is empty; Houston's, at zoom 9
    assert names(texas.tile(*tile_of(-95.37, 29.76, 9))) == []


def test_a_road_keeps_its_id_across_tiles_and_its_ends(texas: RoadMap) -> None:
    south, north = tile_of(*SAN_ANTONIO, 9), tile_of(*AUSTIN, 9)
    assert south != north
    in_south = {row[0]: row for row in orjson.loads(texas.tile(*south))}
    in_north = {row[0]: row for row in orjson.loads(texas.tile(*north))}
    assert in_south[0][2] == in_north[0][2] == "I-35"  # the same id: the map draws it once
    line = in_south[0][3][0]
    assert line[0] == [-98.49, 29.42] and line[-1] == [-97.74, 30.27]
    # the few-metre wiggle is below a pixel even at zoom 10, so the 200 points become a handful
    assert len(line) < 20
    at10 = orjson.loads(texas.tile(*tile_of(*SAN_ANTONIO, 10)))
    assert len(at10[0][3][0]) < 20


def test_simplify_keeps_what_shows() -> None:
    corner = ((0.0, 0.0), (0.5, 0.001), (1.0, 0.0), (1.0, 1.0))
    assert simplify(corner, 0.01) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert simplify(corner, 0.0001) == list(corner)
    assert simplify(((1.0, 1.0), (1.0, 1.0), (1.0, 1.0)), 0.1) == [(1.0, 1.0), (1.0, 1.0)]
    west, south, east, north = tile_bounds(0, 0, 0)
    assert (west, east) == (-180, 180) and 85 < north < 86 and -86 < south < -85


def test_a_bad_file_is_refused_with_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RoadsFileError, match="cannot read"):
        RoadMap.load(tmp_path / "missing.geojson")
    (tmp_path / "text.geojson").write_text("roads: many")
    with pytest.raises(RoadsFileError, match="not JSON"):
        RoadMap.load(tmp_path / "text.geojson")
    (tmp_path / "list.geojson").write_text("[1, 2]")
    with pytest.raises(RoadsFileError, match="not a GeoJSON FeatureCollection"):
        RoadMap.load(tmp_path / "list.geojson")
    with pytest.raises(RoadsFileError, match="no road lines"):
        RoadMap.load(roads_file(tmp_path, [road("Ferry Route", "only a ferry", [[0, 0], [1, 1]])]))
    monkeypatch.setattr(roads_mod, "MAX_FILE_BYTES", 100)
    with pytest.raises(RoadsFileError, match="more than 100"):
        RoadMap.load(roads_file(tmp_path, [road("Road", "x" * 200, [[0, 0], [1, 1]])]))


async def test_tiles_are_served_only_inside_the_grid(texas: RoadMap) -> None:
    z, x, y = tile_of(*SAN_ANTONIO, 7)
    async with _client(pages.router(roads=texas)) as client:
        got = await client.get(f"/basemap/roads/{z}/{x}/{y}.json")
        assert got.status_code == 200 and names(got.content) == ["I-35", "US-281"]
        assert got.headers["cache-control"] == "max-age=86400"
        assert 'data-roads="1"' in (await client.get("/")).text
        for bad in ("11/0/0", "-1/0/0", "3/8/0", "3/0/-1", "3/x/0"):
            assert (await client.get(f"/basemap/roads/{bad}.json")).status_code in (404, 422), bad
    # with a tile server the roads are its business; with no roads file there are none to serve
    async with _client(pages.router("https://tiles.example/{z}/{x}/{y}.png", roads=texas)) as client:
        assert "data-roads" not in (await client.get("/")).text
    async with _client(pages.router()) as client:
        assert (await client.get(f"/basemap/roads/{z}/{x}/{y}.json")).status_code == 404


def _client(router: APIRouter) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
