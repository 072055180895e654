"""The alert page tells the story of a route deviation: the track over the trip's plan (corridor, planned
route, origin and destination), the fix that completed the deviation marked, what the rule means and
what to do, and a slider that plays the track back with the events, at desktop and phone sizes."""

import re
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
                    # what a person does first is on the first screen, at either size
                    ack = await page.locator("#ack").bounding_box()
                    assert ack is not None and ack["y"] + ack["height"] <= height, (width, ack)
                    await expect(page.locator("#headline")).to_contain_text("TRL-")
                    await expect(page.locator("#on-map")).to_have_attribute("href", "/?conveyance=TRL-1005")
                    # the map opens on the deviation, not the whole route: a few km across, the evidence in it
                    await page.wait_for_function("() => window.sealguardMap && sealguardMap.getZoom() > 0")
                    span_km = await page.evaluate(
                        "(() => { const b = sealguardMap.getBounds();"
                        " return b.getNorthWest().distanceTo(b.getSouthEast()) / 1000; })()"
                    )
                    assert span_km < 40, span_km
                    evidence_in_view = await page.evaluate(
                        "Object.values(sealguardMap._layers).filter(l => l.options && l.options.className"
                        " === 'fix evidence').every(l => sealguardMap.getBounds().contains(l.getLatLng()))"
                    )
                    assert evidence_in_view
                    # the whole trip, on asking: origin and destination in view
                    await page.locator("#fit-trip").click()
                    await page.wait_for_function(
                        "() => { const b = sealguardMap.getBounds();"
                        " return b.getNorthWest().distanceTo(b.getSouthEast()) > 80000; }"
                    )
                    await page.locator("#fit-evidence").click()
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


async def test_an_open_alert_says_when_it_escalates_and_whom_to_assign(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    import yaml
    from playwright.async_api import async_playwright, expect

    from sealguard.embedded.receivers import HttpReceiver
    from tests.live.browser import two_person_alert
    from tests.live.people import add_person

    hook = await HttpReceiver().start()
    config = {
        "receivers": [{"name": "ops-hook", "webhook": {"url": f"{hook.url}/hook"}},
                      {"name": "security-lead", "webhook": {"url": f"{hook.url}/lead"}}],
        "route": {"receiver": "ops-hook", "group_wait": "0s", "group_interval": "0s",
                  "escalation": [{"after": "0s", "receivers": ["ops-hook"]},
                                 {"after": "30m", "receivers": ["security-lead"]}]},
    }  # fmt: skip
    (tmp_path / "alerting.yaml").write_text(yaml.safe_dump(config))
    s = settings(tmp_path, database_url, mqtt_broker, alerting=tmp_path / "alerting.yaml", notify_poll_s=0.1)
    try:
        async with running(s) as monitor:
            base = f"http://{s.http}"
            alert_id = await two_person_alert(base, monitor.token, database_url)
            await add_person(database_url, "acme", "operator", "sam", "Sam Shift")
            await add_person(database_url, "globex", "operator", "gil", "Gil Other")  # another tenant: not offered
            async with async_playwright() as pw:
                browser = await launch(pw)
                try:
                    page = await browser.new_page(viewport={"width": 390, "height": 844})
                    await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                    await page.goto(f"{base}/alerts/{alert_id}")
                    countdown = page.locator("#escalation")
                    await expect(countdown).to_contain_text("pages security-lead (webhook) unless acknowledged")
                    await expect(countdown).to_contain_text(re.compile(r"Escalates in (29|30) min"))
                    box = await countdown.bounding_box()
                    assert box is not None and box["y"] + box["height"] <= 844  # above the fold on a phone
                    offered = await page.locator("#people option").evaluate_all("os => os.map(o => o.value)")
                    assert "Sam Shift (sam)" in offered and "Olga Petrova (olga)" in offered
                    assert not any("Gil" in o for o in offered)
                    await page.fill("#assignee", "Sam Shift (sam)")
                    await page.click("#assign")
                    await expect(page.locator("#facts")).to_contain_text("Sam Shift (sam)")
                    await page.click("#ack")
                    await expect(countdown).to_be_hidden()  # acknowledged: no escalation is due
                    await at_size(page, "alert-escalation", 390, 844)
                finally:
                    await browser.close()
    finally:
        await hook.stop()
