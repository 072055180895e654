"""The dashboard map shows the worst news: a critical truck is on top of a green one at the same spot,
whatever their ids, and stays on top when a live update recolours the trucks."""

from pathlib import Path

import pytest

from sealguard.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, launch
from tests.live.monitor import running, settings

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

ORIGIN = {"facility_id": "DC-1", "center": [-98.49, 29.42], "radius_m": 500}
POINTS = ("front_wall", "left_side", "right_side", "floor", "ceiling_roof", "inside_outside_doors",
          "outside_undercarriage")  # fmt: skip
DEST = {"facility_id": "DC-2", "center": [-95.37, 29.76], "radius_m": 500}


def _trip(cid: str) -> list[dict[str, object]]:
    at = "2026-11-30T06:00:00Z"
    return [
        {"event_id": f"p-{cid}", "kind": "trip.planned", "occurred_at": at, "tenant": "acme", "conveyance_id": cid,
         "trip_id": f"T-{cid}", "seal_numbers": [f"S-{cid}"], "origin": ORIGIN, "destination": DEST},
        {"event_id": f"i-{cid}", "kind": "inspection.completed", "occurred_at": "2026-11-30T06:00:30Z",
         "tenant": "acme", "conveyance_id": cid, "inspection_type": "container_7pt",
         "points": dict.fromkeys(POINTS, "pass")},
        {"event_id": f"a-{cid}", "kind": "seal.affixed", "occurred_at": "2026-11-30T06:01:00Z", "tenant": "acme",
         "conveyance_id": cid, "seal_number": f"S-{cid}", "seal_class": "H", "seal_type": "bolt"},
        {"event_id": f"f-{cid}", "kind": "gps.position", "occurred_at": "2026-11-30T07:00:00Z", "tenant": "acme",
         "conveyance_id": cid, "lat": 29.6, "lon": -97.5, "speed_kph": 80.0},
    ]  # fmt: skip


async def test_the_critical_truck_is_on_top(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "olga")
        # TRL-A sorts first, so in id order the green TRL-B would be painted over it
        assert (await post(base, operator, "/api/v1/events", _trip("TRL-A") + _trip("TRL-B"))).status_code == 200
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                await page.goto(f"{base}/#token={operator}")
                a = page.locator("circle.truck[data-conveyance='TRL-A']")
                await expect(a).to_have_count(1)
                tamper = {"event_id": "t-A", "kind": "seal.alarm", "occurred_at": "2026-11-30T07:01:00Z",
                          "tenant": "acme", "conveyance_id": "TRL-A", "seal_number": "S-TRL-A", "alarm": "tamper",
                          "lat": 29.6, "lon": -97.5}  # fmt: skip
                assert (await post(base, operator, "/api/v1/events", tamper)).status_code == 200
                await expect(a).to_have_attribute("fill", "var(--crit)")  # the live update recoloured it

                async def on_top() -> str | None:
                    box = await a.bounding_box()
                    assert box is not None
                    return await page.evaluate(  # type: ignore[no-any-return]
                        "([x, y]) => document.elementFromPoint(x, y)?.getAttribute('data-conveyance')",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
                    )

                b = page.locator("circle.truck[data-conveyance='TRL-B']")
                await expect(b).to_have_attribute("fill", "var(--ok)")  # no alert: green, in transit
                assert await on_top() == "TRL-A"
                await page.reload()  # drawn afresh, the order holds
                await expect(a).to_have_attribute("fill", "var(--crit)")
                assert await on_top() == "TRL-A"
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SHOTS / "dashboard-critical-on-top.png"))
            finally:
                await browser.close()
