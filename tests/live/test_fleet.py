"""The fleet list in a browser: every conveyance with status, alerts, trip, seals, last report and its
age, speed, and how long it has been silent; the silent one in transit flagged and listed first."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, at_size, launch, sign_in
from tests.live.monitor import running, settings

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

ORIGIN = {"facility_id": "DC-1", "center": [-98.49, 29.42], "radius_m": 500}
DEST = {"facility_id": "DC-2", "center": [-95.37, 29.76], "radius_m": 500}
POINTS = ("front_wall", "left_side", "right_side", "floor", "ceiling_roof", "inside_outside_doors",
          "outside_undercarriage")  # fmt: skip


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _truck(cid: str, last_fix: datetime, speed: float) -> list[dict[str, object]]:
    start = last_fix - timedelta(minutes=20)
    return [
        {"event_id": f"p-{cid}", "kind": "trip.planned", "occurred_at": _iso(start - timedelta(minutes=5)),
         "tenant": "acme", "conveyance_id": cid, "trip_id": f"T-{cid}", "seal_numbers": [f"S-{cid}"],
         "origin": ORIGIN, "destination": DEST},
        {"event_id": f"i-{cid}", "kind": "inspection.completed", "occurred_at": _iso(start - timedelta(minutes=4)),
         "tenant": "acme", "conveyance_id": cid, "inspection_type": "container_7pt",
         "points": dict.fromkeys(POINTS, "pass")},
        {"event_id": f"a-{cid}", "kind": "seal.affixed", "occurred_at": _iso(start - timedelta(minutes=3)),
         "tenant": "acme", "conveyance_id": cid, "seal_number": f"S-{cid}", "seal_class": "H", "seal_type": "bolt"},
        {"event_id": f"f-{cid}", "kind": "gps.position", "occurred_at": _iso(last_fix), "tenant": "acme",
         "conveyance_id": cid, "lat": 29.6, "lon": -97.5, "speed_kph": speed},
    ]  # fmt: skip


async def test_the_fleet_list(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "olga")
        now = datetime.now(UTC)
        # the silent one reported three hours ago; the other a minute ago, at 72 km/h
        events = _truck("TRL-QUIET", now - timedelta(hours=3), 64.0) + _truck(
            "TRL-BUSY", now - timedelta(minutes=1), 72.0
        )
        assert (await post(base, operator, "/api/v1/events", events)).json()["accepted"] == len(events)
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/fleet")
                rows = page.locator("#rows tr")
                await expect(rows).to_have_count(2)
                quiet = page.locator("#rows tr[data-conveyance='TRL-QUIET']")
                await expect(quiet).to_have_class("quiet")
                await expect(quiet.locator("td.silent")).to_have_text("3 h")
                await expect(rows.first).to_have_attribute("data-conveyance", "TRL-QUIET")  # silent first
                busy = page.locator("#rows tr[data-conveyance='TRL-BUSY']")
                await expect(busy.locator("td.speed")).to_have_text("72 km/h")
                await expect(busy).not_to_have_class("quiet")
                await expect(busy).to_contain_text("in transit")
                await expect(busy).to_contain_text("STRLBUSY")  # seals as the engine compares them
                await expect(page.locator("#summary")).to_contain_text("1 in transit and silent")
                await page.locator("#quiet-only").check()
                await expect(rows).to_have_count(1)
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.locator("#quiet-only").uncheck()
                await page.screenshot(path=str(SHOTS / "fleet-list.png"), full_page=True)
                await at_size(page, "fleet", 1440, 900)
                await at_size(page, "fleet", 390, 844)
                assert not errors, errors
            finally:
                await browser.close()
