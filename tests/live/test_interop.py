"""Partner formats end to end, through the real endpoints and broker of a running monitor: a bound
device's messages raise what the same native events would; an unbound one is dead-lettered with the
reason; a re-sent message is a duplicate; a token of one tenant cannot reach another's conveyance; DCSA's
own wrong conformance messages are refused with the reasons, and the right one accepted."""

from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import pytest

from sealguard.alerts.book import AlertBook
from sealguard.embedded.servers import MqttBroker
from sealguard.rules.engine import Engine
from sealguard.stream.replay import replay
from tests.live.alerting import post, token_for
from tests.live.browser import CHROMIUM, SHOTS, launch, sign_in
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

INTEROP = Path(__file__).parent.parent / "fixtures" / "interop"
DCSA = INTEROP / "dcsa/Conformance-Gateway/tnt/src/main/resources/standards/tnt/messages"
ORIGIN = {"facility_id": "DC-SAT", "center": [-98.4936, 29.4241], "radius_m": 800}
DESTINATION = {"facility_id": "DC-HOU", "center": [-95.3698, 29.7604], "radius_m": 800}
ROUTE = [[-98.4936, 29.4241], [-97.9, 29.5], [-97.0, 29.6], [-95.3698, 29.7604]]


def _trip(conveyance: str, seal: str, at: str = "2026-11-02T09:00:00Z", **extra: Any) -> dict[str, Any]:
    return {"event_id": f"plan-{conveyance}", "kind": "trip.planned", "occurred_at": at, "conveyance_id": conveyance,
            "trip_id": f"T-{conveyance}", "seal_numbers": [seal], "origin": ORIGIN, "destination": DESTINATION,
            **extra}  # fmt: skip


async def _alerts(url: str, conveyance: str) -> list[tuple[str, str]]:
    rows = await query(
        url, "SELECT rule_id, severity FROM alerts WHERE conveyance_id = %s ORDER BY rule_id", conveyance
    )
    return [(r[0], r[1]) for r in rows]


async def _evidence_payloads(url: str, conveyance: str, rule: str) -> list[dict[str, Any]]:
    rows = await query(url, "SELECT e.payload FROM alerts a JOIN events e ON e.tenant = a.tenant"
                            " AND a.evidence ? e.event_id WHERE a.conveyance_id = %s AND a.rule_id = %s",
                       conveyance, rule)  # fmt: skip
    return [r[0] if isinstance(r[0], dict) else orjson.loads(r[0]) for r in rows]


async def _native(url: str, conveyance: str) -> list[tuple[str, str]]:
    """The alerts ``sealguard replay`` raises from the same events written natively: the stored events of
    the conveyance (the translated ones are plain contract events with the foreign item inside)."""
    rows = await query(url, "SELECT payload FROM events WHERE conveyance_id = %s ORDER BY seq", conveyance)
    lines = [orjson.dumps(r[0] if isinstance(r[0], dict) else orjson.loads(r[0])) for r in rows]
    report = replay(lines, Engine(), book=AlertBook())
    return sorted((a.rule_id, a.severity) for a in report.book.alerts)


async def _count(url: str, event_id: str) -> int:
    rows = await query(url, "SELECT count(*) FROM events WHERE event_id = %s", event_id)
    return int(rows[0][0])


async def _dead(url: str, needle: str) -> list[str]:
    rows = await query(url, "SELECT reason FROM dead_letters WHERE reason LIKE %s", f"%{needle}%")
    return [r[0] for r in rows]


async def test_traccar_and_osmand(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        device_token = await token_for(database_url, "default", "scanner", "traccar-server")
        operator = await token_for(database_url, "default", "operator", "ops")
        other = await token_for(database_url, "globex", "scanner", "globex-traccar")
        assert (await post(base, operator, "/api/v1/events", _trip("TRL-530", "SG7001"))).status_code == 200
        bound = await post(
            base,
            operator,
            "/api/v1/interop/devices/traccar:022043756090/bindings",
            {"conveyance_id": "TRL-530", "seal_number": "SG7001", "valid_from": "2026-11-01T00:00:00Z"},
        )
        assert bound.status_code == 201, bound.text
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            elock = (INTEROP / "traccar/forwarding/position-elock.json").read_bytes()
            first = await c.post(f"/api/v1/interop/traccar/positions?token={device_token}", content=elock)
            assert first.status_code == 200, first.text
            assert first.json()["accepted"] == 3
            await wait_for(lambda: _has(database_url, "TRL-530", "SEAL-003"), what="SEAL-003 from a Traccar tamper")
            again = await c.post(f"/api/v1/interop/traccar/positions?token={device_token}", content=elock)
            assert again.json()["duplicate"] == 3 and again.json()["accepted"] == 0
            # the alert's evidence is the event that carries Traccar's own message
            (payload,) = await _evidence_payloads(database_url, "TRL-530", "SEAL-003")
            assert payload["foreign"]["format"] == "traccar" and payload["foreign"]["payload"]["device"]["uniqueId"]
            # another tenant's token: the device is not bound there, so nothing reaches TRL-530
            alarm = (INTEROP / "traccar/forwarding/event-alarm.json").read_bytes()
            foreign = await c.post("/api/v1/interop/traccar/events", content=alarm,
                                   headers={"Authorization": f"Bearer {other}"})  # fmt: skip
            assert foreign.status_code == 200 and foreign.json()["rejected"] == 1
            assert await _dead(database_url, "not bound to a conveyance of tenant globex")
            # what native events would raise: the tamper (SEAL-003), and the trailer left its origin unsealed
            assert await _alerts(database_url, "TRL-530") == [("SEAL-003", "critical"), ("SEAL-011", "critical")]
            assert await _alerts(database_url, "TRL-530") == await _native(database_url, "TRL-530")
            # an unbound tracker's positions are dead-lettered with the reason
            plain = await c.post(f"/api/v1/interop/traccar/positions?token={device_token}",
                                 content=(INTEROP / "traccar/forwarding/position.json").read_bytes())  # fmt: skip
            assert plain.json()["rejected"] == 1
            assert await _dead(database_url, "device traccar:861230043907626 is not bound")
            # a body Traccar would never send is refused and kept
            wrong = await c.post(f"/api/v1/interop/traccar/positions?token={device_token}",
                                 content=(INTEROP / "traccar/forwarding/wrong-fix-time.json").read_bytes())  # fmt: skip
            assert wrong.status_code == 400 and "fixTime" in wrong.text
            assert await _dead(database_url, "$.position.fixTime")
            # no token, a revoked-looking token: refused before anything is read
            assert (await c.post("/api/v1/interop/traccar/positions", content=elock)).status_code == 401
            assert (await c.post("/api/v1/interop/traccar/positions?token=nope", content=elock)).status_code == 401
            # the phone app's OsmAnd protocol, to the same binding namespace
            await post(base, operator, "/api/v1/interop/devices/traccar:358240051111110/bindings",
                       {"conveyance_id": "TRL-530", "valid_from": "2026-11-01T00:00:00Z"})  # fmt: skip
            osm = await c.get(
                "/api/v1/interop/osmand",
                params={
                    "id": "358240051111110",
                    "lat": "29.62",
                    "lon": "-98.2",
                    "timestamp": "1793625000",
                    "speed": "20",
                    "token": device_token,
                },
            )
            assert osm.status_code == 200 and osm.json()["accepted"] == 1, osm.text
        rows = await query(database_url, "SELECT payload->>'speed_kph' FROM events WHERE event_id LIKE 'osmand:%%'")
        assert rows[0][0] == "37.0"  # 20 knots, to one decimal more than the sender gave
        assert monitor is not None


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)


async def _has(url: str, conveyance: str, rule: str) -> bool:
    return any(r == rule for r, _ in await _alerts(url, conveyance))


async def test_dcsa(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        carrier = await token_for(database_url, "default", "scanner", "carrier-publisher")
        operator = await token_for(database_url, "default", "operator", "ops")
        for container in ("APZU4812090", "MSKU1234565"):
            assert (await post(base, operator, "/api/v1/events", _trip(container, "SG7001"))).status_code == 200

        def rmvd(container: str, event_id: str, **extra: Any) -> dict[str, Any]:
            return {"events": [{"eventID": event_id, "eventDateTime": "2026-11-02T11:00:00Z",
                                "eventUpdatedDateTime": "2026-11-02T11:05:00Z",
                                "eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT",
                                                        "equipmentEventTypeCode": "RMVD"},
                                "eventLocation": {"geoCoordinate": {"latitude": "29.61", "longitude": "-98.21"}},
                                "equipmentDetails": {"equipmentReference": container,
                                                     "seals": [{"number": "SG7001", "source": "CAR", "type": "BLT"}]},
                                **extra}]}  # fmt: skip

        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {carrier}"}) as c:
            plain = await c.post("/api/v1/interop/dcsa/v3/events", json=rmvd("APZU4812090", "evt-1"))
            assert plain.status_code == 200 and plain.headers["API-Version"] == "3.0.0", plain.text
            customs = {"shipmentDetails": {"documentReference": {"typeCode": "CUC", "reference": "CBP-2026-118"}}}
            official = await c.post("/api/v1/interop/dcsa/v3/events", json=rmvd("MSKU1234565", "evt-2", **customs))
            assert official.status_code == 200, official.text
            await wait_for(lambda: _has(database_url, "APZU4812090", "SEAL-003"), what="SEAL-003 from RMVD")
            stored = await query(database_url, "SELECT payload->>'reason' FROM events WHERE conveyance_id = %s"
                                               " AND kind = 'seal.removed'", "MSKU1234565")  # fmt: skip
            assert stored == [("government_inspection",)]
            assert not await _has(database_url, "MSKU1234565", "SEAL-003")
            for container in ("APZU4812090", "MSKU1234565"):
                assert await _alerts(database_url, container) == await _native(database_url, container)
            again = await c.post("/api/v1/interop/dcsa/v3/events", json=rmvd("APZU4812090", "evt-1"))
            assert again.status_code == 200
            count = await query(database_url, "SELECT count(*) FROM events WHERE event_id LIKE 'dcsa:evt-1:%%'")
            assert count == [(2,)]  # the position and the removal, once each
            for wrong, path in (("structure", "someEvents"), ("date-times", "eventCreatedDateTime"),
                                ("attribute-values", "ISO 6346"), ("event-ids", "UUID")):  # fmt: skip
                body = (DCSA / f"tnt-220-response-wrong-{wrong}.json").read_bytes()
                r = await c.post("/api/v1/interop/dcsa/v2/events", content=body)
                assert r.status_code == 400, (wrong, r.text)
                messages = [f"{f['propertyPath']} {f['message']}" for f in r.json()["feedbackElements"]]
                assert all(f["severity"] == "ERROR" for f in r.json()["feedbackElements"])
                assert any(path in m for m in messages), (wrong, messages)
            right = await c.post(
                "/api/v1/interop/dcsa/v2/events", content=(DCSA / "tnt-220-response.json").read_bytes()
            )
            assert right.status_code == 200, right.text
            mixed = await c.post(
                "/api/v1/interop/dcsa/v2/events", content=(DCSA / "tnt-300-response.json").read_bytes()
            )
            assert mixed.status_code == 400 and "3.0 message sent to the T&T 2.2 endpoint" in mixed.text
        assert len(await _dead(database_url, "$[0].eventID")) >= 3  # the refused messages are kept


async def test_owntracks_over_mqtt_and_http(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "default", "operator", "ops")
        phone = await token_for(database_url, "default", "scanner", "anna-phone")
        await post(base, operator, "/api/v1/events", _trip("TRL-700", "SG8001"))
        await post(base, operator, "/api/v1/interop/devices/owntracks:anna/phone/bindings",
                   {"conveyance_id": "TRL-700", "valid_from": "2026-11-01T00:00:00Z"})  # fmt: skip
        t0 = 1793610000  # 2026-11-02T09:00:00Z
        fixes = [(t0 + 60, -98.4936, 29.4241, 0)]  # at the origin
        fixes += [(t0 + 60 * (2 + i), -98.47 + 0.02 * i, 29.43, 80) for i in range(5)]  # leaving
        fixes += [(t0 + 60 * (8 + i), -98.37, 29.43, 0) for i in range(25)]  # stopped in open country
        topic = "sealguard/v1/default/owntracks/anna/phone"
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="owntracks-anna") as client:
            for tst, lon, lat, vel in fixes:
                body = {"_type": "location", "tst": tst, "lat": lat, "lon": lon, "vel": vel, "acc": 10, "tid": "an"}
                await client.publish(topic, orjson.dumps(body), qos=1)
            await client.publish(topic, b'{"_type":"lwt","tst":1793612000}', qos=1)

        async def positions() -> int:
            stored = await query(database_url, "SELECT count(*) FROM events WHERE conveyance_id = 'TRL-700'"
                                               " AND kind = 'gps.position'")  # fmt: skip
            return int(stored[0][0])

        # every fix stored (the alert can come before the last of them is), once each
        await wait_for(lambda: _has(database_url, "TRL-700", "TRK-002"), what="TRK-002 from an OwnTracks stop")
        await wait_for(lambda: _at_least(positions, len(fixes)), what="every OwnTracks fix stored")
        assert await positions() == len(fixes)
        assert await _alerts(database_url, "TRL-700") == await _native(database_url, "TRL-700")
        # OwnTracks' own default topic owntracks/{user}/{device}: the user is the token's MQTT user sg-{id}
        ((token_id,),) = await query(database_url, "SELECT id FROM api_tokens WHERE label = 'anna-phone'")
        await post(base, operator, f"/api/v1/interop/devices/owntracks:sg-{token_id}/tablet/bindings",
                   {"conveyance_id": "TRL-700", "valid_from": "2026-11-01T00:00:00Z"})  # fmt: skip
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="owntracks-tablet") as client:
            body = {"_type": "location", "tst": t0 + 2400, "lat": 29.43, "lon": -98.37, "vel": 0}
            await client.publish(f"owntracks/sg-{token_id}/tablet", orjson.dumps(body), qos=1)
            await client.publish("owntracks/mallory/tablet", orjson.dumps(body), qos=1)
        await wait_for(lambda: _count(database_url, f"owntracks:sg-{token_id}/tablet:{t0 + 2400}:location"),
                       what="a fix on OwnTracks' default topic")  # fmt: skip
        await wait_for(lambda: _dead(database_url, "topic user 'mallory' is not the MQTT user of a live token"),
                       what="an unknown topic user dead-lettered")  # fmt: skip
        # HTTP mode: user and device in headers, the token as Basic password; answered with an array
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            msg = {"_type": "location", "tst": t0 + 3000, "lat": 29.43, "lon": -98.36, "vel": 30}
            r = await c.post("/api/v1/interop/owntracks", json=msg, auth=("anna", phone),
                             headers={"X-Limit-U": "anna", "X-Limit-D": "phone"})  # fmt: skip
            assert r.status_code == 200 and r.json() == [], r.text
            again = await c.post("/api/v1/interop/owntracks", json=msg, auth=("anna", phone),
                                 headers={"X-Limit-U": "anna", "X-Limit-D": "phone"})  # fmt: skip
            assert again.status_code == 200
            wrong = await c.post("/api/v1/interop/owntracks", content=b'{"_type":"encrypted","data":"YWJj"}',
                                 auth=("anna", phone), headers={"X-Limit-U": "anna", "X-Limit-D": "phone"})  # fmt: skip
            assert wrong.status_code == 400 and "encryption" in wrong.text
        rows = await query(database_url, "SELECT count(*) FROM events WHERE event_id = %s",
                           f"owntracks:anna/phone:{t0 + 3000}:location")  # fmt: skip
        assert rows == [(1,)]


async def test_epcis_capture(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "default", "operator", "ops")
        shipper = await token_for(database_url, "default", "scanner", "epcis-repository")
        await post(base, operator, "/api/v1/events", _trip("CSQU3054383", "SG7001", at="2026-11-02T13:00:00Z"))
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {shipper}"}) as c:
            doc = (INTEROP / "epcis/container-sealed-and-inspected.json").read_bytes()
            r = await c.post("/api/v1/interop/epcis/capture", content=doc)
            assert r.status_code == 202 and r.headers["Location"].startswith("/api/v1/interop/epcis/capture/"), r.text
            assert r.json()["success"] is True and r.json()["accepted"] == 6
            await wait_for(lambda: _has(database_url, "CSQU3054383", "SEAL-004"), what="SEAL-004 from EPCIS")
            await wait_for(lambda: _has(database_url, "CSQU3054383", "SEAL-003"), what="SEAL-003 from a sensor alarm")
            assert ("SEAL-004", "critical") in await _alerts(database_url, "CSQU3054383")
            assert await _alerts(database_url, "CSQU3054383") == await _native(database_url, "CSQU3054383")
            again = await c.post("/api/v1/interop/epcis/capture", content=doc)
            assert again.json()["duplicate"] == 6
            wrong = await c.post(
                "/api/v1/interop/epcis/capture", content=(INTEROP / "epcis/wrong-event.json").read_bytes()
            )
            assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("application/problem+json")
            assert "eventTimeZoneOffset" in wrong.json()["detail"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
async def test_the_alert_page_shows_the_partners_own_message(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    from playwright.async_api import async_playwright, expect

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "default", "operator", "olga")
        device_token = await token_for(database_url, "default", "scanner", "traccar-server")
        await post(base, operator, "/api/v1/events", _trip("TRL-530", "SG7001", route=ROUTE, corridor_m=2000))
        await post(
            base,
            operator,
            "/api/v1/interop/devices/traccar:022043756090/bindings",
            {"conveyance_id": "TRL-530", "seal_number": "SG7001", "valid_from": "2026-11-01T00:00:00Z"},
        )
        beats = [{"event_id": f"hb-{i}", "kind": "seal.heartbeat", "occurred_at": f"2026-11-02T10:{40 + i:02d}:00Z",
                  "conveyance_id": "TRL-530", "seal_number": "SG7001", "battery_pct": 80.0, "locked": True}
                 for i in range(5)]  # fmt: skip
        assert (await post(base, operator, "/api/v1/events", beats)).json()["accepted"] == 5
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            elock = (INTEROP / "traccar/forwarding/position-elock.json").read_bytes()
            assert (await c.post(f"/api/v1/interop/traccar/positions?token={device_token}", content=elock)).is_success
        await wait_for(lambda: _has(database_url, "TRL-530", "SEAL-003"), what="SEAL-003")
        ((alert_id,),) = await query(database_url, "SELECT alert_id::text FROM alerts WHERE rule_id = 'SEAL-003'")
        async with async_playwright() as pw:
            browser = await launch(pw)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await sign_in(page, base, database_url, "default", "operator", "ops", "Oscar Diaz")
                await page.goto(f"{base}/")
                await page.goto(f"{base}/alerts/{alert_id}")
                evidence = page.locator("#events li.evidence", has_text="seal.alarm")
                await expect(evidence).to_contain_text("from traccar")
                await evidence.locator("details.foreign summary").click()
                await expect(evidence.locator("details.foreign pre")).to_contain_text('"uniqueId": "022043756090"')
                # the plan behind the track: corridor, planned route, origin and destination, and a scale
                await expect(page.locator("#track path.route")).to_have_count(1)
                await expect(page.locator("#track path.corridor")).to_have_count(1)
                await expect(page.locator("#track path.place")).to_have_count(2)
                await expect(page.locator("#track .leaflet-control-scale")).to_have_count(1)
                await expect(page.locator("#track path.fix.evidence").first).to_be_visible()
                # what the rule means and what to do about it
                await expect(page.locator("#guide #rule-title")).to_have_text(
                    "SEAL-003 · seal opened outside an authorised place"
                )
                await expect(page.locator("#todo li").first).to_contain_text("Call the driver")
                # the routine heartbeats before it are one line, not five
                await expect(page.locator("#events li.heartbeats")).to_have_text(
                    "2026-11-02 10:40:00 UTC – 2026-11-02 10:44:00 UTC · 5 heartbeats of seal SG7001"
                )
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SHOTS / "alert-page-traccar-evidence.png"), full_page=True)
                assert not errors, errors
            finally:
                await browser.close()


async def test_what_an_attacker_tries_on_the_partner_endpoints(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    s = settings(tmp_path, database_url, mqtt_broker, http_max_body=200_000, http_max_batch=50)
    async with running(s):
        base = f"http://{s.http}"
        scanner = await token_for(database_url, "acme", "scanner", "acme-tracker")
        operator = await token_for(database_url, "acme", "operator", "acme-ops")
        intruder = await token_for(database_url, "globex", "operator", "globex-ops")
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            auth = {"Authorization": f"Bearer {scanner}"}
            # a body past the limit is refused while it is read
            huge = b"[" + b",".join([b'{"eventID":"x"}'] * 20_000) + b"]"
            assert (await c.post("/api/v1/interop/dcsa/v2/events", content=huge, headers=auth)).status_code == 413
            # more events than a batch may hold
            many = {"_type": "location", "tst": 1793613600, "lat": 1.0, "lon": 2.0}
            body = orjson.dumps([{**many, "tst": 1793613600 + i} for i in range(60)])
            r = await c.post(
                "/api/v1/interop/owntracks", content=body, headers={**auth, "X-Limit-U": "a", "X-Limit-D": "b"}
            )
            assert r.status_code == 413
            # bindings: a scanner may not bind, another tenant's operator may not bind or read ours
            path = "/api/v1/interop/devices/traccar:1/bindings"
            assert (await c.post(path, json={"conveyance_id": "TRL-1"}, headers=auth)).status_code == 403
            theirs = {"Authorization": f"Bearer {intruder}"}
            assert (
                await c.post(f"{path}?tenant=acme", json={"conveyance_id": "TRL-1"}, headers=theirs)
            ).status_code == 403
            assert (await c.get(f"{path}?tenant=acme", headers=theirs)).status_code == 403
            ours = {"Authorization": f"Bearer {operator}"}
            made = await c.post(
                path, json={"conveyance_id": "TRL-1", "valid_from": "2026-11-01T00:00:00Z"}, headers=ours
            )
            assert made.status_code == 201
            # globex binding the same device id gets its own, separate binding; ours is untouched
            assert (await c.post(path, json={"conveyance_id": "G-1"}, headers=theirs)).status_code == 201
            assert [b["conveyance_id"] for b in (await c.get(path, headers=ours)).json()["bindings"]] == ["TRL-1"]
            # a period inside an ended one overlaps: refused
            await c.delete(f"{path}?at=2026-11-10T00:00:00Z", headers=ours)
            clash = await c.post(
                path, json={"conveyance_id": "TRL-2", "valid_from": "2026-11-05T00:00:00Z"}, headers=ours
            )
            assert clash.status_code == 409 and "overlap" in clash.text
            # garbage of every kind is answered, never a 500
            for url in ("/api/v1/interop/traccar/positions", "/api/v1/interop/osmand", "/api/v1/interop/dcsa/v3/events",
                        "/api/v1/interop/epcis/capture", "/api/v1/interop/owntracks"):  # fmt: skip
                for junk in (b"", b"\x00\xff", b"[" * 5000, b'{"events": {}}', b"null", b'"x"', b"1e999"):
                    r = await c.post(url, content=junk, headers={**auth, "X-Limit-U": "a", "X-Limit-D": "b"})
                    assert r.status_code in (200, 400), (url, junk[:20], r.status_code, r.text[:200])
