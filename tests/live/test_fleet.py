"""The fleet list in a browser: every conveyance with status, alerts, trip, seals, last report and its
age, speed, and how long it has been silent; the silent one in transit flagged and listed first."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, at_size, launch, sealed_trip, sign_in
from tests.live.monitor import running, settings

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


NEAR_BUSY = "53 km SE of San Marcos"  # 29.6, -97.5: the nearest of the bundled places (GeoNames, 50,000+)


async def test_the_fleet_list(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "olga")
        now = datetime.now(UTC)
        # the silent one reported three hours ago; the other a minute ago, at 72 km/h
        events = (sealed_trip("TRL-QUIET", now - timedelta(hours=3), 64.0)
                  # silent for 20 minutes: past TRK-003's 15-minute window, so flagged as the rule sees it
                  + sealed_trip("TRL-GAP", now - timedelta(minutes=20), 80.0)
                  + sealed_trip("TRL-BUSY", now - timedelta(minutes=1), 72.0))  # fmt: skip
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
                await expect(rows).to_have_count(3)
                quiet = page.locator("#rows tr[data-conveyance='TRL-QUIET']")
                await expect(quiet).to_have_class("quiet")
                await expect(quiet.locator("td.silent")).to_have_text("3 h")
                await expect(rows.first).to_have_attribute("data-conveyance", "TRL-QUIET")  # silent first
                busy = page.locator("#rows tr[data-conveyance='TRL-BUSY']")
                await expect(busy.locator("td.speed")).to_have_text("72 km/h")
                await expect(busy).not_to_have_class("quiet")
                await expect(busy).to_contain_text("in transit")
                await expect(busy).to_contain_text("STRLBUSY")  # seals as the engine compares them
                await expect(page.locator("#rows tr[data-conveyance='TRL-GAP']")).to_have_class("quiet")
                await expect(page.locator("#summary")).to_contain_text("2 in transit and silent past their"
                                                                       " tracking-gap window (15 min)")  # fmt: skip
                # where it is, by the bundled place names, and when it should arrive
                await expect(busy.locator("td.near")).to_have_text(NEAR_BUSY)
                await expect(busy.locator("td.eta")).not_to_have_text("—")
                await page.locator("#quiet-only").check()
                await expect(rows).to_have_count(2)
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.locator("#quiet-only").uncheck()
                await page.screenshot(path=str(SHOTS / "fleet-list.png"), full_page=True)
                await at_size(page, "fleet", 1440, 900)
                await at_size(page, "fleet", 390, 844)
                assert not errors, errors
            finally:
                await browser.close()
