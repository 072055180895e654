"""``make bench`` (pages part): the operations pages at fleet scale, in headless Chromium on this machine.

Runs ``sealguard up`` on its embedded servers, posts a fleet of N trucks (a trip and a fix each, spread
over Texas) and a tamper on M of them (M open critical alerts), then opens the dashboard, the alarm
console and the fleet list signed in as a person, and prints for each: first paint (navigation to the
page showing its data: alerts listed and every truck on the map), a zoom of the map (until it has drawn),
and the DOM's size. The goals, printed beside them: first paint and a zoom under 1 s, the DOM bounded
(it must not grow with the number of alerts). Printed, never asserted.
"""

import argparse
import asyncio
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from bench.readiness import running_up
from sealguard.people.passwords import hash_password
from sealguard.store import people

PASSWORD = "bench password, long enough"
GOAL_S = 1.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def fleet(trucks: int, alerts: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = datetime.now(UTC)
    origin = {"facility_id": "DC-SAT", "center": [-98.49, 29.42], "radius_m": 800}
    dest = {"facility_id": "DC-HOU", "center": [-95.37, 29.76], "radius_m": 800}
    events: list[dict[str, Any]] = []
    tampers: list[dict[str, Any]] = []
    for n in range(trucks):
        cid = f"TRL-{n:05d}"
        lat, lon = 27.0 + (n % 50) * 0.12, -101.0 + (n // 50) * 0.15
        events += [
            {"event_id": f"p-{cid}", "kind": "trip.planned", "occurred_at": _iso(now - timedelta(minutes=30)),
             "tenant": "default", "conveyance_id": cid, "trip_id": f"T-{cid}", "seal_numbers": [f"S{n:05d}"],
             "origin": origin, "destination": dest},
            {"event_id": f"a-{cid}", "kind": "seal.affixed", "occurred_at": _iso(now - timedelta(minutes=29)),
             "tenant": "default", "conveyance_id": cid, "seal_number": f"S{n:05d}", "seal_class": "H",
             "seal_type": "bolt"},
            {"event_id": f"f-{cid}", "kind": "gps.position", "occurred_at": _iso(now - timedelta(minutes=5)),
             "tenant": "default", "conveyance_id": cid, "lat": lat, "lon": lon, "speed_kph": 70.0},
        ]  # fmt: skip
        if n < alerts:
            tampers.append({"event_id": f"t-{cid}", "kind": "seal.alarm", "tenant": "default",
                            "occurred_at": _iso(now - timedelta(minutes=4)), "conveyance_id": cid,
                            "seal_number": f"S{n:05d}", "alarm": "tamper", "lat": lat, "lon": lon})  # fmt: skip
    return events, tampers


async def _post_all(base: str, token: str, events: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(timeout=300) as c:
        for i in range(0, len(events), 1000):
            r = await c.post(f"{base}/api/v1/events", json=events[i : i + 1000],
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            r.raise_for_status()


async def _count(url: str, sql: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql.encode())
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def measure(base: str, trucks: int) -> list[str]:
    from playwright.async_api import async_playwright

    out = []
    async with async_playwright() as pw:
        args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            for width, height in ((1440, 900), (390, 844)):
                page = await browser.new_page(viewport={"width": width, "height": height})
                r = await page.request.post(f"{base}/auth/login", data={"username": "bench", "password": PASSWORD})
                assert r.ok, await r.text()
                await page.goto(f"{base}/")
                await page.wait_for_function(
                    f"() => window.sealguardTrucks && sealguardTrucks.getLayers().length >= {trucks}"
                    " && document.querySelectorAll('#alerts .alert-row').length > 0", timeout=120_000)  # fmt: skip
                paint = await page.evaluate("performance.now() / 1000")
                slow = await page.evaluate(
                    "performance.getEntriesByType('resource').filter(e => e.duration > 100)"
                    ".map(e => [e.name.replace(location.origin, ''), Math.round(e.responseEnd),"
                    " Math.round(e.duration)])"
                )  # what the first paint waited for: the requests over 100 ms, when each ended
                print("  slowest requests (ended at ms, took ms):", slow, flush=True)
                zooms = []
                for _ in range(3):
                    zooms.append(await page.evaluate(
                        "new Promise(done => { const t0 = performance.now();"
                        " sealguardMap.once('zoomend', () => requestAnimationFrame(() => requestAnimationFrame("
                        "  () => done((performance.now() - t0) / 1000))));"
                        " sealguardMap.zoomIn(1, { animate: false }); })"))  # fmt: skip
                nodes = await page.evaluate("document.getElementsByTagName('*').length")
                height_px = await page.evaluate("document.documentElement.scrollHeight")
                verdict = "met" if max(paint, *zooms) < GOAL_S else "MISSED"
                out.append(f"pages dashboard {width:4} px: first paint {paint:5.2f} s, zoom {max(zooms):5.2f} s"
                           f" (worst of 3), {nodes:,} DOM nodes, {height_px:,} px high (goal: under {GOAL_S:.0f} s"
                           f" each: {verdict})")  # fmt: skip
                for path, ready in (("/console", "#rows tr"), ("/fleet", "#rows tr")):
                    await page.goto(f"{base}{path}")
                    await page.wait_for_selector(ready, timeout=120_000)
                    t = await page.evaluate("performance.now() / 1000")
                    nodes = await page.evaluate("document.getElementsByTagName('*').length")
                    out.append(f"pages {path[1:]:9} {width:4} px: first paint {t:5.2f} s, {nodes:,} DOM nodes"
                               f" (goal: under {GOAL_S:.0f} s: {'met' if t < GOAL_S else 'MISSED'})")  # fmt: skip
                await page.close()
        finally:
            await browser.close()
    return out


async def run(trucks: int, alerts: int) -> None:
    async with running_up("pages", SEALGUARD_HTTP_RATE_PER_S="0") as up:
        async with await psycopg.AsyncConnection.connect(up.url, autocommit=True) as conn:
            await people.add(
                conn, "bench", "Bench Operator", "default", "operator", password_hash=hash_password(PASSWORD)
            )
        events, tampers = fleet(trucks, alerts)
        started = time.perf_counter()
        await _post_all(up.base, up.token, events)
        await _post_all(up.base, up.token, tampers)
        while await _count(up.url, "SELECT count(*) FROM alerts WHERE rule_id = 'SEAL-003'") < alerts:
            await asyncio.sleep(0.5)
        print(f"pages: {trucks:,} trucks and {alerts:,} open critical alerts stored in"
              f" {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        for line in await measure(up.base, trucks):
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trucks", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=2000)
    a = parser.parse_args()
    asyncio.run(run(a.trucks, a.alerts))


if __name__ == "__main__":
    main()
