"""The pages in a real browser: headless Chromium (Debian's, driven by Playwright, no browser download)
against a running monitor. The operator sees an alert arrive live and acknowledges it; the dock looks a
trailer up, runs a VVTT that reads the wrong seal, and a passing 7-point inspection. Screenshots go to
``artefacts/screenshots/``."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post
from tests.live.browser import CHROMIUM, SHOTS, launch, recent_trip, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


async def test_dashboard_live_alert_and_ack_then_dock_vvtt_and_inspection(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        trip = recent_trip("acme")
        resp = await post(base, monitor.token, "/api/v1/events", trip)
        assert resp.status_code == 200 and resp.json()["accepted"] == len(trip), resp.text

        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                await page.goto(f"{base}/")
                await expect(page.locator("#live")).to_have_class("on")
                await expect(page.locator(".truck[data-conveyance='TRL-1002']")).to_have_count(1)

                # a tamper alarm now: the alert appears without a reload
                alarm = {
                    "event_id": f"alarm-{uuid.uuid4().hex[:6]}",
                    "kind": "seal.alarm",
                    "tenant": "acme",
                    "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "conveyance_id": "TRL-1002",
                    "seal_number": "SG123456",
                    "alarm": "tamper",
                    "lat": 28.0,  # on the road, far from the destination
                    "lon": -99.0,
                }
                answer = (await post(base, monitor.token, "/api/v1/events", alarm)).json()
                raised = answer["results"][0]["findings"]
                assert "SEAL-003" in {f["rule_id"] for f in raised}
                row = page.locator(".alert-row", has_text="SEAL-003")
                await expect(row).to_have_count(1)
                await expect(page.locator(".truck[data-conveyance='TRL-1002']")).to_have_attribute(
                    "data-state", "critical"
                )
                await page.screenshot(path=str(SHOTS / "dashboard-live-alert.png"), full_page=True)
                await row.locator("button.ack").click()
                # acknowledged: it leaves "Needs action" for the acknowledged ones, folded apart
                await expect(page.locator("#alerts > .alert-row", has_text="SEAL-003")).to_have_count(0)
                await page.locator("details.acked > summary").click()
                await expect(
                    page.locator("details.acked .alert-row", has_text="SEAL-003").locator(".status")
                ).to_have_text("acknowledged")
                (stored,) = await query(
                    database_url,
                    "SELECT alert_id::text, status, acknowledged_by FROM alerts"
                    " WHERE rule_id = 'SEAL-003' AND tenant = 'acme'",
                )
                assert stored[1:] == ("acknowledged", "Olga Petrova (olga)")
                await page.screenshot(path=str(SHOTS / "dashboard-acknowledged.png"), full_page=True)

                await page.goto(f"{base}/alerts/{stored[0]}")
                await expect(page.locator("#history")).to_contain_text("acknowledged by Olga Petrova (olga)")
                await expect(page.locator("#track path.fix.evidence").first).to_be_visible()
                await page.screenshot(path=str(SHOTS / "alert-page.png"), full_page=True)
                assert not errors, errors

                dock = await browser.new_page(viewport={"width": 420, "height": 900})  # a phone
                dock.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(dock, base, database_url, "acme", "scanner", "dock7", "Dev Patel")
                await dock.goto(f"{base}/dock")
                await dock.locator("#conveyance").fill("TRL-1002")
                await dock.locator("#conveyance").press("Enter")  # what a scanner does
                await expect(dock.locator("#expected")).to_have_text("SG123456")
                await dock.locator('[data-step="view"][data-v="true"]').click()
                await dock.locator("#seal").type("SG999999")
                await dock.locator("#seal").press("Enter")
                await expect(dock.locator("#seal-check")).to_contain_text("does not match the documents")
                for step in ("tug", "twist_turn", "intact"):
                    await dock.locator(f'[data-step="{step}"][data-v="true"]').click()
                await dock.locator("#submit-vvtt").click()
                verdict = dock.locator("#vvtt-verdict .verdict.reject")
                await expect(verdict).to_contain_text(
                    "Seal number does not match the documents — do not accept the load"
                )
                await expect(verdict).to_contain_text("SEAL-001")
                await dock.screenshot(path=str(SHOTS / "dock-vvtt-mismatch.png"), full_page=True)

                for button in await dock.locator("#points button.pass").all():
                    await button.click()
                for button in await dock.locator("#agri button.pass").all():
                    await button.click()
                await dock.locator("#submit-insp").click()
                await expect(dock.locator("#insp-verdict .verdict.accept")).to_contain_text("Inspection passed")
                await dock.screenshot(path=str(SHOTS / "dock-inspection-passed.png"), full_page=True)
                assert not errors, errors
            finally:
                await browser.close()

    kinds = await query(database_url, "SELECT payload->>'kind' FROM events WHERE event_id LIKE 'dock-%%' ORDER BY seq")
    assert [k for (k,) in kinds] == ["seal.verified", "inspection.completed"]
