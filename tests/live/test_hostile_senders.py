"""Partner senders as they really send: a phone's burst of buffered OwnTracks fixes over MQTT, applied in
the order it sent them; a phone whose token may not publish on the topic it uses, dead-lettered (MQTT
3.1.1 acknowledges what a broker drops, so it is kept rather than lost); a plan heavier than a plan may
be, refused with the reason while another tenant goes on."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import psycopg
import pytest

from sealguard.embedded.servers import MqttBroker
from sealguard.store import device_bindings, tokens
from tests.live.alerting import token_for
from tests.live.embedded import BROKERS, embedded
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

T0 = 1793610000  # 2026-11-02T09:00:00Z


async def admitted(port: int, token: str) -> bool:
    """The embedded broker lets ``token`` log in (credentials follow the tokens within a second)."""
    try:
        async with aiomqtt.Client("127.0.0.1", port, username="probe", password=token, identifier="probe"):
            return True
    except aiomqtt.MqttError:
        return False


@pytest.mark.parametrize("run", range(3))
async def test_a_phones_burst_is_applied_in_the_order_it_was_sent(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, run: int
) -> None:
    """Before: 3 to 11 of 31 buffered fixes were applied after later ones, in every run."""
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
            await device_bindings.bind(conn, "default", "owntracks:anna/phone", "TRL-900",
                                       datetime(2026, 11, 1, tzinfo=UTC),
                                       seal_number=None, created_by="test")  # fmt: skip
        topic = "sealguard/v1/default/owntracks/anna/phone"
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier=f"burst-{run}") as phone:
            for i in range(31):
                body = {"_type": "location", "tst": T0 + 60 * i, "lat": 29.43, "lon": -98.47 + 0.01 * i, "vel": 60}
                await phone.publish(topic, orjson.dumps(body), qos=1)

        async def all_stored() -> bool:
            rows = await query(database_url, "SELECT count(*) FROM events WHERE conveyance_id = 'TRL-900'")
            return int(rows[0][0]) == 31

        await wait_for(all_stored, what="the burst stored")
        rows = await query(database_url, "SELECT occurred_at FROM events WHERE conveyance_id = 'TRL-900' ORDER BY seq")
        times = [r[0] for r in rows]
        assert times == sorted(times), "a fix was applied after a later one"


@pytest.mark.parametrize("broker", BROKERS)
async def test_a_publish_the_broker_may_not_take_is_dead_lettered_not_lost(
    tmp_path: Path, database_url: str, broker: str
) -> None:
    s = embedded(tmp_path, database_url, broker)
    async with running(s):
        port = s.mqtt_embedded_port
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            phone, phone_id = await tokens.create_with_id(conn, "acme", "scanner", label="anna-phone")
            _, other_id = await tokens.create_with_id(conn, "acme", "scanner", label="someone-else")

        await wait_for(lambda: admitted(port, phone), what="the phone's token admitted")
        body = orjson.dumps({"_type": "location", "tst": T0, "lat": 29.43, "lon": -98.47})
        async with aiomqtt.Client("127.0.0.1", port, username="phone", password=phone, identifier="anna") as c:
            await c.publish(f"owntracks/sg-{other_id}/phone", body, qos=1)  # another token's user: not its own
            await c.publish("sealguard/v1/globex/events", b'{"event_id": "x"}', qos=1)  # another tenant

        async def letters() -> list[tuple[str, str]]:
            return [(r[0], r[1]) for r in await query(database_url, "SELECT coalesce(tenant, ''), reason"
                                                                    " FROM dead_letters ORDER BY id")]  # fmt: skip

        async def both() -> bool:
            return len(await letters()) >= 2

        await wait_for(both, what="both refused publishes dead-lettered")
        got = await letters()
        assert [t for t, _ in got] == ["acme", "acme"]
        assert f"may not publish on topic 'owntracks/sg-{other_id}/phone'" in got[0][1]
        assert f"'sg-{phone_id}'" in got[0][1]
        assert "sealguard/v1/globex/events" in got[1][1]


async def test_a_plan_heavier_than_a_plan_may_be_is_refused_with_the_reason(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    """Before: a 220,000-point route was accepted, and slowed fixes and another tenant's posts."""
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s):
        heavy = await token_for(database_url, "heavy", "operator", "heavy-ops")
        other = await token_for(database_url, "acme", "scanner", "acme-dock")
        place = {"facility_id": "O", "center": [-99.0, 27.5], "radius_m": 500}
        route = [[-99.0 + i * 1e-5, 27.5] for i in range(220_000)]
        plan: dict[str, Any] = {"event_id": "big-plan", "kind": "trip.planned", "occurred_at": "2026-11-02T08:00:00Z",
                "conveyance_id": "TRL-1", "trip_id": "T-1", "seal_numbers": ["SG1"], "origin": place,
                "destination": {**place, "facility_id": "D"},
                "route": route}  # fmt: skip
        fix = {"event_id": "acme-1", "kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z",
               "conveyance_id": "TRL-2", "lat": 27.5, "lon": -99.0}  # fmt: skip
        async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=60) as c:
            big, theirs = await asyncio.gather(
                c.post("/api/v1/events", content=orjson.dumps(plan), headers={"Authorization": f"Bearer {heavy}"}),
                c.post("/api/v1/events", json=fix, headers={"Authorization": f"Bearer {other}"}),
            )
            assert theirs.status_code == 200 and theirs.json()["accepted"] == 1
            assert big.status_code == 413 and "JSON objects and arrays" in big.text  # refused before parsing
            plan["route"] = route[:20_000]  # under the body's bounds, over a plan's
            heavier = await c.post("/api/v1/events", json=plan, headers={"Authorization": f"Bearer {heavy}"})
            assert heavier.status_code == 422, heavier.text
            assert "route: List should have at most 10000 items" in heavier.json()["results"][0]["reason"]
            plan["route"] = [[-99.0 + i * 1e-4, 27.5] for i in range(10_000)]
            plan["event_id"] = "largest-allowed-plan"
            ok = await c.post("/api/v1/events", json=plan, headers={"Authorization": f"Bearer {heavy}"})
            assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.text


@pytest.mark.parametrize("broker", BROKERS)
async def test_a_facility_bound_scanner_is_held_to_its_facility_over_mqtt(
    tmp_path: Path, database_url: str, broker: str
) -> None:
    """The MQTT door applies the HTTP doors' check: a DOCK-1 scanner's events carry DOCK-1, one naming
    DOCK-2 is dead-lettered, and it cannot publish for DOCK-2 by choosing DOCK-2's topic."""
    s = embedded(tmp_path, database_url, broker)
    async with running(s):
        port = s.mqtt_embedded_port
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            dock, dock_id = await tokens.create_with_id(conn, "acme", "scanner", facility="DOCK-1", label="dock-1")
            async with conn.transaction():
                await device_bindings.bind(conn, "acme", f"owntracks:sg-{dock_id}/phone", "TRL-5",
                                           datetime(2026, 11, 1, tzinfo=UTC), seal_number=None,
                                           created_by="test")  # fmt: skip

        await wait_for(lambda: admitted(port, dock), what="the dock's token admitted")

        def seal(event_id: str, facility: str | None) -> bytes:
            event = {"event_id": event_id, "kind": "seal.verified", "occurred_at": "2026-11-02T08:00:00Z",
                     "conveyance_id": "TRL-5", "seal_number": "SG1", "intact": True,
                     "steps": {"view": True, "verify": True, "tug": True, "twist_turn": True}}  # fmt: skip
            if facility:
                event["source"] = {"facility_id": facility}
            return orjson.dumps(event)

        fix = orjson.dumps({"_type": "location", "tst": T0, "lat": 29.43, "lon": -98.47})
        async with aiomqtt.Client("127.0.0.1", port, username="d", password=dock, identifier="dock-1") as c:
            await c.publish("sealguard/v1/acme/events", seal("no-facility", None), qos=1)
            await c.publish("sealguard/v1/acme/events", seal("names-dock-2", "DOCK-2"), qos=1)
            await c.publish("sealguard/v1/acme/facility/DOCK-2/events", seal("on-dock-2s-topic", None), qos=1)
            await c.publish(f"owntracks/sg-{dock_id}/phone", fix, qos=1)

        async def all_handled() -> bool:
            rows = await query(
                database_url, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)"
            )
            return int(rows[0][0]) >= 4

        await wait_for(all_handled, what="every publish stored or dead-lettered")
        stored = await query(database_url, "SELECT payload->>'event_id', payload->'source'->>'facility_id', kind"
                                           " FROM events ORDER BY seq")  # fmt: skip
        assert [(r[0] if r[2] != "gps.position" else "fix", r[1]) for r in stored] == [
            ("no-facility", "DOCK-1"), ("fix", "DOCK-1")]  # fmt: skip
        dead = [r[0] for r in await query(database_url, "SELECT reason FROM dead_letters ORDER BY id")]
        assert any("bound to facility 'DOCK-1', not 'DOCK-2'" in r for r in dead), dead
        assert any("may not publish on topic 'sealguard/v1/acme/facility/DOCK-2/events'" in r for r in dead), dead
