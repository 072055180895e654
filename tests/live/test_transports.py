"""End to end: the scenarios published over HTTP, MQTT and Kafka give the alerts ``replay`` gives."""

from pathlib import Path

import aiomqtt
import httpx
import pytest

from sealguard.embedded.servers import KafkaBroker, MqttBroker
from sealguard.ingest.kafka import EventProducer, KafkaOptions
from tests.live.monitor import lines_of, replay_alerts, running, settings, settled, stored_alerts
from tests.scenario_folders import scenario_dirs

SCENARIOS = scenario_dirs()


def _all_lines() -> list[bytes]:
    out: list[bytes] = []
    for folder in SCENARIOS:
        out.extend(lines_of(folder / "events.jsonl"))
    return out


async def test_http_equals_replay(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    async with running(s) as monitor:
        lines = _all_lines()
        headers = {"Authorization": f"Bearer {monitor.token}"}
        async with httpx.AsyncClient(base_url=f"http://{s.http}", headers=headers, timeout=60) as client:
            for folder in SCENARIOS:
                body = b"[" + b",".join(_safe(lines_of(folder / "events.jsonl"))) + b"]"
                resp = await client.post("/api/v1/events", content=body)
                assert resp.status_code == 200, resp.text
        await settled(monitor, database_url, len(lines))
        assert await stored_alerts(database_url) == replay_alerts(lines)
        assert replay_alerts(lines), "the scenarios must raise alerts, or this comparison proves nothing"


def _safe(lines: list[bytes]) -> list[bytes]:
    """Lines that are JSON go into the array as they are; a line that is not JSON cannot be an array
    item, so it is sent as a JSON string (still invalid as an event, still dead-lettered)."""
    import orjson

    out = []
    for line in lines:
        try:
            orjson.loads(line)
            out.append(line)
        except orjson.JSONDecodeError:
            out.append(orjson.dumps(line.decode(errors="replace")))
    return out


async def test_mqtt_equals_replay(tmp_path: Path, database_url: str, mqtt_broker: MqttBroker) -> None:
    s = settings(tmp_path, database_url, mqtt_broker)
    lines = _all_lines()
    async with running(s) as monitor:
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="pub-" + s.mqtt_client_id) as client:
            for line in lines:
                await client.publish("sealguard/v1/default/events", line, qos=1)
        await settled(monitor, database_url, len(lines))
        assert await stored_alerts(database_url) == replay_alerts(lines)


@pytest.mark.parametrize("partitions", [1])
async def test_kafka_equals_replay(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker, kafka_broker: KafkaBroker, partitions: int
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = "events-" + tmp_path.name[-12:].replace("_", "-")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    s = settings(tmp_path, database_url, mqtt_broker, kafka_bootstrap=kafka_broker.bootstrap, kafka_topic=topic,
                 kafka_group="g-" + topic)  # fmt: skip
    lines = _all_lines()
    async with running(s) as monitor:
        async with EventProducer(KafkaOptions(kafka_broker.bootstrap, topic)) as producer:
            for line in lines:
                await producer.send(line, key=b"default:scenario")
            await producer.flush()
        await settled(monitor, database_url, len(lines))
        assert await stored_alerts(database_url) == replay_alerts(lines)
