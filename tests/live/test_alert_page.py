"""The alert page tells the story of a route deviation: the track over the trip's plan (corridor, planned
route, origin and destination), the fix that completed the deviation marked, what the rule means and
what to do, and a slider that plays the track back with the events, at desktop and phone sizes."""

from datetime import datetime
from pathlib import Path

import orjson
import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, tenant_lines
from tests.live.browser import CHROMIUM, at_size, launch, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_the_alert_page_plays_a_deviation_back(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        events = [orjson.loads(x) for x in tenant_lines("route-deviation", "acme")]
        assert (await post(base, monitor.token, "/api/v1/events", events)).json()["accepted"] == len(events)
        found = "SELECT alert_id::text, occurred_at FROM alerts WHERE rule_id = 'TRK-001'"
        await wait_for(lambda: query(database_url, found), what="the TRK-001 alert")
        ((alert_id, occurred),) = await query(database_url, found)
        # the fixes the page shows: from two hours before the alert to (not including) one after, in time order
        window = [e for e in events if e["kind"] == "gps.position"
                  and -7200 <= _at(e["occurred_at"]) - occurred.timestamp() < 3600]  # fmt: skip
        window.sort(key=lambda e: _at(e["occurred_at"]))
        nearest = min(range(len(window)), key=lambda i: abs(_at(window[i]["occurred_at"]) - occurred.timestamp()))

        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                errors: list[str] = []
                for width, height in ((1440, 900), (390, 844)):
                    page = await browser.new_page(viewport={"width": width, "height": height})
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                    await page.goto(f"{base}/alerts/{alert_id}")
                    # the plan behind the track, the evidence marked
                    for shape in ("corridor", "route", "track"):
                        await expect(page.locator(f"#track path.{shape}")).to_have_count(1)
                    await expect(page.locator("#track path.place")).to_have_count(2)
                    await expect(page.locator("#track path.fix.evidence").first).to_be_visible()
                    await expect(page.locator(".facility-name", has_text="origin ORIGIN-DC")).to_have_count(1)
                    # what the rule means and what to do
                    await expect(page.locator("#rule-title")).to_have_text("TRK-001 · route deviation")
                    await expect(page.locator("#todo li").first).to_contain_text("Call the driver")
                    await expect(page.locator("#rule-meta")).to_contain_text("MSC 5.14")
                    # playback: it starts at the alert's moment
                    scrub = page.locator("#scrub")
                    await expect(scrub).to_have_attribute("max", str(len(window) - 1))
                    await expect(scrub).to_have_value(str(nearest))
                    await expect(page.locator("#now")).to_have_attribute("data-at", window[nearest]["occurred_at"])
                    await expect(page.locator("#events li.now")).to_have_count(1)
                    await at_size(page, "alert", width, height)
                    # back to the start: the truck at the first fix, later events not yet happened
                    await scrub.fill("0")
                    await expect(page.locator("#now")).to_have_attribute("data-at", window[0]["occurred_at"])
                    await expect(page.locator("#scrub-time")).to_contain_text(f"(1 of {len(window)})")
                    travelled = await page.evaluate("document.querySelector('#track path.travelled').getAttribute('d')")
                    assert travelled in (None, "", "M0 0")  # one point: nothing travelled yet
                    # play: the slider runs to the end by itself, then stops
                    await page.locator("#play").click()
                    await expect(page.locator("#play")).to_have_text("❚❚ Pause")
                    await expect(scrub).to_have_value(str(len(window) - 1), timeout=60_000)
                    await expect(page.locator("#play")).to_have_text("▶ Play")
                    await expect(page.locator("#now")).to_have_attribute("data-at", window[-1]["occurred_at"])
                    await expect(page.locator("#events.playing li:not(.past)")).to_have_count(0)
                    assert not errors, errors
                    await page.close()
            finally:
                await browser.close()
