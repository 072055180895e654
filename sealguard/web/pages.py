"""The browser pages: operations dashboard (``/``), alarm console (``/console``), fleet list (``/fleet``), alert page
(``/alerts/{id}``), dock page (``/dock``).

Static HTML and JavaScript served from the package, no build step and no external fetches (no map
tiles, no CDN): the map is drawn in SVG from the plan geometry. The pages hold no data; they call the API
with the token the user pastes once (kept in the browser's localStorage, or passed as ``#token=``).
"""

from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css"}


@cache
def _page(name: str) -> str:
    login = (STATIC / "login.html.part").read_text(encoding="utf-8")
    return (STATIC / name).read_text(encoding="utf-8").replace("<!--LOGIN-->", login)


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # fmt: skip

    @pages.get("/")
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(_page("index.html"), headers=headers)

    @pages.get("/alerts/{alert_id}")
    async def alert_page(alert_id: str) -> HTMLResponse:
        return HTMLResponse(_page("alert.html"), headers=headers)

    @pages.get("/console")
    async def console() -> HTMLResponse:
        return HTMLResponse(_page("console.html"), headers=headers)

    @pages.get("/fleet")
    async def fleet() -> HTMLResponse:
        return HTMLResponse(_page("fleet.html"), headers=headers)

    @pages.get("/dock")
    async def dock() -> HTMLResponse:
        return HTMLResponse(_page("dock.html"), headers=headers)

    @pages.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        path = STATIC / name
        if "/" in name or path.suffix not in _TYPES or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache", **headers})

    return pages
