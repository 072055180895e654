"""The dock page on a phone (390 px), as a dock worker uses it: every defect found trying it is pinned
here. Screenshots go to ``artefacts/screenshots/``."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, at_size, launch, launch_with_camera, passing_vvtt, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

PLACE = {"facility_id": "DC-1", "center": [-98.49, 29.42], "radius_m": 500}


async def test_the_dock_on_a_phone(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "ops")
        trip = {"event_id": "p1", "kind": "trip.planned", "occurred_at": "2026-11-30T06:00:00Z", "tenant": "acme",
                "conveyance_id": "TRK-170008", "trip_id": "T-1", "seal_numbers": ["SG4411"], "origin": PLACE,
                "destination": {**PLACE, "facility_id": "DC-2", "center": [-95.37, 29.76]},
                "conveyance_type": "tractor_trailer"}  # fmt: skip
        fix = {"event_id": "f1", "kind": "gps.position", "occurred_at": "2026-11-30T06:01:00Z", "tenant": "acme",
               "conveyance_id": "TRL-9", "lat": 29.42, "lon": -98.49}  # fmt: skip
        assert (await post(base, operator, "/api/v1/events", [trip, fix])).json()["accepted"] == 2
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                dialogs: list[str] = []

                async def dismiss(dialog: object) -> None:
                    dialogs.append(dialog.message)  # type: ignore[attr-defined]
                    await dialog.dismiss()  # type: ignore[attr-defined]

                page.on("dialog", dismiss)
                await sign_in(page, base, database_url, "acme", "scanner", "dock3", "Sam Reyes")
                await page.goto(f"{base}/dock")
                # typed in lower case, as people do: found, and shown as the system spells it
                await page.locator("#conveyance").fill("trk-170008")
                await page.locator("#conveyance").press("Enter")
                await expect(page.locator("#trip")).to_contain_text("TRK-170008 · trip T-1")
                await expect(page.locator("#conveyance")).to_have_value("TRK-170008")
                assert "null" not in await page.locator("#trip").inner_text()  # no open alerts: nothing, not "null"
                # a tractor-trailer gets the 17-point checklist first
                await expect(page.locator("#itype")).to_have_value("tractor_trailer_17pt")
                # the chosen answer stays shown
                yes = page.locator('[data-step="view"][data-v="true"]')
                await yes.click()
                await expect(yes).to_have_class("on")
                await expect(page.locator('[data-step="view"][data-v="false"]')).not_to_have_class("on")
                # every pass/fail and yes/no pair sits on one line at 390 px
                for choice in await page.locator(".points .choice").all():
                    boxes = [await b.bounding_box() for b in await choice.locator("button").all()]
                    assert boxes[0] and boxes[1] and abs(boxes[0]["y"] - boxes[1]["y"]) < 2, boxes
                    assert boxes[1]["x"] + boxes[1]["width"] <= 390, boxes
                # a failed point is named as people say it
                for button in await page.locator('#points button[data-v="pass"]').all():
                    await button.click()
                await page.locator('#points button[data-point="air_breather"][data-v="fail"]').click()
                for button in await page.locator('#agri button[data-v="no"]').all():
                    await button.click()
                await page.locator("#submit-insp").click()
                verdict = page.locator("#insp-verdict .verdict.reject")
                await expect(verdict).to_contain_text("air breather")
                assert "air_breather" not in await verdict.inner_text()
                # the latest inspection shown is the one just recorded
                await expect(page.locator("#latest-insp")).to_contain_text("FAILED")
                # recorded under the person signed in at the dock
                (inspector,) = await query(database_url, "SELECT payload->>'inspector_id' FROM events"
                                                         " WHERE kind = 'inspection.completed'")  # fmt: skip
                assert inspector == ("Sam Reyes (dock3)",)
                await page.screenshot(path=str(SHOTS / "dock-390-inspection.png"), full_page=True)
                await at_size(page, "dock", 390, 844)
                await at_size(page, "dock", 1440, 900)
                await page.set_viewport_size({"width": 390, "height": 844})
                # a second submit asks first; dismissed, nothing more is recorded
                await page.locator("#submit-insp").click()
                for _ in range(100):
                    if dialogs:
                        break
                    await asyncio.sleep(0.05)
                assert "already recorded" in dialogs[0]
                rows = await query(database_url, "SELECT count(*) FROM events WHERE kind = 'inspection.completed'")
                assert rows == [(1,)]
                # no trip, no seals on the documents: said as a note, and a typed number is not judged a match
                await page.locator("#conveyance").fill("TRL-9")
                await page.locator("#conveyance").press("Enter")
                await expect(page.locator("#no-seals")).to_have_text("the documents name no seal")
                await expect(page.locator("#expected")).to_have_count(0)
                await page.locator("#seal").fill("the documents name no seal")
                await page.locator("#seal").press("Enter")
                await expect(page.locator("#seal-check")).to_contain_text("cannot be matched")
                await page.screenshot(path=str(SHOTS / "dock-390-no-seals.png"), full_page=True)
                assert not errors, errors
            finally:
                await browser.close()


async def test_a_check_made_offline_is_sent_when_the_connection_returns(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """A dock loses its connection between looking a truck up and recording the seal check: the check is
    kept on the phone, said so, and sent by itself when the connection returns; a truck whose plan says
    no type gets the 17-point checklist, a container number the 7-point."""
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "ops")
        plans = [{"event_id": f"p-{cid}", "kind": "trip.planned", "occurred_at": "2026-11-30T06:00:00Z",
                  "tenant": "acme", "conveyance_id": cid, "trip_id": f"T-{cid}", "seal_numbers": [f"SG{n}"],
                  "origin": PLACE, "destination": {**PLACE, "facility_id": "DC-2", "center": [-95.37, 29.76]}}
                 for n, cid in ((4411, "TRL-77"), (4412, "MSCU1234566"))]  # fmt: skip
        assert (await post(base, operator, "/api/v1/events", plans)).json()["accepted"] == 2
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                context = await browser.new_context(viewport={"width": 390, "height": 844})
                page = await context.new_page()
                await sign_in(page, base, database_url, "acme", "scanner", "dock4", "Rita Dock")
                await page.goto(f"{base}/dock")
                # The first lookup answers after the second: the page must show the second, the one asked for
                # last (the checklist's first option is the container's, so waiting on it proves nothing).
                slow = asyncio.Event()

                async def held(route: Any) -> None:
                    await slow.wait()
                    await route.continue_()

                await page.route("**/api/v1/conveyances/MSCU1234566", held)
                await page.locator("#conveyance").fill("MSCU1234566")
                await page.locator("#conveyance").press("Enter")
                await page.locator("#conveyance").fill("TRL-77")
                await page.locator("#conveyance").press("Enter")
                await expect(page.locator("#trip")).to_contain_text("T-TRL-77")
                slow.set()
                await page.wait_for_load_state("networkidle")
                await expect(page.locator("#trip")).to_contain_text("T-TRL-77")
                await expect(page.locator("#conveyance")).to_have_value("TRL-77")
                await page.unroute("**/api/v1/conveyances/MSCU1234566")
                await page.locator("#conveyance").fill("MSCU1234566")
                await page.locator("#conveyance").press("Enter")
                await expect(page.locator("#trip")).to_contain_text("T-MSCU1234566")
                await expect(page.locator("#itype")).to_have_value("container_7pt")
                await page.locator("#conveyance").fill("TRL-77")
                await page.locator("#conveyance").press("Enter")
                await expect(page.locator("#itype")).to_have_value("tractor_trailer_17pt")  # a truck, no type given
                await context.set_offline(True)
                await passing_vvtt(page, "SG4411")
                await expect(page.locator("#vvtt-verdict .queued")).to_contain_text("saved on this phone")
                await expect(page.locator("#queue")).to_contain_text("1 check(s) saved on this phone")
                await at_size(page, "dock-offline", 390, 844)
                checks = "SELECT count(*) FROM events WHERE kind = 'seal.verified' AND conveyance_id = 'TRL-77'"
                assert await query(database_url, checks) == [(0,)]
                await context.set_offline(False)  # the browser says 'online': the queue goes by itself
                await expect(page.locator("#queue")).to_be_hidden()

                async def sent() -> bool:
                    return await query(database_url, checks) == [(1,)]

                await wait_for(sent, what="the queued check stored")
                assert await page.evaluate("localStorage.getItem('sealguard.dock.queue')") == "[]"
            finally:
                await browser.close()


def _qr_video(text: str, path: Path) -> Path:
    """A camera's picture of a seal's QR code, as Chromium's fake camera plays it (MJPEG frames)."""
    import io

    import segno
    from PIL import Image

    code = io.BytesIO()
    segno.make_qr(text, error="m").save(code, kind="png", scale=8, border=4)  # a full QR (not a Micro QR)
    frame = Image.new("RGB", (640, 480), (235, 235, 230))
    qr = Image.open(code).convert("RGB")
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    jpeg = io.BytesIO()
    frame.save(jpeg, format="JPEG", quality=90)
    path.write_bytes(jpeg.getvalue() * 30)
    return path


async def test_the_dock_reads_a_seal_s_qr_code_with_the_camera(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """No typing: the phone's camera (Chromium's fake camera playing a seal's QR code) reads the seal
    number into the check, which compares it with the documents at once. This Chromium has no
    BarcodeDetector, so the vendored ZXing reader is what reads it."""
    from playwright.async_api import async_playwright, expect

    video = _qr_video("SG4411", tmp_path / "seal.mjpeg")
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "ops")
        plan = {"event_id": "p-scan", "kind": "trip.planned", "occurred_at": "2026-11-30T06:00:00Z", "tenant": "acme",
                "conveyance_id": "TRL-SCAN", "trip_id": "T-SCAN", "seal_numbers": ["SG4411"], "origin": PLACE,
                "destination": {**PLACE, "facility_id": "DC-2", "center": [-95.37, 29.76]}}  # fmt: skip
        assert (await post(base, operator, "/api/v1/events", [plan])).json()["accepted"] == 1
        async with async_playwright() as pw:
            browser = await launch_with_camera(pw, video)
            try:
                context = await browser.new_context(viewport={"width": 390, "height": 844})
                await context.grant_permissions(["camera"], origin=base)
                page = await context.new_page()
                await sign_in(page, base, database_url, "acme", "scanner", "dock5", "Kim Scan")
                await page.goto(f"{base}/dock")
                assert await page.evaluate("'BarcodeDetector' in window") is False
                await page.locator("#conveyance").fill("TRL-SCAN")
                await page.locator("#conveyance").press("Enter")
                await page.click('[data-step="view"][data-v="true"]')
                await page.click("button.scan[data-scan=seal]")
                await expect(page.locator("#seal")).to_have_value("SG4411", timeout=20_000)
                await expect(page.locator("#seal-check")).to_contain_text("SG4411 matches the documents")
                await expect(page.locator("#scanner")).to_be_hidden()  # the camera is let go once it has read
                await at_size(page, "dock-scan", 390, 844)
            finally:
                await browser.close()
