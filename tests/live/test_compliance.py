"""The compliance figures against answers known beforehand: a generated fleet's stored history, the
figures from the API (and its CSV) compared with what the generator chose, in the tenant's total and per
facility; periods, groupings and tenants kept apart; and the page, in Chromium, drawing its charts."""

import csv
import io
import statistics
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg

from sealguard.embedded.servers import MqttBroker
from sealguard.sim.fleet_year import FleetYear, generate, load, year_start
from tests.live.alerting import token_for
from tests.live.browser import answered_late, at_size, launch, sign_in
from tests.live.monitor import running, settings

START = year_start(2025)


async def _load(database_url: str, *years: FleetYear) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for year in years:
            await load(conn, year)
        await conn.commit()


async def _figures(c: httpx.AsyncClient, token: str, **params: str) -> httpx.Response:
    return await c.get("/api/v1/compliance", params=params, headers={"Authorization": f"Bearer {token}"})


async def test_ten_of_forty_trips_without_a_vvtt_is_seventy_five_percent(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        forty = generate("acme", 40, START, 30, trips_per_trailer=1, no_vvtt_every=4, p_late_inspection=0,
                         p_failed_inspection=0, p_alert=0)  # fmt: skip
        other = generate("globex", 20, START, 30, trips_per_trailer=3, p_no_vvtt=1.0)  # another tenant: unseen
        assert len(forty.trips) == 40
        await _load(database_url, forty, other)
        token = await token_for(database_url, "acme", "operator", "auditor")
        async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=60) as c:
            got = await _figures(c, token, since="2025-01-01T00:00:00Z", until="2025-03-01T00:00:00Z", by="tenant")
            assert got.status_code == 200, got.text
            total = got.json()["total"]
            assert total["trips"] == 40
            assert total["vvtt_at_arrival"] == {"count": 30, "pct": 75.0}
            assert total["inspected_before_sealing"] == {"count": 40, "pct": 100.0}
            # another tenant's figures are not this token's to read
            denied = await _figures(c, token, since="2025-01-01T00:00:00Z", until="2025-03-01T00:00:00Z",
                                    tenant="globex")  # fmt: skip
            assert denied.status_code == 403
            # a period that holds none of the trips has none
            empty = await _figures(c, token, since="2024-01-01T00:00:00Z", until="2024-12-01T00:00:00Z")
            assert empty.json()["total"]["trips"] == 0 and empty.json()["groups"] == []
            for bad in ({"since": "2025-03-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
                        {"since": "2025-01-01T00:00:00", "until": "2025-03-01T00:00:00"},
                        {"since": "2015-01-01T00:00:00Z", "until": "2025-03-01T00:00:00Z"}):  # fmt: skip
                assert (await _figures(c, token, **bad)).status_code == 422, bad
            assert (
                await c.get(
                    "/api/v1/compliance", params={"since": "2025-01-01T00:00:00Z", "until": "2025-03-01T00:00:00Z"}
                )
            ).status_code == 401


async def test_a_generated_fleet_gives_the_figures_it_was_made_with(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    year = generate("acme", 24, START, 60, seed=11, p_late_inspection=0.1, p_failed_inspection=0.1, p_no_vvtt=0.2,
                    p_alert=0.3)  # fmt: skip
    x = year.expected
    async with running(s):
        await _load(database_url, year)
        token = await token_for(database_url, "acme", "operator", "auditor")
        async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=60) as c:
            whole = {"since": "2024-12-01T00:00:00Z", "until": "2025-06-01T00:00:00Z"}
            doc = (await _figures(c, token, **whole, by="facility")).json()
            total = doc["total"]
            trips = sum(x.trips.values())
            assert total["trips"] == trips and trips > 300
            assert total["inspected_before_sealing"]["count"] == sum(x.inspected.values())
            assert total["inspection_passed"]["count"] == sum(x.passed.values())
            assert total["vvtt_at_arrival"]["count"] == sum(x.vvtt.values())
            assert total["seal_discrepancies"]["count"] == sum(x.seal_alerts.values())
            assert total["seal_discrepancies"]["per_100_trips"] == round(100 * sum(x.seal_alerts.values()) / trips, 2)
            assert total["alerts"]["total"] == sum(x.alerts.values())
            ack = total["time_to_acknowledge_s"]
            assert ack["count"] == len(x.ack_seconds)
            assert abs(ack["median"] - statistics.median(x.ack_seconds)) < 0.1
            assert abs(ack["p90"] - float(np.percentile(x.ack_seconds, 90))) < 0.1
            closures = total["two_person_closures"]
            assert (closures["count"], closures["by_two"]) == (x.two_person_resolved, x.two_person_by_two)
            assert 0 < x.two_person_by_two < x.two_person_resolved  # some were closed by one person
            by_facility = {g["group"]: g for g in doc["groups"]}
            assert set(by_facility) == set(x.trips)
            for facility, g in by_facility.items():
                assert g["trips"] == x.trips[facility]
                assert g["inspected_before_sealing"]["count"] == x.inspected[facility]
                assert g["vvtt_at_arrival"]["count"] == x.vvtt[facility]
                assert g["seal_discrepancies"]["count"] == x.seal_alerts[facility]
            # every grouping adds up to the same tenant
            for by in ("carrier", "lane"):
                grouped = (await _figures(c, token, **whole, by=by)).json()
                assert sum(g["trips"] for g in grouped["groups"]) == trips
                assert grouped["total"]["vvtt_at_arrival"] == total["vvtt_at_arrival"]
            # a period is the trips planned in it, no more
            january = (await _figures(c, token, since="2025-01-01T00:00:00Z", until="2025-02-01T00:00:00Z")).json()
            in_january = sum(1 for t in year.trips if START <= t[5] < START + timedelta(days=31))
            assert january["total"]["trips"] == in_january
            # the CSV says what the JSON says, one row per group and the total
            exported = await _figures(c, token, **whole, by="facility", format="csv")
            assert exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            assert [r["group"] for r in rows] == [*sorted(by_facility), "(all)"]
            assert int(rows[-1]["vvtt_at_arrival"]) == sum(x.vvtt.values())
            await _the_page(f"http://{s.http}", database_url)


async def _the_page(base: str, database_url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page()
            await sign_in(page, base, database_url, "acme", "operator", "cora", "Cora Compliance")
            await page.goto(f"{base}/compliance?since=2025-01-01&until=2025-03-01&by=facility")
            await page.locator("#rows tr.total").wait_for()
            assert (await page.locator("#rows tr.total th").inner_text()) == "(all)"
            assert await page.locator("#rows tr").count() == 9  # eight facilities and the total
            drawn = await page.evaluate("['c-checks', 'c-seals', 'c-rules'].map(id => Chart.getChart(id)"
                                        " && Chart.getChart(id).data.datasets[0].data.length)")  # fmt: skip
            assert drawn[0] == 8 and drawn[1] == 8 and drawn[2] >= 1
            assert "format=csv" in (await page.get_attribute("#csv", "href") or "")
            await page.select_option("#by", "carrier")
            await page.click("#period button[type=submit]")
            await page.wait_for_function("location.search.includes('by=carrier')")
            await page.locator("#rows tr th:text('ACME')").wait_for()
            by_carrier = await page.locator("#rows tr th").all_inner_texts()

            # two periods asked in quick succession, the first answered last: the figures shown are the second's
            def by_facility(url: str) -> bool:
                return "/api/v1/compliance?" in url and "by=facility" in url

            async with answered_late(page, by_facility):
                await page.select_option("#by", "facility")
                await page.click("#period button[type=submit]")
                await page.select_option("#by", "carrier")
                async with page.expect_event("requestfinished", lambda r: "by=carrier" in r.url):
                    await page.click("#period button[type=submit]")
            assert await page.locator("#rows tr th").all_inner_texts() == by_carrier
            await at_size(page, "compliance", 1440, 900)
            await at_size(page, "compliance", 390, 844)
            # on a phone the rows stack: each figure says what it is
            named = await page.evaluate("getComputedStyle(document.querySelector('#rows tr td:nth-child(5)'),"
                                        " '::before').content")  # fmt: skip
            assert "VVTT at arrival" in named
        finally:
            await browser.close()
