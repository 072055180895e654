"""The second round of attacks on the doors, against ``sealguard up`` as its own process: a small body
that parses into millions of objects, a single enormous item, deep nesting, at every partner endpoint
and the native one; a facility-bound scanner at every door; garbage dead letters by the megabyte.

Each attack is measured where it hurts: the server's peak resident memory (VmHWM), the size of its
answer, and whether another tenant is answered meanwhile."""

import asyncio
import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from sealguard.embedded.servers import MqttBroker, free_port
from sealguard.store import dead_letters, device_bindings, tokens
from sealguard.store.events import DeadLetter
from sealguard.store.migrate import migrate
from tests.live.monitor import ready, start_up
from tests.live.servers import query, wait_for

MiB = 1024 * 1024
PEAK_GROWTH_MAX = 150 * MiB  # before: 4,826 MiB for 1.75 M empty DCSA items
ANSWER_MAX = 64 * 1024  # before: an 873 MB answer
OTHER_TENANT_MAX_S = 5.0  # a liveness bound (before: a 14.6 s stall), not a performance figure

ENDPOINTS = {
    "native": "/api/v1/events",
    "traccar-positions": "/api/v1/interop/traccar/positions",
    "traccar-events": "/api/v1/interop/traccar/events",
    "osmand": "/api/v1/interop/osmand?id=phone-1",
    "owntracks": "/api/v1/interop/owntracks?u=ann&d=phone",
    "dcsa-2.2": "/api/v1/interop/dcsa/v2/events",
    "dcsa-3.0": "/api/v1/interop/dcsa/v3/events",
    "epcis": "/api/v1/interop/epcis/capture",
}


def empty_items(n: int) -> bytes:
    return b"[" + b"{}," * (n - 1) + b"{}]"


def in_envelope(endpoint: str, items: bytes) -> bytes:
    """The items where each format carries its list (3.0 in ``events``, EPCIS in ``eventList``)."""
    if endpoint == "dcsa-3.0":
        return b'{"events":' + items + b"}"
    if endpoint == "epcis":
        return (b'{"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-11-02T08:00:00Z",'
                b'"epcisBody":{"eventList":' + items + b"}}")  # fmt: skip
    return items


def huge_item(endpoint: str) -> bytes:
    """One item of nearly the whole body limit (a 4.9 MiB remark), in each format's own shape."""
    blob = "x" * (49 * MiB // 10)
    event: dict[str, Any] = {
        "eventID": str(uuid.uuid4()), "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
        "eventDateTime": "2026-11-02T08:00:00Z", "eventCreatedDateTime": "2026-11-02T08:00:00Z",
        "equipmentEventTypeCode": "RSEA", "equipmentReference": "MSKU9070323", "changeRemark": blob,
        "seals": [{"sealNumber": f"S{i}", "sealSource": "CAR", "sealType": "BLT"} for i in range(900)],
    }  # fmt: skip
    if endpoint == "dcsa-2.2":
        return orjson.dumps([event])
    if endpoint == "dcsa-3.0":
        return orjson.dumps({"events": [{"eventID": event["eventID"], "remark": blob}]})
    if endpoint == "native":
        return orjson.dumps({"event_id": "big-1", "kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z",
                             "conveyance_id": "TRL-1", "lat": 1.0, "lon": 2.0, "note": blob})  # fmt: skip
    if endpoint.startswith("traccar"):
        position = {"fixTime": "2026-11-02T08:00:00Z", "latitude": 1.0, "longitude": 2.0}
        return orjson.dumps({"device": {"uniqueId": "t-1", "name": blob}, "position": position})
    if endpoint == "epcis":
        return in_envelope(endpoint, orjson.dumps([{"type": "ObjectEvent", "remark": blob}]))
    return orjson.dumps({"_type": "location", "tst": 1793613600, "lat": 1.0, "lon": 2.0, "desc": blob})


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def reset_peak(pid: int) -> None:
    """Linux: the high-water mark starts again from the current resident size (proc(5), clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def make_token(url: str, tenant: str, role: str, facility: str | None = None) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await tokens.create(conn, tenant, role, facility=facility, label=f"{tenant}-{role}")  # type: ignore[arg-type]


@asynccontextmanager
async def up(tmp: Path, database_url: str, broker: MqttBroker, **env: str) -> AsyncIterator[tuple[int, int]]:
    """``sealguard up`` as its own process: (its pid, its HTTP port)."""
    port = free_port()
    environ = {**os.environ, "SEALGUARD_DATABASE_URL": database_url, "SEALGUARD_MQTT_URL": broker.url,
               "SEALGUARD_MQTT_PROTOCOL": broker.protocol, "SEALGUARD_HTTP": f"127.0.0.1:{port}",
               "SEALGUARD_DATA_DIR": str(tmp / "data"), "SEALGUARD_LOG_LEVEL": "WARNING",
               "SEALGUARD_MQTT_CLIENT_ID": "sg-partners-" + uuid.uuid4().hex[:6], **env}  # fmt: skip
    proc = start_up(environ, tmp / "monitor.log")
    try:
        await wait_for(ready(port), timeout=60, what="monitor ready")
        yield proc.pid, port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except Exception:
            proc.kill()
            proc.wait(10)


async def attacked(base: str, pid: int, attacker: str, other: str, path: str, body: bytes) -> dict[str, Any]:
    """Send ``body`` as the attacker while the other tenant reads its alerts; what it cost."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        reset_peak(pid)
        before = peak_rss(pid)

        async def other_tenant() -> float:
            await asyncio.sleep(0.05)  # the attack is under way
            started = time.perf_counter()
            r = await c.get("/api/v1/alerts", headers={"Authorization": f"Bearer {other}"})
            assert r.status_code == 200, r.text
            return time.perf_counter() - started

        answer, waited = await asyncio.gather(
            c.post(path, content=body, headers={"Authorization": f"Bearer {attacker}",
                                                "Content-Type": "application/json"}),
            other_tenant(),
        )  # fmt: skip
    return {"status": answer.status_code, "answer_bytes": len(answer.content), "growth": peak_rss(pid) - before,
            "other_s": waited, "text": answer.text[:300]}  # fmt: skip


async def test_no_message_at_any_door_grows_the_server_or_stalls_another_tenant(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    async with up(tmp_path, database_url, mqtt_broker) as (pid, port):
        base = f"http://127.0.0.1:{port}"
        attacker = await make_token(database_url, "mallory", "scanner")
        other = await make_token(database_url, "acme", "operator")
        attacks = {"1.75M empty items": empty_items(1_747_593), "300k empty items": empty_items(300_000),
                   "99,999 empty items": empty_items(99_999), "deep nesting": deep(50_000)}  # fmt: skip
        seen: list[tuple[str, str, dict[str, Any]]] = []
        for name, endpoint in ENDPOINTS.items():
            bodies = {k: in_envelope(name, v) for k, v in attacks.items()} | {"one huge item": huge_item(name)}
            if len(bodies["1.75M empty items"]) > 5 * MiB:  # the envelope's bytes come off the items
                bodies["1.75M empty items"] = in_envelope(name, empty_items(1_747_593 - 50))
            for attack, body in bodies.items():
                assert len(body) <= 5 * MiB, (attack, len(body))
                cost = await attacked(base, pid, attacker, other, endpoint, body)
                print(
                    f"{name:18} {attack:20} -> {cost['status']} {cost['answer_bytes']:>7} B answer,"
                    f" peak +{cost['growth'] / MiB:6.1f} MiB, other tenant {cost['other_s']:.2f} s"
                )
                seen.append((name, attack, cost))
        for name, attack, cost in seen:
            assert cost["growth"] < PEAK_GROWTH_MAX, (name, attack, cost)
            assert cost["answer_bytes"] < ANSWER_MAX, (name, attack, cost)
            assert cost["other_s"] < OTHER_TENANT_MAX_S, (name, attack, cost)
            assert cost["status"] in (400, 413, 422), (name, attack, cost)  # 422: a native event over 1 MiB
        sizes = {(n, a): c["status"] for n, a, c in seen}
        assert sizes[("dcsa-2.2", "1.75M empty items")] == 413 and sizes[("native", "300k empty items")] == 413
        assert sizes[("dcsa-2.2", "99,999 empty items")] == 413  # the item count, before any item is read
        assert sizes[("dcsa-2.2", "one huge item")] == 413  # a 4.9 MiB item, which 900 seals would copy
        # what was dead-lettered stays small: a prefix of each input, with its size and digest
        rows = await query(database_url, "SELECT max(length(raw)), max(raw_size) FROM dead_letters")
        assert rows[0][0] is None or rows[0][0] <= 64 * 1024


async def test_a_facility_bound_scanner_is_held_to_its_facility_at_every_door(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """A scanner of DOCK-1 is refused an event at DOCK-2 natively; through DCSA, Traccar, OwnTracks and
    EPCIS its events are stamped with DOCK-1, and one naming another facility is dead-lettered."""
    async with up(tmp_path, database_url, mqtt_broker) as (_, port):
        scanner = await make_token(database_url, "dockco", "scanner", facility="DOCK-1")
        since = datetime(2026, 11, 1, tzinfo=UTC)
        async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
            for device, conveyance in (("traccar:lock-7", "TRL-7"), ("owntracks:ann/phone", "TRL-8")):
                await device_bindings.bind(conn, "dockco", device, conveyance, since, seal_number="SL7",
                                           created_by="test")  # fmt: skip
        auth = {"Authorization": f"Bearer {scanner}"}
        rmvd = {"eventID": str(uuid.uuid4()), "eventType": "EQUIPMENT", "eventClassifierCode": "ACT",
                "eventDateTime": "2026-11-02T08:00:00Z", "eventCreatedDateTime": "2026-11-02T08:00:00Z",
                "equipmentEventTypeCode": "RMVD", "equipmentReference": "MSKU9070323",
                "seals": [{"sealNumber": "SL123", "sealSource": "CAR", "sealType": "BLT"}]}  # fmt: skip
        traccar = {"device": {"uniqueId": "lock-7"}, "event": {"type": "alarm", "eventTime": "2026-11-02T08:01:00Z",
                   "attributes": {"alarm": "tampering"}}}  # fmt: skip
        owntracks = {"_type": "location", "tst": 1793613660, "lat": 27.5, "lon": -99.0}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as c:
            native = await c.post("/api/v1/events", json={"event_id": "n-1", "kind": "seal.removed",
                                  "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "MSKU9070323",
                                  "seal_number": "SL123", "reason": "delivered",
                                  "source": {"facility_id": "DOCK-2"}})  # fmt: skip
            assert native.status_code == 422, native.text
            answers = [
                await c.post("/api/v1/interop/dcsa/v2/events", content=orjson.dumps([rmvd])),
                await c.post("/api/v1/interop/traccar/events", content=orjson.dumps(traccar)),
                await c.post("/api/v1/interop/owntracks?u=ann&d=phone", content=orjson.dumps(owntracks)),
            ]
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        rows = await query(database_url, "SELECT payload->'source'->>'facility_id', payload->>'kind' FROM events"
                                         " WHERE tenant = 'dockco'")  # fmt: skip
        assert rows and all(f == "DOCK-1" for f, _ in rows), rows
        assert {"seal.removed", "seal.alarm", "gps.position"} <= {k for _, k in rows}, rows
        letters = await query(database_url, "SELECT reason FROM dead_letters WHERE tenant = 'dockco'")
        assert all("facility" not in r[0] or "DOCK-1" in r[0] for r in letters)


async def test_garbage_by_the_megabyte_keeps_a_bounded_dead_letter_under_a_quota(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """Before: 20 non-JSON 5 MiB bodies added 103 MiB to dead_letters in 5 s. Now each letter keeps a
    64 KiB prefix, the size and the SHA-256; past the sender's daily quota only a count is kept."""
    async with up(tmp_path, database_url, mqtt_broker, SEALGUARD_DEAD_LETTER_QUOTA="12") as (_, port):
        sender = await make_token(database_url, "junkco", "scanner")
        admin = await make_token(database_url, "*", "admin")
        garbage = os.urandom(5 * MiB - 100)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for _ in range(20):
                r = await c.post("/api/v1/events", content=garbage, headers={"Authorization": f"Bearer {sender}"})
                assert r.status_code == 400, r.text
            claimed = await c.post("/api/v1/events", headers={"Authorization": f"Bearer {admin}"},
                                   json={"event_id": "x", "kind": "nonsense", "tenant": "globex"})  # fmt: skip
            assert claimed.status_code == 422
        rows = await query(database_url, "SELECT length(raw), raw_size, raw_sha256 FROM dead_letters"
                                         " WHERE tenant = 'junkco'")  # fmt: skip
        assert len(rows) == 12  # the quota: the rest are counted
        assert all(r[0] == 64 * 1024 and r[1] == len(garbage) for r in rows)
        assert {r[2] for r in rows} == {hashlib.sha256(garbage).hexdigest()}
        usage = await query(database_url, "SELECT letters, dropped FROM dead_letter_usage WHERE tenant = 'junkco'")
        assert [(int(a), int(b)) for a, b in usage] == [(12, 8)]
        total = await query(database_url, "SELECT coalesce(sum(length(raw)), 0) FROM dead_letters")
        assert int(total[0][0]) < 2 * MiB
        assert await query(database_url, "SELECT tenant FROM dead_letters WHERE event_id = 'x'") == [("globex",)]


@pytest.mark.parametrize("age_days", [91])
async def test_old_dead_letters_are_pruned_by_the_retention(database_url: str, age_days: int) -> None:
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await migrate(conn)
        await conn.set_autocommit(False)
        async with conn.transaction():
            old = DeadLetter(now - timedelta(days=age_days), "http", {"token_id": 999_001}, "prunco", "old", "r", b"x")
            new = DeadLetter(now, "http", {"token_id": 999_001}, "prunco", "new", "r", b"y")
            await dead_letters.write_dead_letters(conn, [old, new])
        async with conn.transaction():
            await dead_letters.prune(conn, now, timedelta(days=90))
    left = await query(database_url, "SELECT event_id FROM dead_letters WHERE tenant = 'prunco'")
    assert left == [("new",)]


async def test_every_endpoint_has_a_body_limit_declared_or_chunked(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """FastAPI reads a JSON body whole before validating it: a 50 MiB body to an alert action, a silence
    or a device binding, declared or chunked, is refused at 5 MiB, and the server does not grow."""
    async with up(tmp_path, database_url, mqtt_broker) as (pid, port):
        admin = await make_token(database_url, "acme", "admin")
        auth = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        paths = [f"/api/v1/alerts/{uuid.uuid4()}/comment", "/api/v1/silences",
                 "/api/v1/interop/devices/x/bindings"]  # fmt: skip

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"note": "'
            for _ in range(50):
                yield b"x" * MiB
            yield b'"}'

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for path in paths:
                reset_peak(pid)
                before = peak_rss(pid)
                for body in (b"x" * (6 * MiB), chunks()):
                    try:
                        status = (await c.post(path, content=body, headers=auth)).status_code
                    except httpx.HTTPError:
                        status = -1  # the server answered 413 and closed the connection while the body came
                    assert status in (413, -1), (path, status)  # not read whole, then judged (400, 404, 422)
                assert peak_rss(pid) - before < 30 * MiB, path
            assert (await c.get("/healthz")).status_code == 200


async def test_one_token_cannot_hold_open_streams_without_end(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """Each live stream holds a queue and a listener: twenty per token or person, then 429."""
    async with up(tmp_path, database_url, mqtt_broker) as (_, port):
        operator = await make_token(database_url, "acme", "operator")
        other = await make_token(database_url, "acme", "operator")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     limits=httpx.Limits(max_connections=50)) as c:  # fmt: skip
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(20):
                    r = await stack.enter_async_context(
                        c.stream("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {operator}"})
                    )
                    assert r.status_code == 200
                extra = await c.get("/api/v1/stream", headers={"Authorization": f"Bearer {operator}"})
                assert extra.status_code == 429
                async with c.stream("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {other}"}) as theirs:
                    assert theirs.status_code == 200  # another token is not held by it

            async def one_more() -> bool:  # the streams closed: their places are free again
                async with c.stream("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {operator}"}) as r:
                    return r.status_code == 200

            await wait_for(one_more, what="a closed stream's place freed")
