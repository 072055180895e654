"""The dashboard with more alerts than a page: the panel is bounded and paged, the newest unhandled
critical is first, acknowledged ones are folded apart, the counts are the server's totals, the tab title
says how many need action, and every truck takes its colour from its own alerts, including trucks whose
alerts are on no page the dashboard loaded (issue 22: 1,060 trucks were painted green)."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post
from tests.live.browser import SHOTS, at_size, launch, sealed_trip, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

TRUCKS = 60
CRITICAL = 45  # more than two pages of 20


def _fleet(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    trips, alarms = [], []
    for n in range(TRUCKS):
        cid = f"TRL-{n:03d}"
        lat, lon = 29.0 + (n % 10) * 0.05, -98.0 + (n // 10) * 0.05
        trips += sealed_trip(cid, now - timedelta(minutes=5), 60.0, lat, lon)
        if n < CRITICAL:  # the tamper of truck n, n minutes before the newest: TRL-000 is the newest
            alarms.append({"event_id": f"alarm-{cid}", "kind": "seal.alarm", "tenant": "acme",
                           "occurred_at": (now - timedelta(minutes=4, seconds=n)).isoformat().replace("+00:00", "Z"),
                           "conveyance_id": cid, "seal_number": f"S-{cid}", "alarm": "tamper",
                           "lat": lat, "lon": lon})  # fmt: skip
    return trips, alarms


async def test_a_panel_of_forty_five_criticals_stays_bounded_and_every_truck_is_red(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    now = datetime.now(UTC)
    trips, alarms = _fleet(now)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        assert (await post(base, monitor.token, "/api/v1/events", trips)).status_code == 200
        assert (await post(base, monitor.token, "/api/v1/events", alarms)).status_code == 200

        async def raised() -> bool:
            rows = await query(database_url, "SELECT count(*) FROM alerts WHERE rule_id = 'SEAL-003'")
            return int(rows[0][0]) == CRITICAL

        await wait_for(raised, what="a SEAL-003 for every tampered truck")
        # two acknowledged before the page opens
        await query(database_url, "UPDATE alerts SET status = 'acknowledged', acknowledged_by = 'Ana Ops (ana)',"
                                  " acknowledged_at = now() WHERE conveyance_id IN ('TRL-001', 'TRL-002')"
                                  " AND rule_id = 'SEAL-003' RETURNING 1")  # fmt: skip
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/")
                rows = page.locator("#alerts > .alert-row")
                await expect(rows).to_have_count(20)
                unhandled = int((await query(database_url, "SELECT count(*) FROM alerts WHERE status = 'open'"))[0][0])
                await expect(page.locator("#alert-count")).to_contain_text(
                    f"({unhandled} need action · 2 acknowledged)"
                )
                await expect(page).to_have_title(f"({unhandled}) sealguard · operations")
                # the newest unhandled critical first (TRL-000), an acknowledged one never among them
                first = rows.first
                await expect(first.locator(".sev")).to_have_text("critical")
                await expect(first.locator("b")).to_have_text("TRL-000")
                assert "TRL-001" not in await page.locator("#alerts > .alert-row b").all_inner_texts()
                await expect(page.locator("details.acked > summary")).to_have_text("Acknowledged (2)")
                # every tampered truck is red, the ones on pages never loaded too; the others are not
                await page.wait_for_function(
                    f"window.sealguardTrucks && sealguardTrucks.getLayers().length === {TRUCKS}"
                )
                states = await page.evaluate("sealguardTrucks.getLayers().map(l => [l.options.title, l.options.sg])")
                by_truck = dict(states)
                assert len(by_truck) == TRUCKS
                assert {by_truck[f"TRL-{n:03d}"] for n in range(CRITICAL)} == {"critical"}
                assert "critical" not in {by_truck[f"TRL-{n:03d}"] for n in range(CRITICAL, TRUCKS)}
                # the page stays one screen on a desktop (the panel scrolls in itself), the map in view
                height = await page.evaluate("document.documentElement.scrollHeight")
                assert height <= 1000, height
                box = await page.locator("#mapview").bounding_box()
                assert box is not None and box["y"] + box["height"] <= 900
                await page.locator("[data-pager=open] button", has_text="older").click()
                await expect(page.locator("[data-pager=open] .muted")).to_have_text(f"21–40 of {unhandled}")
                # find a truck by name in the list beside the map: its popup says its state, and it can be followed
                await page.fill("#truck-search", "trl-003")
                await page.locator("#truck-list button[data-conveyance='TRL-003']").click()
                popup = page.locator(".truck-popup[data-conveyance='TRL-003']")
                await expect(popup).to_contain_text("1 alert(s) · critical")
                await expect(popup).to_contain_text("60 km/h")
                await popup.locator("input.follow").check()
                moved = {"event_id": "f-move-003", "kind": "gps.position", "tenant": "acme", "conveyance_id": "TRL-003",
                         "occurred_at": (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
                         "lat": 30.4, "lon": -96.2, "speed_kph": 70.0}  # fmt: skip
                assert (await post(base, monitor.token, "/api/v1/events", moved)).status_code == 200
                await page.wait_for_function(
                    "() => { const c = sealguardMap.getCenter(); return Math.abs(c.lat - 30.4) < 0.05"
                    " && Math.abs(c.lng + 96.2) < 0.05; }"
                )  # followed: the map came with it
                await at_size(page, "dashboard-many-alerts", 1440, 900)
                await at_size(page, "dashboard-many-alerts", 390, 844)
                # zoomed out until the fleet is clusters: each red cluster names its worst truck, and how
                # many more are as bad, where the name has room (no name covers another or a cluster);
                # a cluster of green trucks names none
                await page.set_viewport_size({"width": 1440, "height": 900})
                await page.evaluate("() => { sealguardMap.setView([29.2, -97.9], 8, { animate: false }); }")
                marks = page.locator(".cluster-mark")
                await expect(marks.first).to_be_visible()
                for mark in await marks.all():
                    worst = await mark.locator(".cluster").get_attribute("data-worst")
                    names = await mark.locator(".cluster-worst").all_text_contents()
                    if worst != "critical":
                        assert names == [], (worst, names)
                        continue
                    m = re.fullmatch(r"(TRL-\d{3})(?: \+(\d+))?", names[0])
                    assert m is not None and by_truck[m[1]] == "critical", names
                    total = int(await mark.locator(".cluster").inner_text())
                    assert 1 + int(m[2] or 0) <= total
                shown = await page.evaluate(
                    "() => [...document.querySelectorAll('.cluster-worst')]"
                    ".filter(l => getComputedStyle(l).visibility === 'visible')"
                    ".map(l => { const r = l.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
                )
                assert shown, "no cluster names its worst truck"
                for i, a in enumerate(shown):
                    for b in shown[i + 1 :]:
                        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
                await page.screenshot(path=str(SHOTS / "dashboard-clusters-named-1440.png"))
            finally:
                await browser.close()
