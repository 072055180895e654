"""Every API endpoint tried without a token, with a token of another tenant, and with a lower role: no
request reads or changes another tenant's data, and each role gets only what it may."""

import io
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from PIL import Image

from sealguard.embedded.servers import MqttBroker
from tests.live.alerting import merged, post, token_for
from tests.live.monitor import running, settings
from tests.live.servers import query

#: Open to anyone by design: health, and the steps of signing in (tested in test_signin.py).
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/auth/methods"), ("POST", "/auth/login"),
          ("GET", "/auth/oidc/start"), ("GET", "/auth/oidc/callback"),
          ("GET", "/api/v1/site-key")}  # fmt: skip  # the key packages are checked with: public by design
#: The least role each endpoint needs (the rest of the spec must be listed here, so a new endpoint
#: without a decision fails this test).
NEEDS = {
    ("POST", "/api/v1/events"): "scanner",
    ("GET", "/api/v1/conveyances/{conveyance_id}"): "scanner",
    ("GET", "/api/v1/reference/inspection-points"): "scanner",
    ("GET", "/api/v1/session"): "scanner",
    ("POST", "/auth/logout"): "scanner",
    ("POST", "/api/v1/silences"): "admin",
    ("DELETE", "/api/v1/silences/{silence_id}"): "admin",
    ("POST", "/api/v1/facilities"): "admin",
    # partner formats: what devices and partners send, with a scanner (device) token
    **{
        ("POST", f"/api/v1/interop/{p}"): "scanner"
        for p in (
            "traccar/positions",
            "traccar/events",
            "osmand",
            "owntracks",
            "dcsa/v2/events",
            "dcsa/v3/events",
            "epcis/capture",
        )
    },
    ("GET", "/api/v1/interop/osmand"): "scanner",
    # a dock attaches photos to its checks and sees what it took
    ("POST", "/api/v1/photos"): "scanner",
    ("GET", "/api/v1/photos/{photo_id}"): "scanner",
}
#: Endpoints that write into the token's own tenant whatever it is: another tenant's token is answered
#: (an empty body is a 400) but never with acme's data.
OWN_TENANT_WRITES = {p for (m, p), role in NEEDS.items() if p.startswith("/api/v1/interop/") and role == "scanner"}
OWN_TENANT_WRITES.add("/auth/logout")  # ends the caller's own session, if any
RANK = {"none": -1, "scanner": 0, "operator": 1, "admin": 2}


async def test_roles_and_tenants_on_every_endpoint(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker, http_rate_per_s=0)
    async with running(s) as monitor:
        base = f"http://{s.http}"
        lines = merged("seal-mismatch-at-dock", tenant="acme")
        assert (await post(base, monitor.token, "/api/v1/events", [orjson.loads(x) for x in lines])).status_code == 200
        tokens = {
            "scanner": await token_for(database_url, "acme", "scanner", "scan-1"),
            "operator": await token_for(database_url, "acme", "operator", "op-1"),
            "admin": await token_for(database_url, "acme", "admin", "ad-1"),
            "other": await token_for(database_url, "globex", "admin", "intruder"),
        }
        silence = await post(base, tokens["admin"], "/api/v1/silences",
                             {"matchers": ['rule_id="X"'], "reason": "test", "duration_minutes": 5})  # fmt: skip
        (alert_id,) = (await query(database_url, "SELECT alert_id::text FROM alerts WHERE tenant = 'acme' LIMIT 1"))[0]
        jpeg = io.BytesIO()
        Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            photo = await c.post("/api/v1/photos", params={"event_id": "dock-1"}, content=jpeg.getvalue(),
                                 headers={"Authorization": f"Bearer {tokens['scanner']}"})  # fmt: skip
        assert photo.status_code == 201, photo.text
        ids = {"alert_id": alert_id, "silence_id": silence.json()["silence_id"], "conveyance_id": "TRL-1002",
               "trip_id": "T-2", "verb": "comment", "device_id": "traccar:1",
               "photo_id": photo.json()["photo_id"]}  # fmt: skip
        async with httpx.AsyncClient() as client:
            spec = (await client.get(f"{base}/api/v1/openapi.json")).json()
        operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
        assert len(operations) >= 18
        bodies: dict[str, Any] = {"/api/v1/alerts/{alert_id}/{verb}": {"note": "looked"}}
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            for method, path in operations:
                if (method, path) in PUBLIC:
                    continue
                url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
                params = {"conveyance_id": "TRL-1002"} if path.endswith("/close") else {}
                body = bodies.get(path)

                async def call(token: str | None, *, url: str = url, method: str = method, params: Any = params,
                               body: Any = body) -> httpx.Response:  # fmt: skip
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    if url.endswith("/stream"):  # endless by design: the status line is what matters here
                        async with c.stream(method, url, headers=headers) as resp:
                            return httpx.Response(resp.status_code, text="{}")
                    return await c.request(method, url, headers=headers, params=params, json=body)

                assert (await call(None)).status_code == 401, (method, path)
                need = NEEDS.get((method, path), "operator")
                for role in ("scanner", "operator"):
                    if RANK[role] < RANK[need]:
                        r = await call(tokens[role])
                        assert r.status_code == 403, (method, path, role, r.status_code)
                r = await call(tokens["other"])
                # another tenant: refused or not found, and never any of acme's data
                if (
                    path in ("/api/v1/events", "/api/v1/trips", "/api/v1/facilities", "/api/v1/silences")
                    and method == "POST"
                ) or path in OWN_TENANT_WRITES:
                    assert "acme" not in r.text, (method, path, r.text[:300])
                    continue
                if r.status_code == 200:
                    data = r.json()
                    assert "acme" not in r.text, (method, path, r.text[:300])
                    lists = (
                        "events",
                        "alerts",
                        "actions",
                        "conveyances",
                        "trips",
                        "silences",
                        "facilities",
                        "bindings",
                    )
                    assert not any(data.get(k) for k in lists), (method, path, r.text[:300])
                else:
                    assert r.status_code in (403, 404, 409, 422), (method, path, r.status_code, r.text[:300])
            # and the acme tokens may name only their own tenant
            r = await c.get("/api/v1/alerts", params={"tenant": "globex"},
                            headers={"Authorization": f"Bearer {tokens['operator']}"})  # fmt: skip
            assert r.status_code == 403


async def test_trips_and_facilities_through_the_api(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        base = f"http://{s.http}"
        operator = await token_for(database_url, "acme", "operator", "op-2")
        admin = await token_for(database_url, "acme", "admin", "ad-2")
        place = {"facility_id": "DC-1", "center": [-99.0, 27.5], "radius_m": 400}
        dest = {"facility_id": "DC-2", "center": [-99.0, 28.5], "radius_m": 400}
        assert (await post(base, admin, "/api/v1/facilities", {"place": place})).status_code == 201
        plan = {
            "trip_id": "T-9",
            "conveyance_id": "TRL-9",
            "seal_numbers": ["SG1"],
            "origin": place,
            "destination": dest,
            "route": [[-99.0, 27.5], [-99.0, 28.5]],
        }
        created = await post(base, operator, "/api/v1/trips", plan)
        assert created.status_code == 201, created.text
        bad = await post(base, operator, "/api/v1/trips", {**plan, "seal_numbers": "SG1"})
        assert bad.status_code == 422 and "seal_numbers" in bad.text
        replanned = await post(base, operator, "/api/v1/trips", {**plan, "seal_numbers": ["SG1", "SG2"]})
        assert replanned.status_code == 201
        headers = {"Authorization": f"Bearer {operator}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as c:
            trip = (await c.get("/api/v1/trips/T-9")).json()
            assert trip["status"] == "planned" and trip["plan"]["seal_numbers"] == ["SG1", "SG2"]
            conv = (await c.get("/api/v1/conveyances/TRL-9")).json()
            assert conv["trip"]["expected_seals"] == ["SG1", "SG2"] and conv["trip"]["route"]
            facilities = (await c.get("/api/v1/facilities")).json()["facilities"]
            assert [f["facility_id"] for f in facilities] == ["DC-1"]
            closed = await c.post("/api/v1/trips/T-9/close", params={"conveyance_id": "TRL-9"})
            assert closed.status_code == 200, closed.text
            listed = (await c.get("/api/v1/trips", params={"status": "closed"})).json()["trips"]
            assert [(t["trip_id"], t["status"]) for t in listed] == [("T-9", "closed")]
            assert (await c.get("/api/v1/conveyances/TRL-9")).json()["trip"] is None


async def test_scanner_bound_to_a_facility(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    from sealguard.store import tokens as token_store

    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            scanner = await token_store.create(conn, "acme", "scanner", facility="DOCK-7", label="gun-1")
        event = {
            "kind": "seal.issued",
            "occurred_at": "2026-11-02T06:00:00Z",
            "seal_number": "SG1",
            "facility_id": "DOCK-7",
        }
        mine = await post(f"http://{s.http}", scanner, "/api/v1/events", {**event, "event_id": "e-mine"})
        other = await post(f"http://{s.http}", scanner, "/api/v1/events",
                           {**event, "event_id": "e-other", "source": {"facility_id": "DOCK-9"}})  # fmt: skip
        assert mine.json()["accepted"] == 1, mine.text
        assert other.json()["results"][0]["reason"].startswith(
            "source.facility_id: this sender is bound to facility 'DOCK-7'"
        )
        stored = await query(
            database_url, "SELECT payload->'source'->>'facility_id' FROM events WHERE event_id = 'e-mine'"
        )
        assert stored == [("DOCK-7",)]
        dead = await query(database_url, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'source.facility_id%%'")
        assert dead[0][0] == 1
