"""Bad input over every transport lands in the dead-letter table with its reason; the rest goes on."""

from pathlib import Path

import aiomqtt
import httpx
import orjson

from sealguard.embedded.servers import KafkaBroker, MqttBroker
from sealguard.ingest.kafka import EventProducer, KafkaOptions
from tests.live.monitor import running, settings
from tests.live.servers import query, wait_for

GOOD = {"event_id": "ok-1", "kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "TRL-1",
        "lat": 27.5, "lon": -99.0}  # fmt: skip


async def letters(url: str) -> list[tuple[str, str, bytes, dict[str, object]]]:
    rows = await query(url, "SELECT source, reason, raw, origin FROM dead_letters ORDER BY id")
    return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]


async def test_bad_input_over_mqtt_kafka_and_http(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, kafka_broker: KafkaBroker
) -> None:
    topic = "dl-" + tmp_path.name[-10:].replace("_", "-")
    s = settings(tmp_path, database_url, mqtt_broker, kafka_bootstrap=kafka_broker.bootstrap, kafka_topic=topic,
                 kafka_group="g-" + topic)  # fmt: skip
    async with running(s) as monitor:
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="dl-" + s.mqtt_client_id) as client:
            await client.publish("sealguard/v1/default/events", b"{not json", qos=1)
            await client.publish("sealguard/v1/acme/events", orjson.dumps({**GOOD, "tenant": "other"}), qos=1)
            await client.publish("sealguard/v1/acme/events", orjson.dumps(GOOD), qos=1)
        async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
            await producer.send({**GOOD, "event_id": "k-1", "lat": 95.0})
            await producer.send({**GOOD, "event_id": "k-2"})
            await producer.flush()
        headers = {"Authorization": f"Bearer {monitor.token}"}
        async with httpx.AsyncClient(base_url=f"http://{s.http}", headers=headers, timeout=30) as api:
            bad_kind = {**GOOD, "event_id": "h-1", "kind": "seal.teleported"}
            resp = await api.post("/api/v1/events", content=orjson.dumps([bad_kind, {**GOOD, "event_id": "h-2"},
                                                                         {**GOOD, "event_id": "h-2"}]))  # fmt: skip
            body = resp.json()
            assert resp.status_code == 200
            assert [r["status"] for r in body["results"]] == ["rejected", "accepted", "duplicate"]
            assert body["results"][0]["reason"].startswith("kind: unknown kind 'seal.teleported'")
            resp = await api.post("/api/v1/events", content=b"\x00garbage")
            assert resp.status_code == 400 and resp.json()["results"][0]["status"] == "rejected"

        async def five() -> bool:  # mqtt 2, kafka 1, http 2
            return len(await letters(database_url)) >= 5

        await wait_for(five, what="five dead letters")
        found = await letters(database_url)
        by_source: dict[str, list[str]] = {}
        for source, reason, _raw, _origin in found:
            by_source.setdefault(source, []).append(reason)
        assert any(r.startswith("not valid JSON") for r in by_source["mqtt"])
        assert any("tenant mismatch" in r and "'other'" in r and "'acme'" in r for r in by_source["mqtt"])
        assert any(r.startswith("lat:") for r in by_source["kafka"])
        assert len(by_source["http"]) == 2
        assert (b"{not json") in [raw for _s, _r, raw, _o in found], "the raw bytes are kept"
        kafka_origin = next(o for s_, _r, _raw, o in found if s_ == "kafka")
        assert {"topic", "partition", "offset"} <= set(kafka_origin)
        stored = await query(database_url, "SELECT tenant, event_id FROM event_ids ORDER BY 2")
        assert ("acme", "ok-1") in stored and ("default", "k-2") in stored and ("default", "h-2") in stored


async def test_api_needs_a_valid_token(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s), httpx.AsyncClient(base_url=f"http://{s.http}", timeout=30) as api:
        assert (await api.get("/healthz")).status_code == 200
        assert (await api.get("/api/v1/alerts")).status_code == 401
        assert (await api.post("/api/v1/events", content=orjson.dumps(GOOD))).status_code == 401
        bad = {"Authorization": "Bearer sg_not-a-token"}
        assert (await api.get("/api/v1/alerts", headers=bad)).status_code == 401
        metrics = (await api.get("/metrics")).text
        assert "sealguard_processing_latency_seconds" in metrics
