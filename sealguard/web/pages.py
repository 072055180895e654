"""The browser pages: operations dashboard (``/``), alarm console (``/console``), fleet list (``/fleet``), alert page
(``/alerts/{id}``), dock page (``/dock``).

Static HTML and JavaScript served from the package, with no build step and nothing fetched from elsewhere:
the map library (Leaflet with marker clustering) and an offline base map (Natural Earth countries, US
states) are vendored in ``static/vendor`` with their licences. A deployment with internet may name a tile
server (``map_tile_url``); the pages' Content-Security-Policy then admits images from that origin only.
The pages hold no data and no secret: a person signs in (``web/signin.py``) and the session cookie goes
with each API call.
"""

import html
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from sealguard.roads import MAX_TILE_ZOOM, RoadMap

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".md": "text/plain",
          ".txt": "text/plain"}  # fmt: skip


@cache
def _page(name: str) -> str:
    login = (STATIC / "login.html.part").read_text(encoding="utf-8")
    return (STATIC / name).read_text(encoding="utf-8").replace("<!--LOGIN-->", login)


def router(tile_url: str | None = None, attribution: str = "", roads: RoadMap | None = None) -> APIRouter:
    """The pages; ``tile_url`` (``{z}/{x}/{y}`` form) puts a tile layer under the maps; without one,
    ``roads`` (the operator's roads file) are drawn on the offline base map from ``/basemap/roads``."""
    pages = APIRouter(include_in_schema=False)
    images = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "*"))
        images += f" {parts.scheme}://{parts.netloc}"
    headers = {"Content-Security-Policy": f"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src {images}",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # fmt: skip
    body = f'<body data-tiles="{html.escape(tile_url or "")}" data-attribution="{html.escape(attribution)}"'
    body += ' data-roads="1">' if roads is not None and not tile_url else ">"

    def page(name: str) -> HTMLResponse:
        return HTMLResponse(_page(name).replace("<body>", body, 1), headers=headers)

    @pages.get("/")
    async def dashboard() -> HTMLResponse:
        return page("index.html")

    @pages.get("/alerts/{alert_id}")
    async def alert_page(alert_id: str) -> HTMLResponse:
        return page("alert.html")

    @pages.get("/console")
    async def console() -> HTMLResponse:
        return page("console.html")

    @pages.get("/fleet")
    async def fleet() -> HTMLResponse:
        return page("fleet.html")

    @pages.get("/dock")
    async def dock() -> HTMLResponse:
        return page("dock.html")

    @pages.get("/compliance")
    async def compliance() -> HTMLResponse:
        return page("compliance.html")

    @pages.get("/policy")
    async def policy() -> HTMLResponse:
        return page("policy.html")

    def serve(folder: Path, name: str, cache: str) -> FileResponse:
        path = folder / name
        if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": cache, **headers})

    @pages.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        return serve(STATIC, name, "no-cache")

    @pages.get("/static/vendor/{name}")
    async def vendored(name: str) -> FileResponse:
        return serve(STATIC / "vendor", name, "max-age=86400")  # versioned third-party files

    @pages.get("/static/vendor/licences/{name}")
    async def licences(name: str) -> FileResponse:
        return serve(STATIC / "vendor" / "licences", name, "max-age=86400")

    @pages.get("/basemap/roads/{z}/{x}/{y}.json")
    async def road_tile(z: int, x: int, y: int) -> Response:
        """One tile of the operator's roads: public like the rest of the base map (no tenant's data in
        it); zooms and rows outside the grid are 404, so a crawler cannot make the server cut tiles that
        no map asks for."""
        if roads is None or not 0 <= z <= MAX_TILE_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise HTTPException(404, "not found")
        return Response(roads.tile(z, x, y), media_type="application/json",
                        headers={"Cache-Control": "max-age=86400", **headers})  # fmt: skip

    return pages
