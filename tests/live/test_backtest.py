"""A backtest of a policy change, on events a running monitor stored: raising TRK-002's duration from
15 to 30 minutes loses exactly the stops shorter than 30 minutes, and the others fire later; the live
engine's alerts are untouched. From the command line and from the API (the policy page)."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from sealguard.cli import main as cli
from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import at_size, launch, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

T0 = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)
STOPS = {"TRL-S18": 18, "TRL-S22": 22, "TRL-S28": 28, "TRL-S34": 34, "TRL-S41": 41, "TRL-S55": 55}
ORIGIN = {"facility_id": "DC-N", "center": [-99.0, 27.5], "radius_m": 500}
DEST = {"facility_id": "DC-S", "center": [-99.0, 28.5], "radius_m": 500}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _trip(cid: str, stop_minutes: int, start: datetime) -> list[dict[str, Any]]:
    """Sealed at the origin, drives north a fix a minute, stops for ``stop_minutes`` on the road, drives on."""
    trip = f"T-{cid}"
    out: list[dict[str, Any]] = [
        {"event_id": f"{cid}-plan", "kind": "trip.planned", "occurred_at": _iso(start), "conveyance_id": cid,
         "trip_id": trip, "seal_numbers": [f"S{cid}"], "origin": ORIGIN, "destination": DEST,
         "route": [[-99.0, 27.5], [-99.0, 28.5]], "conveyance_type": "trailer"},
        {"event_id": f"{cid}-insp", "kind": "inspection.completed", "occurred_at": _iso(start + timedelta(minutes=5)),
         "conveyance_id": cid, "trip_id": trip, "inspection_type": "tractor_trailer_17pt",
         "points": dict.fromkeys(("bumper_tires_rims", "doors_tool_compartments", "battery_box", "air_breather",
                                  "fuel_tanks", "cab_interior_sleeper", "faring_roof", "fifth_wheel_area",
                                  "exterior_front_sides", "rear_bumper_doors", "front_wall", "left_side",
                                  "right_side", "floor", "ceiling_roof", "inside_outside_doors",
                                  "outside_undercarriage"), "pass")},
        {"event_id": f"{cid}-seal", "kind": "seal.affixed", "occurred_at": _iso(start + timedelta(minutes=10)),
         "conveyance_id": cid, "trip_id": trip, "seal_number": f"S{cid}", "seal_class": "H", "seal_type": "bolt"},
    ]  # fmt: skip
    lat, t, n = 27.5, start + timedelta(minutes=20), 0

    def fix(speed: float) -> None:
        nonlocal n
        n += 1
        out.append({"event_id": f"{cid}-g{n}", "kind": "gps.position", "occurred_at": _iso(t), "conveyance_id": cid,
                    "trip_id": trip, "lat": round(lat, 6), "lon": -99.0, "speed_kph": speed})  # fmt: skip

    for _ in range(30):  # 30 minutes on the road at 60 km/h
        lat += 0.009
        t += timedelta(minutes=1)
        fix(60.0)
    for _ in range(stop_minutes):  # the stop, a fix a minute
        t += timedelta(minutes=1)
        fix(0.0)
    for _ in range(20):  # and on
        lat += 0.009
        t += timedelta(minutes=1)
        fix(60.0)
    return out


async def test_a_longer_stop_threshold_loses_exactly_the_shorter_stops(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, monkeypatch: Any
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    events = [e for i, (cid, minutes) in enumerate(STOPS.items())
              for e in _trip(cid, minutes, T0 + timedelta(hours=i))]  # fmt: skip
    async with running(s) as monitor:
        base = f"http://{s.http}"
        assert (await post(base, monitor.token, "/api/v1/events", events)).status_code == 200

        async def stored() -> bool:
            rows = await query(database_url, "SELECT count(*) FROM alerts WHERE rule_id = 'TRK-002'")
            return int(rows[0][0]) == len(STOPS)

        await wait_for(stored, what="a TRK-002 for every stop of 15 minutes or more")
        live_before = await query(database_url, "SELECT alert_id, status, updated_at FROM alerts ORDER BY alert_id")
        policy = tmp_path / "longer-stops.yaml"
        policy.write_text("rules:\n  TRK-002:\n    duration: 30m\n")
        monkeypatch.setenv("SEALGUARD_DATABASE_URL", database_url)
        report = tmp_path / "report.json"

        def backtest_json() -> int:
            import contextlib
            import io

            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli(["backtest", "--policy", str(policy), "--since", _iso(T0), "--until",
                            _iso(T0 + timedelta(hours=12)), "--tenant", "default", "--json"])  # fmt: skip
            report.write_text(out.getvalue())
            return code

        assert await asyncio.to_thread(backtest_json) == 0
        doc = orjson.loads(report.read_text())
        trk = next(r for r in doc["rules"] if r["rule_id"] == "TRK-002")
        assert (trk["current"], trk["proposed"], trk["appear"]) == (len(STOPS), 3, 0)
        assert trk["disappear"] == 3
        lost = sorted(x["conveyance_id"] for x in trk["examples"]["disappear"])
        assert lost == sorted(c for c, m in STOPS.items() if m < 30)
        assert trk["time_changed"] == 3  # the longer stops fire 15 minutes later
        assert doc["events"]["in_window"] == len(events) and doc["events"]["invalid"] == 0
        # the live engine and its alerts were not touched
        assert (
            await query(database_url, "SELECT alert_id, status, updated_at FROM alerts ORDER BY alert_id")
            == live_before
        )

        # the same from the API, as the policy page asks it
        admin = await token_for(database_url, "default", "admin", "policy-admin")
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            body = {"policy": policy.read_text(), "since": _iso(T0), "until": _iso(T0 + timedelta(hours=12))}
            answered = await c.post("/api/v1/backtest", json=body, headers={"Authorization": f"Bearer {admin}"})
            assert answered.status_code == 200, answered.text
            api_trk = next(r for r in answered.json()["rules"] if r["rule_id"] == "TRK-002")
            assert (api_trk["disappear"], api_trk["time_changed"]) == (3, 3)
            bad = await c.post("/api/v1/backtest", json={**body, "policy": "rules:\n  TRK-002:\n    duration: soon\n"},
                               headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            assert bad.status_code == 422 and "TRK-002" in bad.text
            operator = await token_for(database_url, "default", "operator", "ops")
            denied = await c.post("/api/v1/backtest", json=body, headers={"Authorization": f"Bearer {operator}"})
            assert denied.status_code == 403
        await _the_policy_page(base, database_url)


async def _the_policy_page(base: str, database_url: str) -> None:
    """An admin edits the policy on the policy page and backtests the window, in Chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page(timezone_id="UTC")
            await sign_in(page, base, database_url, "default", "admin", "pat", "Pat Policy")
            await page.goto(f"{base}/policy")
            await page.locator("#current:has-text('TRK-002')").wait_for()
            text = await page.input_value("#policy")
            assert "duration: 15m" in text
            await page.fill("#policy", "rules:\n  TRK-002:\n    duration: 30m\n")
            await page.fill("#since", "2026-10-05T06:00")
            await page.fill("#until", "2026-10-05T18:00")
            await page.click("#run")
            row = page.locator("#rows tr.changed:has(th:text('TRK-002'))")
            await row.wait_for()
            cells = [await c.inner_text() for c in await row.locator("td").all()]
            assert cells == ["6", "3", "0", "3", "0", "3"], cells
            assert await page.locator("#examples li:has-text('TRK-002 disappear')").count() == 3
            await at_size(page, "policy-backtest", 1440, 900)
        finally:
            await browser.close()
