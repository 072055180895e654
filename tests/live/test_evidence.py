"""The incident package of a real alert, end to end: a Traccar e-lock's tamper (the partner's own
message) raises a SEAL-003 on a running monitor, a webhook is told, two people close it (the two-person
rule), then the package comes from the API and from the command line, and checks out offline against the
site's published key; a changed package does not."""

import asyncio
import io
import zipfile
from pathlib import Path

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image
from pypdf import PdfReader

from sealguard.cli import main as cli
from sealguard.embedded.receivers import HttpReceiver
from sealguard.embedded.servers import MqttBroker
from sealguard.evidence import keys, verify
from sealguard.evidence.package import sha256 as package_sha
from tests.live.alerting import hook_only, post, settled_outbox, token_for
from tests.live.browser import at_size, launch, launch_with_camera, passing_vvtt, sign_in
from tests.live.monitor import running, settings
from tests.live.people import signed_in
from tests.live.servers import query, wait_for
from tests.live.test_interop import INTEROP, _trip


async def _seal_003(database_url: str) -> list[tuple[str, str]]:
    rows = await query(database_url, "SELECT alert_id::text, status FROM alerts WHERE conveyance_id = 'TRL-530'"
                                     " AND rule_id = 'SEAL-003'")  # fmt: skip
    return [(r[0], r[1]) for r in rows]


async def _dock_photo(base: str, database_url: str) -> None:
    """A dock worker checks the seal on the dock page and photographs it with the phone's camera (Chromium's
    fake camera: a moving test picture), as a person at 390 px."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch_with_camera(pw)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            await context.grant_permissions(["camera"], origin=base)
            page = await context.new_page()
            await sign_in(page, base, database_url, "default", "scanner", "dee", "Dee Dock")
            await page.goto(f"{base}/dock")
            await page.fill("#conveyance", "TRL-530")
            await page.press("#conveyance", "Enter")
            await passing_vvtt(page, "SG7001")
            await page.locator("#photos-step").wait_for(state="visible")
            await page.click("#camera-on")
            await page.locator("#snap:not([disabled])").wait_for()
            await page.click("#snap")
            kept = page.locator("#photo-result .verdict.accept")
            await kept.wait_for()
            assert "Photo of seal kept" in await kept.inner_text()
            assert await page.locator("#photo-list img").count() == 1
            await at_size(page, "dock-photo", 390, 844)
        finally:
            await browser.close()


async def _from_the_alert_page(base: str, database_url: str, alert_id: str, tmp: Path) -> bytes:
    """The package as a person gets it: the alert page's button, in Chromium; its report, opened from the
    unpacked package, shows the map, who acted and the two-person closure."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch(pw)
        try:
            page = await browser.new_page(accept_downloads=True)
            await sign_in(page, base, database_url, "default", "operator", "cho", "Cho Audit")
            await page.goto(f"{base}/alerts/{alert_id}")
            link = page.locator("#package")
            await link.wait_for()
            async with page.expect_download() as download:
                await link.click()
            saved = tmp / "clicked.zip"
            await (await download.value).save_as(saved)
            unpacked = tmp / "unpacked"
            with zipfile.ZipFile(saved) as z:
                z.extractall(unpacked)
            await page.goto((unpacked / "report.html").as_uri())
            for text in ("Seal discrepancy record", "Closed by two people", "Ben Lead (ben)", "ops-hook"):
                assert await page.get_by_text(text).first.is_visible(), text
            assert await page.locator("svg path").count() > 2  # borders and the track on the static map
            await at_size(page, "incident-report", 1440, 900)
            return saved.read_bytes()
        finally:
            await browser.close()


async def test_a_seal_003_package_from_a_partner_message_verifies_offline(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, monkeypatch: object
) -> None:
    hook = await HttpReceiver().start()
    try:
        s = settings(tmp_path, database_url, mqtt_broker, alerting=hook_only(tmp_path, hook), notify_poll_s=0.1)
        async with running(s) as monitor:
            base = f"http://{s.http}"
            device = await token_for(database_url, "default", "scanner", "traccar-server")
            operator = await token_for(database_url, "default", "operator", "ops-desk")
            assert (await post(base, operator, "/api/v1/events", _trip("TRL-530", "SG7001"))).status_code == 200
            bound = await post(base, operator, "/api/v1/interop/devices/traccar:022043756090/bindings",
                               {"conveyance_id": "TRL-530", "seal_number": "SG7001",
                                "valid_from": "2026-11-01T00:00:00Z"})  # fmt: skip
            assert bound.status_code == 201, bound.text
            await _dock_photo(base, database_url)
            elock = (INTEROP / "traccar/forwarding/position-elock.json").read_bytes()
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                sent = await c.post(f"/api/v1/interop/traccar/positions?token={device}", content=elock)
                assert sent.status_code == 200 and sent.json()["accepted"] == 3, sent.text
            await wait_for(lambda: _seal_003(database_url), what="SEAL-003 from the e-lock's tamper")
            ((alert_id, _),) = await _seal_003(database_url)
            await wait_for(lambda: settled_outbox(database_url), what="the webhook told")
            async with signed_in(base, database_url, "default", "operator", "ana", "Ana Ops") as ana:
                r = await ana.post(f"/api/v1/alerts/{alert_id}/comment", json={"note": "driver reached: lock hit"})
                assert r.status_code == 200, r.text
                r = await ana.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "seal intact on VVTT"})
                assert r.status_code == 200 and r.json()["recorded"][-1] == "resolve_requested", r.text
            async with signed_in(base, database_url, "default", "operator", "ben", "Ben Lead") as ben:
                r = await ben.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "confirmed"})
                assert r.status_code == 200 and r.json()["alert"]["status"] == "resolved", r.text
                package = await ben.get(f"/api/v1/alerts/{alert_id}/incident")
                assert package.status_code == 200, package.text
                assert package.headers["content-type"] == "application/zip"
            clicked = await _from_the_alert_page(base, database_url, alert_id, tmp_path)
            assert verify.check(clicked).ok
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                published = (await c.get("/api/v1/site-key")).json()
                # a token of another tenant gets nothing, and nobody without credentials
                globex = await token_for(database_url, "globex", "operator", "globex-ops")
                other = await c.get(f"/api/v1/alerts/{alert_id}/incident",
                                    headers={"Authorization": f"Bearer {globex}"})  # fmt: skip
                assert other.status_code == 404
                assert (await c.get(f"/api/v1/alerts/{alert_id}/incident")).status_code == 401
            del monitor
    finally:
        await hook.stop()

    site = keys.read_public(published["public_key_pem"].encode())
    assert isinstance(site, Ed25519PublicKey) and published["fingerprint"] == keys.fingerprint(site)
    verdict = verify.check(package.content, site)
    assert verdict.ok, verdict.problems
    with zipfile.ZipFile(io.BytesIO(package.content)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    doc = orjson.loads(files["incident.json"])
    assert doc["alert"]["alert_id"] == alert_id and doc["alert"]["status"] == "resolved"
    # the evidence event came from Traccar: the partner's message is in the package byte for byte
    partnered = [e for e in doc["events"] if e["partner"]]
    assert partnered and all(files[e["partner"]["file"]] == elock for e in partnered)
    assert all(e["original_kept"] for e in doc["events"])
    actions = [(h["action"], h["actor"]) for h in doc["history"]]
    assert ("resolve_requested", "Ana Ops (ana)") in actions and ("resolved", "Ben Lead (ben)") in actions
    assert ("commented", "Ana Ops (ana)") in actions  # people by name and account, never a token
    assert any(n["receiver"] == "ops-hook" and n["status"] == "sent" for n in doc["notifications"])
    assert "Closed by two people" in files["report.html"].decode()
    # the dock's photo: in the package as stored, its SHA-256 in the manifest, in the report
    (photo,) = doc["photos"]
    assert (
        photo["subject"] == "seal" and photo["taken_by"] == "Dee Dock (dee)" and photo["content_type"] == "image/jpeg"
    )
    assert package_sha(files[photo["file"]]) == photo["sha256"] and files[photo["file"]][:2] == b"\xff\xd8"
    assert photo["file"] in files["report.html"].decode()
    assert [c["kind"] for c in doc["inspections"]] == ["seal.verified"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(files["report.pdf"])).pages)
    for expected in ("Seal discrepancy record", "SEAL-003", "TRL-530", "ops-hook", "Ben Lead (ben)",
                     "VVTT of seal SG7001: passed", "Dee Dock (dee)"):  # fmt: skip
        assert expected in text, expected

    # the command line: the same alert, from the database, checked offline with the printed key
    monkeypatch.setenv("SEALGUARD_DATABASE_URL", database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("SEALGUARD_DATA_DIR", str(s.data_dir))  # type: ignore[attr-defined]
    out = tmp_path / "pkg.zip"
    assert await asyncio.to_thread(cli, ["incident", "export", alert_id, "--out", str(out)]) == 0
    key_file = tmp_path / "site.pem"
    key_file.write_text(published["public_key_pem"])
    assert cli(["incident", "verify", str(out), "--key", str(key_file)]) == 0
    with zipfile.ZipFile(out) as z:
        changed = {n: z.read(n) for n in z.namelist()}
    changed["incident.json"] = changed["incident.json"].replace(b"Ben Lead (ben)", b"Bob Lead (bob)")
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for name, data in changed.items():
            z.writestr(name, data)
    assert cli(["incident", "verify", str(forged), "--key", str(key_file)]) == 1
    assert await asyncio.to_thread(cli, ["incident", "export", "00000000-0000-0000-0000-000000000000"]) == 1


async def test_photo_uploads_are_held_to_their_tenant_type_size_and_number(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker, photo_max_bytes=64 * 1024)
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 10)).save(jpeg, format="JPEG")
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, format="GIF")
    async with running(s):
        dock = await token_for(database_url, "default", "scanner", "dock-7")
        globex = await token_for(database_url, "globex", "operator", "globex-ops")
        async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=30) as c:

            async def put(body: bytes, token: str | None = dock, event_id: str = "dock-e1") -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return await c.post("/api/v1/photos", params={"event_id": event_id, "subject": "doors"},
                                    content=body, headers={**headers, "Content-Type": "image/jpeg"})  # fmt: skip

            assert (await put(jpeg.getvalue(), token=None)).status_code == 401
            assert (await put(gif.getvalue())).status_code == 415  # the bytes say GIF, whatever the header says
            assert (await put(b"\xff\xd8" + b"\x00" * (80 * 1024))).status_code == 413
            assert (await put(jpeg.getvalue(), event_id="bad\x01id")).status_code == 422
            kept = [await put(jpeg.getvalue()) for _ in range(10)]
            assert {r.status_code for r in kept} == {201}
            assert (await put(jpeg.getvalue())).status_code == 409  # ten per check, no more
            url = kept[0].json()["url"]
            mine = await c.get(url, headers={"Authorization": f"Bearer {dock}"})
            assert mine.status_code == 200 and mine.content == jpeg.getvalue()
            assert mine.headers["content-type"] == "image/jpeg"
            assert (await c.get(url, headers={"Authorization": f"Bearer {globex}"})).status_code == 404
            assert (await c.get(url)).status_code == 401
    rows = await query(
        database_url, "SELECT count(*), min(taken_by), min(tenant) FROM photos WHERE event_id = 'dock-e1'"
    )
    assert rows == [(10, "dock-7", "default")]
