"""Faults: the monitor killed mid-stream, the broker restarted, the database away for a while.
In each case every event ends up stored exactly once and the alerts equal ``replay``'s."""

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import aiomqtt
import httpx
import pytest

from sealguard.alerts.audit import verify
from sealguard.embedded.servers import EmbeddedPostgres, MqttBroker, free_port
from sealguard.store.alerts import history
from tests.live.monitor import ready, replay_alerts, running, settings, settled, start_up, stored_alerts
from tests.live.servers import query, wait_for
from tests.live.simulated import fleet_lines


async def publish(port: int, lines: list[bytes], client_id: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id) as client:
        for line in lines:
            await client.publish("sealguard/v1/default/events", line, qos=1)


async def stored_count(url: str) -> int:
    return int((await query(url, "SELECT count(*) FROM event_ids"))[0][0])


async def no_doubles(url: str) -> None:
    rows = await query(url, "SELECT alert_id, count(*) FROM alert_history WHERE action = 'opened' GROUP BY 1")
    assert rows and all(n == 1 for _, n in rows), "an alert was opened twice"
    async with await __import__("psycopg").AsyncConnection.connect(url, options="-c timezone=UTC") as conn:
        assert verify(await history(conn)) is None


async def test_sigkill_mid_stream_loses_nothing_and_doubles_nothing(
    tmp_path: Path, database_url: str, mqtt_broker: MqttBroker
) -> None:
    if mqtt_broker.kind == "amqtt":
        pytest.skip("amqtt drops QoS 1 deliveries in flight to a killed client (README): this promise needs Mosquitto")
    lines = fleet_lines(hours=10)  # long enough that a kill at a fifth lands mid-stream on a fast machine
    port = free_port()
    env = {**os.environ, "SEALGUARD_DATABASE_URL": database_url, "SEALGUARD_MQTT_URL": mqtt_broker.url,
           "SEALGUARD_MQTT_PROTOCOL": mqtt_broker.protocol, "SEALGUARD_HTTP": f"127.0.0.1:{port}",
           "SEALGUARD_DATA_DIR": str(tmp_path / "data"), "SEALGUARD_CHECKPOINT_EVERY_S": "0.3",
           "SEALGUARD_MQTT_CLIENT_ID": "sg-kill-" + uuid.uuid4().hex[:6], "SEALGUARD_LOG_LEVEL": "WARNING"}  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        return start_up(env, tmp_path / "monitor.log")

    proc = start()
    try:
        await wait_for(ready(port), what="monitor ready")
        publisher = asyncio.create_task(publish(mqtt_broker.port, lines, "pub-kill-" + uuid.uuid4().hex[:6]))

        async def partway() -> bool:
            return await stored_count(database_url) >= len(lines) // 5

        await wait_for(partway, what="a fifth of the stream stored")
        checkpoints = int((await query(database_url, "SELECT count(*) FROM partition_checkpoints"))[0][0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert await stored_count(database_url) < len(lines), "killed too late to prove anything"
        await publisher
        proc = start()
        await wait_for(ready(port), what="monitor ready again")

        async def all_stored() -> bool:
            return await stored_count(database_url) == len(lines)

        await wait_for(all_stored, timeout=120, what="every event stored after the restart")
        expected = replay_alerts(lines)

        async def alerts_match() -> bool:  # timers due at the last event time fire within a tick
            return await stored_alerts(database_url) == expected

        await wait_for(alerts_match, timeout=30, what="stored alerts equal to the replay's")
        await no_doubles(database_url)
        assert checkpoints >= 1, "the restart should have exercised checkpoint + tail recovery"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_broker_restart_resumes_by_itself(tmp_path: Path, database_url: str) -> None:
    broker = MqttBroker(tmp_path / "broker").start()
    lines = fleet_lines(hours=3)
    half = len(lines) // 2
    try:
        s = settings(tmp_path, database_url, broker)
        async with running(s) as monitor:
            await publish(broker.port, lines[:half], "pub-a")

            async def first_half() -> bool:
                return await stored_count(database_url) == half

            await wait_for(first_half, what="first half stored")
            broker.stop()
            await wait_for(_not_connected(monitor), what="monitor notices the broker is gone")
            broker.start()
            await publish(broker.port, lines[half:], "pub-b")
            await settled(monitor, database_url, len(lines))
            assert await stored_alerts(database_url) == replay_alerts(lines)
    finally:
        broker.stop()


def _not_connected(monitor: object) -> object:
    async def check() -> bool:
        return not monitor.sources[0].connected  # type: ignore[attr-defined]

    return check


async def test_database_outage_holds_ingest_then_catches_up(tmp_path: Path, mqtt_broker: MqttBroker) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg").start()
    lines = fleet_lines(hours=3)
    third = len(lines) // 3
    try:
        s = settings(tmp_path, pg.url, mqtt_broker)
        async with running(s) as monitor:
            pub = "pub-db-" + uuid.uuid4().hex[:6]
            await publish(mqtt_broker.port, lines[:third], pub)

            async def first() -> bool:
                return await stored_count(pg.url) == third

            await wait_for(first, what="first third stored")
            await asyncio.to_thread(pg.stop)
            await publish(mqtt_broker.port, lines[third:], pub)
            async with httpx.AsyncClient(base_url=f"http://{s.http}", timeout=60) as api:

                async def not_ready() -> bool:
                    return (await api.get("/readyz")).status_code == 503

                await wait_for(not_ready, what="readyz reports the database down")
                resp = await api.post("/api/v1/events", headers={"Authorization": f"Bearer {monitor.token}"},
                                      content=lines[0])  # fmt: skip
                assert resp.status_code == 503, resp.text  # never "accepted" while nothing can be stored
            assert monitor.metrics.registry.get_sample_value("sealguard_database_up") == 0
            await asyncio.to_thread(pg._pg_ctl_start)
            await settled(monitor, pg.url, len(lines))
            assert await stored_alerts(pg.url) == replay_alerts(lines)
            await no_doubles(pg.url)
    finally:
        pg.stop("immediate")
