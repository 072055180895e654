"""Poison and noise on the streams: a year-9999 event over Kafka and MQTT stores its neighbours and does
not wedge the partition; a tenant's future fix leaves another tenant's trip alone; and a fuzzer's
mutants of valid events, over each transport, are each either stored once or dead-lettered with a
reason while the stream goes on."""

import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import pytest

from sealguard.embedded.servers import KafkaBroker, MqttBroker
from sealguard.ingest.kafka import EventProducer, KafkaOptions
from sealguard.sim.demo import BUNDLED_SCENARIOS
from tests.live.monitor import replay_alerts, running, settings, settled, stored_alerts
from tests.live.servers import query, wait_for

SCENARIOS = BUNDLED_SCENARIOS
FIX = {"kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "TRL-1", "lat": 27.5,
       "lon": -99.0}  # fmt: skip


def fix(event_id: str, **extra: Any) -> bytes:
    return orjson.dumps({**FIX, "event_id": event_id, **extra})


async def counts(url: str) -> tuple[int, int]:
    rows = await query(url, "SELECT (SELECT count(*) FROM event_ids), (SELECT count(*) FROM dead_letters)")
    return int(rows[0][0]), int(rows[0][1])


async def reasons(url: str) -> dict[str, str]:
    return {r[0]: r[1] for r in await query(url, "SELECT coalesce(event_id, ''), reason FROM dead_letters")}


def topic_name(tmp_path: Path) -> str:
    return "hs-" + tmp_path.name[-12:].replace("_", "-")


@pytest.mark.parametrize("skew", [300.0, 0.0], ids=["skew-limit", "no-skew-limit"])
async def test_year_9999_over_kafka_and_mqtt_wedges_nothing(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, kafka_broker: KafkaBroker, skew: float
) -> None:
    topic = topic_name(tmp_path)
    s = settings(tmp_path, database_url, mqtt_broker, kafka_bootstrap=kafka_broker.bootstrap, kafka_topic=topic,
                 kafka_group="g-" + topic, max_future_skew=skew)  # fmt: skip
    far = "9999-12-31T23:59:59Z"
    async with running(s):
        async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
            for i in range(20):  # one key, so one partition, in this order
                raw = fix(f"k-{i}", occurred_at=far) if i == 5 else fix(f"k-{i}")
                await producer.send(raw, key=b"default:TRL-1")
            await producer.flush()
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="hs-" + topic) as mqtt:
            for i in range(20):
                raw = fix(f"m-{i}", occurred_at=far) if i == 5 else fix(f"m-{i}")
                await mqtt.publish("sealguard/v1/default/events", raw, qos=1)

        async def all_handled() -> bool:
            return sum(await counts(database_url)) == 40

        await wait_for(all_handled, what="every record stored or dead-lettered")
        stored = {r[0] for r in await query(database_url, "SELECT event_id FROM event_ids")}
        if skew:
            assert stored == {f"{p}-{i}" for p in "km" for i in range(20) if i != 5}
            found = await reasons(database_url)
            assert "clock skew" in found["k-5"] and "clock skew" in found["m-5"]
        else:  # stored, in the partition that ends at MAXVALUE, and nothing else hurt
            assert stored == {f"{p}-{i}" for p in "km" for i in range(20)}
        async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
            await producer.send(fix("k-after"), key=b"default:TRL-1")
            await producer.flush()

        async def after() -> bool:
            return bool(await query(database_url, "SELECT 1 FROM event_ids WHERE event_id = 'k-after'"))

        await wait_for(after, what="the partition still moving")


async def test_a_tenants_future_fix_leaves_another_tenants_trip_alone(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    lines = [x for x in (SCENARIOS / "clean-trip" / "events.jsonl").read_bytes().splitlines() if x.strip()]
    acme = [orjson.loads(x) | {"tenant": "acme"} for x in lines]
    half = len(acme) // 2
    last = acme[half - 1]["occurred_at"]
    ahead = last.replace("2026-11-02", "2026-11-05")  # three days ahead of acme, still in the past
    globex = {**FIX, "event_id": "g-ahead", "tenant": "globex", "occurred_at": ahead}
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        headers = {"Authorization": f"Bearer {monitor.token}"}
        async with httpx.AsyncClient(base_url=f"http://{s.http}", headers=headers, timeout=60) as api:
            assert (await api.post("/api/v1/events", json=acme[:half])).status_code == 200
            assert (await api.post("/api/v1/events", json=globex)).json()["accepted"] == 1
            assert (await api.post("/api/v1/events", json=acme[half:])).status_code == 200
        await settled(monitor, database_url, len(acme) + 1)
        # Exactly acme's own replay: no TRK-003/TRK-004 fired by globex's clock, no alert re-stamped.
        assert await stored_alerts(database_url) == replay_alerts([orjson.dumps(e) for e in acme])


# --- the fuzzer -------------------------------------------------------------------------------------------


def _mutants(base: list[dict[str, Any]], n: int, seed: int) -> list[bytes]:
    """``n`` inputs made from valid events by one mutation each: types, sizes, encodings, timestamps."""
    rng = random.Random(seed)
    stamps = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-02T08:00:00", "2026-11-02T23:59:60Z",
              "2026-11-02T08:00:00.123456789+14:00", "2026-11-02T08:00:00-12:00", "2026-02-30T00:00:00Z",
              "yesterday", "", "2026-11-02T08:00:00Z\u0000", 1_793_000_000, None,
              "１９７０-01-01T00:00:00Z"]  # fmt: skip
    values: list[Callable[[], Any]] = [
        lambda: None, lambda: True, lambda: -0.0, lambda: 1e308, lambda: -(2**63), lambda: 2**70, lambda: [],
        lambda: {}, lambda: "", lambda: "x" * rng.choice([129, 4096, 300_000]), lambda: "\u202eevil\u202c",
        lambda: "🚛" * 50, lambda: "\ud83d", lambda: {"$ne": 1}, lambda: [[[[[[1]]]]]],
    ]  # fmt: skip
    out: list[bytes] = []
    for i in range(n):
        event = dict(rng.choice(base))
        event["event_id"] = f"fz-{seed}-{i}"
        choice = rng.randrange(8)
        key = rng.choice(sorted(event))
        if choice == 0:
            event[key] = rng.choice(values)()
        elif choice == 1:
            event["occurred_at"] = rng.choice(stamps)
        elif choice == 2:
            del event[key]
        elif choice == 3:
            event[f"extra_{rng.randrange(5)}"] = rng.choice(values)()
        elif choice == 4:
            raw = orjson.dumps(event)
            cut = rng.randrange(len(raw))
            out.append(raw[:cut] + rng.choice([b"\xff", b"\xc3(", b"\x00", b"", b"}{"]) + raw[cut:])
            continue
        elif choice == 5:
            out.append(b"[" * 5000 + b"]" * 5000)  # deeper than any parser should follow
            continue
        elif choice == 6:
            out.append(orjson.dumps(event).replace(b'"kind"', b'"kind":"trip.closed","kind"'))  # duplicate key
            continue
        elif choice == 7:
            event["tenant"] = rng.choice(["", "a" * 300, "../../etc", "acme", None, 7])
        # json, not orjson: it writes what orjson refuses to (70-bit integers, lone surrogates as escapes).
        out.append(json.dumps(event).encode())
    return out


async def _at_least(count: Awaitable[int], n: int) -> bool:
    return await count >= n


def _base_events() -> list[dict[str, Any]]:
    lines = (SCENARIOS / "seal-mismatch-at-dock" / "events.jsonl").read_bytes().splitlines()
    return [orjson.loads(x) for x in lines if x.strip()]


@pytest.mark.parametrize("transport", ["http", "mqtt", "kafka"])
async def test_fuzzed_inputs_are_stored_once_or_dead_lettered(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, kafka_broker: KafkaBroker, transport: str
) -> None:
    topic = topic_name(tmp_path)
    inputs = _mutants(_base_events(), 150, seed={"http": 1, "mqtt": 2, "kafka": 3}[transport])
    s = settings(tmp_path, database_url, mqtt_broker, kafka_bootstrap=kafka_broker.bootstrap, kafka_topic=topic,
                 kafka_group="g-" + topic, http_rate_per_s=0)  # fmt: skip
    async with running(s) as monitor:
        if transport == "http":
            headers = {"Authorization": f"Bearer {monitor.token}"}
            async with httpx.AsyncClient(base_url=f"http://{s.http}", headers=headers, timeout=60) as api:
                for raw in inputs:
                    resp = await api.post("/api/v1/events", content=raw)
                    assert resp.status_code in (200, 400, 422), (resp.status_code, raw[:200], resp.text[:300])
        elif transport == "mqtt":
            async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="fz-" + topic) as mqtt:
                for raw in inputs:
                    await mqtt.publish("sealguard/v1/default/events", raw, qos=1)
        else:
            async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
                for raw in inputs:
                    await producer.send(raw, key=b"default:fuzz")
                await producer.flush()
        sentinel = fix("fz-sentinel", tenant="default")
        if transport == "http":
            async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=60,
                                         headers={"Authorization": f"Bearer {monitor.token}"}) as api:  # fmt: skip
                await api.post("/api/v1/events", content=sentinel)
        elif transport == "mqtt":
            async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="fz2-" + topic) as mqtt:
                await mqtt.publish("sealguard/v1/default/events", sentinel, qos=1)
        else:
            async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
                await producer.send(sentinel, key=b"default:fuzz")
                await producer.flush()

        async def sentinel_stored() -> bool:
            return bool(await query(database_url, "SELECT 1 FROM event_ids WHERE event_id = 'fz-sentinel'"))

        await wait_for(sentinel_stored, timeout=120, what="the stream still moving after the fuzz")

        async def accounted() -> int:
            stored, dead = await counts(database_url)
            return stored - 1 + dead + await _duplicates(database_url, inputs)

        # A refusal's dead letter is written beside the queue (roles.gateway): it may land after a later
        # input is stored, so wait until every input is accounted for, then check none twice.
        await wait_for(lambda: _at_least(accounted(), len(inputs)), timeout=120, what="every input accounted for")
        stored, dead = await counts(database_url)
        duplicates = await _duplicates(database_url, inputs)
        # Every input is accounted for exactly once: stored, dead-lettered, or a duplicate of one stored.
        assert stored - 1 + dead + duplicates == len(inputs), (stored, dead, duplicates, len(inputs))
        rows = await query(database_url, "SELECT reason FROM dead_letters")
        assert all(r[0] and r[0].strip() for r in rows), "a dead letter without a reason"


async def _duplicates(url: str, inputs: list[bytes]) -> int:
    """Inputs that parse to a valid event whose (tenant, event_id) another input already took."""
    from sealguard.ingest.admit import admit

    seen: set[tuple[str, str]] = set()
    dupes = 0
    stored = {(r[0], r[1]) for r in await query(url, "SELECT tenant, event_id FROM event_ids")}
    for raw in inputs:
        try:
            event = admit(raw, None).event
        except Exception:
            continue
        key = (event.tenant, event.event_id)
        if key in seen and key in stored:
            dupes += 1
        seen.add(key)
    return dupes
