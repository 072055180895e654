"""The alarm console in a browser: filters, sort, paging, search by conveyance, the resolved history, bulk
acknowledge (each recorded under the person), and the opt-in notice of a new critical alert."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, several_scenarios, token_for
from tests.live.browser import CHROMIUM, SHOTS, answered_late, at_size, launch, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


async def test_the_alarm_console(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "olga")
        lines = several_scenarios("acme")
        assert (await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])).status_code == 200

        async def count(where: str) -> int:
            rows = await query(database_url, f"SELECT count(*) FROM alerts WHERE tenant = 'acme' AND {where}")
            return int(rows[0][0])

        await wait_for(lambda: count("TRUE"), what="the scenarios' alerts")
        unresolved = await count("status <> 'resolved'")
        critical = await count("status <> 'resolved' AND severity = 'critical'")
        resolved = await count("status = 'resolved'")
        assert unresolved > 6 and critical >= 1, (unresolved, critical)
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                context = await browser.new_context(viewport={"width": 1440, "height": 900})
                await context.grant_permissions(["notifications"], origin=base)
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/console?page_size=5")
                pages = -(-unresolved // 5)
                await expect(page.locator("#page")).to_have_text(f"page 1 of {pages} · {unresolved} alert(s)")
                await expect(page.locator("#rows tr")).to_have_count(5)
                # worst first by default: no row below a lower severity is worse than it
                ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
                sev = [ranks[t.lower()] for t in await page.locator("#rows .sev").all_inner_texts()]
                assert sev == sorted(sev), sev
                await page.screenshot(path=str(SHOTS / "console-page-1.png"), full_page=True)
                await at_size(page, "console", 1440, 900)
                await at_size(page, "console", 390, 844)
                await page.set_viewport_size({"width": 1440, "height": 900})
                # paging
                await page.locator("#next").click()
                await expect(page.locator("#page")).to_contain_text("page 2 of")
                # the tab says how many nobody has acknowledged
                open_now = int((await query(database_url, "SELECT count(*) FROM alerts WHERE status = 'open'"))[0][0])
                await expect(page).to_have_title(f"({open_now}) sealguard · alarm console")
                # filter by severity: it applies at once (no Apply), and the view is in the URL
                await page.locator("select[name=severity]").select_option("critical")
                await expect(page.locator("#page")).to_contain_text(f"· {critical} alert(s)")
                assert {t.lower() for t in await page.locator("#rows .sev").all_inner_texts()} == {"critical"}
                assert "severity=critical" in page.url
                await page.reload()  # a bookmarked or shared view opens as it was
                await expect(page.locator("select[name=severity]")).to_have_value("critical")
                await expect(page.locator("#page")).to_contain_text(f"· {critical} alert(s)")

                # two filters in quick succession, the first answered last: the page shows the second
                def alerts_of(severity: str) -> Callable[[str], bool]:
                    return lambda url: "/api/v1/alerts?" in url and f"severity={severity}" in url

                async with answered_late(page, alerts_of("high")):
                    await page.locator("select[name=severity]").select_option("high")
                    async with page.expect_response(lambda r: alerts_of("critical")(r.url)):
                        await page.locator("select[name=severity]").select_option("critical")
                await expect(page.locator("#page")).to_contain_text(f"· {critical} alert(s)")
                assert {t.lower() for t in await page.locator("#rows .sev").all_inner_texts()} == {"critical"}
                # search by part of a conveyance id, in lower case; sorted oldest first
                await page.locator("select[name=severity]").select_option("")
                await page.locator("input[name=search]").fill("trl-10")
                await page.locator("select[name=sort]").select_option("oldest")
                # wait for the filtered page to replace the previous one before reading it
                await expect(page.locator("#rows td:nth-child(4)", has_text="MSCU")).to_have_count(0)
                await expect(page.locator("#rows tr").first).to_be_visible()
                ids = [t for t in await page.locator("#rows td:nth-child(4)").all_inner_texts()]
                assert ids and all("TRL-10" in i.upper() for i in ids), ids
                times = await page.locator("#rows td.age").evaluate_all("ns => ns.map(n => n.title)")
                assert times == sorted(times), times
                # bulk acknowledge two open alerts: each recorded under olga
                await page.locator("input[name=search]").fill("")
                await page.locator("select[name=status]").select_option("open")
                await page.locator("select[name=sort]").select_option("severity")
                boxes = page.locator("#rows input[type=checkbox]:not([disabled])")
                await expect(boxes.first).to_be_visible()
                # read both ids at once (a live reload may redraw the rows), then tick them by id
                picked = await boxes.evaluate_all("ns => ns.slice(0, 2).map(n => n.dataset.id)")
                for alert_id in picked:
                    await page.locator(f"#rows input[data-id='{alert_id}']").check()
                await expect(page.locator("#ack-selected")).to_have_text("Acknowledge selected (2)")
                posts: list[str] = []
                page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
                await page.locator("#ack-selected").click()
                await expect(page.locator("#result")).to_have_text("acknowledge: 2 of 2 done")
                assert [u.split("/api/v1/")[1] for u in posts] == ["alerts-bulk"]  # one request for the lot
                rows = await query(database_url, "SELECT status, acknowledged_by FROM alerts"
                                                 " WHERE alert_id = ANY(%s::uuid[])", picked)  # fmt: skip
                assert len(set(picked)) == 2, picked
                assert sorted(rows) == [
                    ("acknowledged", "Olga Petrova (olga)"),
                    ("acknowledged", "Olga Petrova (olga)"),
                ]
                # the resolved history
                await page.locator("select[name=status]").select_option("resolved")
                await expect(page.locator("#page")).to_contain_text(f"· {resolved} alert(s)")
                if resolved:
                    assert set(await page.locator("#rows td.status").all_inner_texts()) == {"resolved"}
                # a new critical alert, with the notice asked for
                await page.locator("#notify").check()
                now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                place = {"facility_id": "DC-9", "center": [-95.37, 29.76], "radius_m": 500}
                trip = {
                    "event_id": f"plan-{uuid.uuid4().hex[:6]}",
                    "kind": "trip.planned",
                    "tenant": "acme",
                    "occurred_at": now,
                    "conveyance_id": "TRL-NEW",
                    "trip_id": "T-NEW",
                    "seal_numbers": ["SG9"],
                    "origin": {**place, "facility_id": "DC-8", "center": [-98.4, 29.4]},
                    "destination": place,
                }
                alarm = {"event_id": f"alarm-{uuid.uuid4().hex[:6]}", "kind": "seal.alarm", "tenant": "acme",
                         "occurred_at": now, "conveyance_id": "TRL-NEW", "seal_number": "SG9", "alarm": "cut",
                         "lat": 28.0, "lon": -99.0}  # fmt: skip
                answer = (await post(base, operator, "/api/v1/events", [trip, alarm])).json()
                raised = answer["results"][1].get("findings", [])
                assert any(f["severity"] == "critical" for f in raised), raised
                await expect(page.locator("body")).to_have_attribute("data-last-critical", _uuid_like())
                await page.screenshot(path=str(SHOTS / "console-resolved-history.png"), full_page=True)
                assert not errors, errors
            finally:
                await browser.close()


def _uuid_like() -> "re.Pattern[str]":
    return re.compile(r"^[0-9a-f-]{36}$")


async def test_a_bulk_action_is_one_request_held_to_the_callers_tenant(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """Bulk acknowledge and resolve through ``POST /api/v1/alerts-bulk``: a line per alert as it is done,
    each recorded under the caller; another tenant's alerts are refused one by one, never touched; the
    two-person rule holds for each; a list too long is refused whole."""
    import httpx

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        lines = several_scenarios("acme")
        assert (await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])).status_code == 200
        await wait_for(lambda: query(database_url, "SELECT 1 FROM alerts WHERE status = 'open' LIMIT 1"),
                       what="open alerts")  # fmt: skip
        acme = await token_for(database_url, "acme", "operator", "bulk-desk")
        globex = await token_for(database_url, "globex", "operator", "intruder")
        ids = [str(r[0]) for r in await query(database_url, "SELECT alert_id FROM alerts WHERE status = 'open'"
                                                            " ORDER BY alert_id LIMIT 3")]  # fmt: skip
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:

            async def bulk(token: str, verb: str, alert_ids: list[str]) -> list[dict[str, object]]:
                r = await c.post("/api/v1/alerts-bulk", json={"verb": verb, "alert_ids": alert_ids},
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                assert r.status_code == 200, r.text
                assert r.headers["content-type"].startswith("application/x-ndjson")
                return [orjson.loads(line) for line in r.text.splitlines()]

            refused = await bulk(globex, "acknowledge", ids)
            assert [x["ok"] for x in refused[:-1]] == [False, False, False]
            assert refused[-1] == {"summary": True, "done": 0, "failed": 3, "of": 3}
            assert "acme" not in str(refused)
            untouched = await query(database_url, "SELECT status FROM alerts WHERE alert_id = ANY(%s::uuid[])", ids)
            assert {r[0] for r in untouched} == {"open"}
            done = await bulk(acme, "acknowledge", ids)
            assert [x["ok"] for x in done[:-1]] == [True, True, True] and done[-1]["done"] == 3
            rows = await query(database_url, "SELECT DISTINCT acknowledged_by FROM alerts"
                                             " WHERE alert_id = ANY(%s::uuid[])", ids)  # fmt: skip
            assert rows == [("bulk-desk",)]
            too_many = await c.post("/api/v1/alerts-bulk", json={"verb": "acknowledge",
                                                                 "alert_ids": [str(uuid.uuid4()) for _ in range(501)]},
                                    headers={"Authorization": f"Bearer {acme}"})  # fmt: skip
            assert too_many.status_code == 422
            assert (
                await c.post("/api/v1/alerts-bulk", json={"verb": "acknowledge", "alert_ids": ids})
            ).status_code == 401
