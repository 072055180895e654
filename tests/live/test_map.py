"""The dashboard map (Leaflet over the bundled offline base map: borders, states, cities) shows the worst
news: a cluster takes its worst truck's colour, live; a critical truck is drawn on top of a green one at
the same spot whatever their ids; clicking an alert shows its truck, highlighted and centred; the view
holds still while positions update."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, at_size, launch, sealed_trip, sign_in
from tests.live.monitor import running, settings

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

FIX_AT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


async def test_the_map_shows_the_worst_news(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "olga")
        # TRL-A sorts first, so in id order the green TRL-B would be painted over it; TRL-C is far away
        trips = sealed_trip("TRL-A", FIX_AT, 80.0) + sealed_trip("TRL-B", FIX_AT, 80.0)
        trips += sealed_trip("TRL-C", FIX_AT, 80.0, lat=29.75, lon=-95.6)
        assert (await post(base, operator, "/api/v1/events", trips)).status_code == 200
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/")
                # the offline base map: borders and names of places, and the trip's facilities, labelled
                await expect(page.locator("#mapview.offline")).to_have_count(1)
                await expect(page.locator(".place-name span", has_text=re.compile("^Texas$"))).to_have_count(1)
                await expect(page.locator(".place-name span", has_text=re.compile("^Mexico$"))).to_have_count(1)
                await expect(page.locator(".facility-name", has_text="DC-1")).to_have_count(1)
                await expect(page.locator(".town span", has_text=re.compile("^San Antonio$")).first).to_be_visible()
                # no name is drawn under the country fill: every name sits in a pane stacked above the fills
                # (in one pane with the fill's SVG, a name high on the map, at a negative z-index, went under it)
                under = await page.evaluate(
                    "(() => { const fill = +getComputedStyle(document.querySelector('.leaflet-base-pane')).zIndex;"
                    " return [...document.querySelectorAll('.town, .place-name')].filter(m =>"
                    "  +getComputedStyle(m.closest('.leaflet-pane')).zIndex <= fill).map(m => m.textContent); })()"
                )
                assert under == [], under
                # A and B share a spot: one cluster of two, green; C is on its own, labelled
                cluster = page.locator(".cluster")
                await expect(cluster).to_have_text("2")
                await expect(cluster).to_have_attribute("data-worst", "ok")
                await expect(page.locator(".truck-label", has_text="TRL-C")).to_have_count(1)
                view = await page.evaluate("[sealguardMap.getCenter(), sealguardMap.getZoom()]")

                tamper = {"event_id": "t-A", "kind": "seal.alarm", "occurred_at": "2026-11-30T07:01:00Z",
                          "tenant": "acme", "conveyance_id": "TRL-A", "seal_number": "S-TRL-A", "alarm": "tamper",
                          "lat": 29.6, "lon": -97.5}  # fmt: skip
                assert (await post(base, operator, "/api/v1/events", tamper)).status_code == 200
                await expect(cluster).to_have_attribute("data-worst", "critical")  # recoloured live
                # a live position moves C's marker, and the view stays where the operator left it
                moved = {"event_id": "f2-C", "kind": "gps.position", "occurred_at": "2026-11-30T07:02:00Z",
                         "tenant": "acme", "conveyance_id": "TRL-C", "lat": 29.9, "lon": -95.9,
                         "speed_kph": 70.0}  # fmt: skip
                assert (await post(base, operator, "/api/v1/events", moved)).status_code == 200
                await page.wait_for_function(
                    "() => [...sealguardMap._layers ? Object.values(sealguardMap._layers) : []]"
                    ".some(l => l.options && l.options.title === 'TRL-C' && Math.abs(l.getLatLng().lat - 29.9) < 1e-6)"
                )
                assert await page.evaluate("[sealguardMap.getCenter(), sealguardMap.getZoom()]") == view
                await at_size(page, "dashboard", 1440, 900)

                # clicking the alert shows its truck: out of the cluster, highlighted, centred, and on top
                # of the green truck at the very same spot
                await page.locator(".alert-row", has_text="SEAL-003").locator(".msg").click()
                a = page.locator(".truck-icon.selected .truck[data-conveyance='TRL-A']")
                await expect(a).to_have_count(1)
                await expect(page.locator(".truck[data-conveyance='TRL-B']")).to_have_count(1)
                await expect(a).to_have_attribute("data-state", "critical")

                async def on_top() -> str | None:
                    box = await a.bounding_box()
                    assert box is not None
                    return await page.evaluate(  # type: ignore[no-any-return]
                        "([x, y]) => document.elementFromPoint(x, y)?.closest('.truck-mark')"
                        "?.querySelector('.truck')?.dataset.conveyance",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
                    )

                await page.wait_for_function(
                    "() => Math.abs(sealguardMap.getCenter().lat - 29.6) < 0.01"
                    " && Math.abs(sealguardMap.getCenter().lng + 97.5) < 0.01"
                )
                assert await on_top() == "TRL-A"
                await page.screenshot(path=str(SHOTS / "dashboard-1440-selected.png"))
                # a link to one conveyance (the console's 'map' link) opens the map on it, drawn afresh
                await page.goto(f"{base}/?conveyance=TRL-A")
                await expect(a).to_have_count(1)
                await page.wait_for_function("() => sealguardMap.getZoom() >= 15")
                assert await on_top() == "TRL-A"
                phone = await browser.new_page(viewport={"width": 390, "height": 844})
                await sign_in(phone, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await phone.goto(f"{base}/")
                await expect(phone.locator(".cluster[data-worst=critical]").first).to_be_visible()
                await at_size(phone, "dashboard", 390, 844)
                assert not errors, errors
            finally:
                await browser.close()


async def test_the_operators_roads_are_drawn_under_the_names(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """With SEALGUARD_MAP_ROADS naming a roads file (Natural Earth's schema), the dashboard draws the
    motorway where it runs, in the road colour, above the land and under every name; it is gone when
    zoomed out past where roads read."""
    import io

    import orjson
    from PIL import Image
    from playwright.async_api import async_playwright, expect

    line = [[-98.49 + 0.75 * i / 50, 29.42 + 0.85 * i / 50] for i in range(51)]  # San Antonio to Austin
    roads = tmp_path / "roads.geojson"
    roads.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"type": "Major Highway", "name": "I-35"},
         "geometry": {"type": "LineString", "coordinates": line}}]}))  # fmt: skip
    s = settings(tmp_path, database_url, mqtt_broker, map_roads=roads)
    async with running(s):
        base = f"http://{s.http}"
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/")
                await expect(page.locator("#mapview.offline")).to_have_count(1)
                await page.evaluate("() => { sealguardMap.setView([29.85, -98.12], 9, { animate: false }); }")
                await page.wait_for_function("() => window.sealguardRoads && sealguardRoads.zoom === 9"
                                             " && sealguardRoads.drawn === 1")  # fmt: skip
                stack = await page.evaluate(
                    "() => ['base', 'roads', 'basenames'].map(p => +getComputedStyle(sealguardMap.getPane(p)).zIndex)"
                )
                assert stack[0] < stack[1] < stack[2], stack  # above the fills, under the names
                await page.wait_for_timeout(300)  # the canvas is painted on the next frame
                shot = Image.open(io.BytesIO(await page.screenshot())).convert("RGB")

                def orange_near(lat: float, lon: float) -> bool:
                    x, y = int(page_points[(lat, lon)]["x"]), int(page_points[(lat, lon)]["y"])
                    return any(_is_road(shot.getpixel((x + dx, y + dy))) for dx in range(-3, 4) for dy in range(-3, 4))

                page_points: dict[tuple[float, float], dict[str, float]] = {}
                for lat, lon in ((29.6, -98.33), (30.1, -97.9), (29.6, -98.6)):
                    page_points[(lat, lon)] = await page.evaluate(
                        "([lat, lon]) => { const p = sealguardMap.latLngToContainerPoint([lat, lon]);"
                        " const r = sealguardMap.getContainer().getBoundingClientRect();"
                        " return { x: p.x + r.left, y: p.y + r.top }; }", [lat, lon])  # fmt: skip
                # on the line (two places along it): the road's colour; 12 km off it: none
                assert orange_near(29.6, -98.33) and orange_near(30.1, -97.9)
                assert not orange_near(29.6, -98.6)
                await page.screenshot(path=str(SHOTS / "dashboard-roads-1440.png"))
                await page.evaluate("() => { sealguardMap.setView([29.85, -98.12], 4, { animate: false }); }")
                await page.wait_for_function("() => sealguardRoads.zoom === 4 && sealguardRoads.drawn === 0")
                assert not errors, errors
            finally:
                await browser.close()


def _is_road(rgb: object) -> bool:
    """The motorway's orange (#e8912d), give or take antialiasing over the land."""
    assert isinstance(rgb, tuple)
    r, g, b = (int(v) for v in rgb)
    return r > 200 and 120 < g < 190 and b < 120
