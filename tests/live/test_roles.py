"""The split roles against real servers: gateways and workers over tansu (six partitions) and
PostgreSQL give exactly the alerts one engine gives on the same input."""

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import pytest

from bench.fleet import fleet_lines
from sealguard.embedded.receivers import HttpReceiver
from sealguard.embedded.servers import KafkaBroker, MqttBroker, free_port
from sealguard.ingest.kafka import KafkaOptions, ensure_topic
from sealguard.roles.gateway import Gateway
from sealguard.roles.monitor import migrate_url, open_pool
from sealguard.roles.worker import Worker
from sealguard.stream.log import KafkaLog
from tests.live.alerting import delivered_ok, hook_only, post, settled_outbox, token_for
from tests.live.browser import SHOTS, launch, recent_trip, sign_in
from tests.live.monitor import lines_of, ready
from tests.live.people import signed_in
from tests.live.roles import advance_all, feed, handled, replay_keys, role_env, stored_keys, with_tenant
from tests.live.servers import query, wait_for
from tests.scenario_folders import scenario_dirs

PARTITIONS = 6


@contextlib.asynccontextmanager
async def roles(database_url: str, options: KafkaOptions, *, gateways: int, workers: int,
                **worker_args: Any) -> AsyncIterator[tuple[list[Gateway], list[Worker]]]:  # fmt: skip
    await migrate_url(database_url)
    await ensure_topic(options, PARTITIONS)
    pools = [open_pool(database_url) for _ in range(gateways + workers)]
    for pool in pools:
        await pool.open(wait=True)
    fwd = [Gateway(pools[i], KafkaLog(options)) for i in range(gateways)]
    for g in fwd:
        await g.start()
    wk = [Worker(pools[gateways + i], options, owner=f"w{i}", idle_advance_after=3600, **worker_args)
          for i in range(workers)]  # fmt: skip
    tasks = [asyncio.create_task(w.run(), name=f"worker-{i}") for i, w in enumerate(wk)]
    try:
        yield fwd, wk
    finally:
        for w in wk:
            w.request_stop()
        for t in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 15)
        for g in fwd:
            await g.stop()
        for pool in pools:
            await pool.close()


def _options(kafka: KafkaBroker) -> KafkaOptions:
    return KafkaOptions(
        kafka.bootstrap, topic="events-" + uuid.uuid4().hex[:8], group_id="workers-" + uuid.uuid4().hex[:6]
    )


async def test_scenarios_and_a_fleet_through_two_gateways_and_three_workers_give_the_alerts_of_replay(
    database_url: str, kafka_broker: KafkaBroker
) -> None:
    lines: list[bytes] = []
    for folder in scenario_dirs():
        lines += with_tenant(lines_of(folder / "events.jsonl"), folder.name)
    lines += with_tenant(fleet_lines(450, facility_count=50, seed=5), "fleet")
    assert len(lines) >= 50_000
    expected, end = replay_keys(lines)
    options = _options(kafka_broker)
    async with roles(database_url, options, gateways=2, workers=3) as (gateways, _workers):
        results = await feed(gateways, lines)
        assert len(results) == len(lines)
        await handled(database_url, options)
        await advance_all(options, end)
        await handled(database_url, options)
        owners = await query(database_url, "SELECT count(DISTINCT owner) FROM partition_offsets WHERE topic = %s",
                             options.topic)  # fmt: skip
        assert owners[0][0] == 3  # the partitions really were split over three workers
        got = await stored_keys(database_url)
    assert {r[1] for r in expected} >= {"SEAL-005", "SEAL-006", "TRK-006"}
    assert got == expected, (sorted(expected - got)[:5], sorted(got - expected)[:5])


# --- the roles as processes ---------------------------------------------------------------------------


def _start(role: str, env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "sealguard.cli", role], env=env, stdout=out, stderr=out)


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_worker_killed_and_a_fourth_added_mid_stream_lose_nothing_and_double_nothing(
    tmp_path: Path, database_url: str, kafka_broker: KafkaBroker
) -> None:
    hook = await HttpReceiver().start()
    alerting = hook_only(tmp_path, hook)
    options = _options(kafka_broker)
    await migrate_url(database_url)
    await ensure_topic(options, PARTITIONS)
    lines: list[bytes] = []
    for folder in scenario_dirs():
        lines += with_tenant(lines_of(folder / "events.jsonl"), folder.name)
    lines += with_tenant(fleet_lines(150, facility_count=20, seed=11), "fleet")
    expected, end = replay_keys(lines)
    third = len(lines) // 3
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2", "w3", "w4", "notifier")}

    def start(name: str, role: str = "worker") -> None:
        env = role_env(role, database_url, options, free_port(), worker_id=name, checkpoint_every_s="1",
                       alerting=str(alerting))  # fmt: skip
        procs[name] = _start(role, env, logs[name])

    try:
        for name in ("w1", "w2", "w3"):
            start(name)
        start("notifier", "notifier")
        async with roles(database_url, options, gateways=2, workers=0) as (gateways, _):
            await feed(gateways, lines[:third])
            await handled(database_url, options)

            async def checkpoints() -> bool:
                rows = await query(database_url, "SELECT count(*) FROM partition_checkpoints WHERE topic = %s",
                                   options.topic)  # fmt: skip
                return int(rows[0][0]) == PARTITIONS

            await wait_for(checkpoints, what="a checkpoint of every partition")
            held = {r[0] for r in await query(database_url, "SELECT partition FROM partition_offsets"
                                              " WHERE topic = %s AND owner = 'w1'", options.topic)}  # fmt: skip
            assert held, "w1 owns no partition"
            sending = asyncio.create_task(feed(gateways, lines[third : 2 * third]))
            await asyncio.sleep(0.5)
            procs["w1"].kill()  # SIGKILL, mid-stream
            procs["w1"].wait()
            await sending
            start("w4")
            await feed(gateways, lines[2 * third :])
            await handled(database_url, options, timeout=240)
            await advance_all(options, end)
            await handled(database_url, options, timeout=240)
        got = await stored_keys(database_url)
        assert got == expected, (sorted(expected - got)[:5], sorted(got - expected)[:5])
        # the partitions w1 held were restored from their checkpoints by the workers that took them
        restored = "".join(logs[n].read_text() for n in ("w2", "w3", "w4"))
        assert any(f"partition {p} restored from the checkpoint at offset" in restored for p in held), restored[-3000:]
        owners = {r[0] for r in await query(database_url, "SELECT DISTINCT owner FROM partition_offsets"
                                             " WHERE topic = %s", options.topic)}  # fmt: skip
        assert "w1" not in owners and "w4" in owners
        # every alert paged once: no notification twice
        await wait_for(lambda: settled_outbox(database_url), timeout=120, what="the outbox to drain")
        sent = await query(database_url, "SELECT alert_id::text, count(*) FROM outbox WHERE kind = 'trigger'"
                                         " AND status = 'sent' GROUP BY 1")  # fmt: skip
        assert sent and all(n == 1 for _, n in sent)
        assert all(n == 1 for n in delivered_ok(hook).values())
    finally:
        for proc in procs.values():
            _stop(proc)
        await hook.stop()


async def test_a_gateway_killed_mid_stream_stores_every_qos1_event_exactly_once(
    tmp_path: Path, database_url: str, kafka_broker: KafkaBroker, mqtt_broker: MqttBroker
) -> None:
    """Two gateways share the MQTT load (one MQTT 5 shared subscription); one is SIGKILLed while devices
    publish and comes back under its own session. A message is acknowledged only once Kafka has it, so
    what the dead gateway held comes again, and the workers store each event once."""
    if mqtt_broker.protocol != "5":
        pytest.skip("shared subscriptions need MQTT 5 (Mosquitto); the amqtt stand-in speaks 3.1.1")
    options = _options(kafka_broker)
    await migrate_url(database_url)
    await ensure_topic(options, PARTITIONS)
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str) -> None:
        env = role_env("gateway", database_url, options, free_port(), worker_id=name, mqtt_url=mqtt_broker.url,
                       mqtt_shared_group="gateways-" + options.topic)  # fmt: skip
        procs[name] = _start("gateway", env, tmp_path / f"{name}.log")

    total = 3000
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    events = [orjson.dumps({"event_id": f"g-{i}", "kind": "gps.position", "conveyance_id": f"TRL-{i % 40}",
                            "occurred_at": (t0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                            "lat": 27.5 + i * 1e-5, "lon": -99.0, "speed_kph": 60.0})
              for i in range(total)]  # fmt: skip
    try:
        start("gw1")
        start("gw2")
        for name in ("gw1", "gw2"):
            log = tmp_path / f"{name}.log"
            await wait_for(lambda log=log: "is running" in log.read_text(), what=f"{name} to start")
        async with roles(database_url, options, gateways=0, workers=2):
            async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="dev-" + options.topic,
                                      protocol=aiomqtt.ProtocolVersion.V5) as device:  # fmt: skip
                for start_at in range(0, total, 100):
                    if start_at == total // 3:
                        procs["gw1"].kill()  # SIGKILL, with messages in hand
                        procs["gw1"].wait()
                    if start_at == 2 * total // 3:
                        start("gw1")  # back, under its own session: what it held is delivered again
                    chunk = events[start_at : start_at + 100]
                    await asyncio.gather(*(device.publish("sealguard/v1/acme/events", e, qos=1) for e in chunk))

            async def all_stored() -> bool:
                rows = await query(database_url, "SELECT count(*) FROM event_ids WHERE tenant = 'acme'")
                return int(rows[0][0]) >= total

            await wait_for(all_stored, timeout=180, what=f"{total} events stored")
            await handled(database_url, options)
        # each event once (a message the killed gateway held may reach Kafka twice: it is stored once)
        rows = await query(database_url, "SELECT count(*), count(DISTINCT event_id) FROM events WHERE tenant = 'acme'")
        assert rows[0] == (total, total)
    finally:
        for proc in procs.values():
            _stop(proc)


async def test_the_api_role_alone_serves_the_dashboard_live_and_the_conveyance_state(
    tmp_path: Path, database_url: str, kafka_broker: KafkaBroker
) -> None:
    """``sealguard api`` has no engine in its process: it reads the workers' projection, hears their
    changes through PostgreSQL, and sends people's actions to the database and the workers."""
    from playwright.async_api import async_playwright, expect

    options = _options(kafka_broker)
    await migrate_url(database_url)
    await ensure_topic(options, PARTITIONS)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = _start("api", role_env("api", database_url, options, port), tmp_path / "api.log")
    try:
        async with roles(database_url, options, gateways=0, workers=2):
            await wait_for(ready(port), what="the api role to be ready")
            admin = await token_for(database_url, "acme", "admin", "ada")
            operator = await token_for(database_url, "acme", "operator", "olga")
            trip = recent_trip("acme")
            answer = await post(base, admin, "/api/v1/events", trip)
            assert answer.status_code == 200 and answer.json()["accepted"] == len(trip), answer.text

            async def projected() -> bool:
                async with httpx.AsyncClient() as c:
                    r = await c.get(f"{base}/api/v1/conveyances/TRL-1002",
                                    headers={"Authorization": f"Bearer {operator}"})  # fmt: skip
                return r.status_code == 200 and r.json()["position"] is not None

            await wait_for(projected, what="the conveyance's state through the api role")
            async with httpx.AsyncClient() as c:
                view = (await c.get(f"{base}/api/v1/conveyances/TRL-1002",
                                    headers={"Authorization": f"Bearer {operator}"})).json()  # fmt: skip
            assert view["trip"]["status"] == "arrived" and view["trip"]["route"], view
            assert view["seals_on"] == ["SG123456"]

            async with async_playwright() as pw:
                browser = await launch(pw)
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 900})
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    await sign_in(page, base, database_url, "acme", "operator", "olga", "Olga Petrova")
                    await page.goto(f"{base}/")
                    await expect(page.locator("#live")).to_have_class("on")
                    await expect(page.locator(".truck[data-conveyance='TRL-1002']")).to_have_count(1)
                    alarm = {"event_id": f"alarm-{uuid.uuid4().hex[:6]}", "kind": "seal.alarm", "tenant": "acme",
                             "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                             "conveyance_id": "TRL-1002", "seal_number": "SG123456", "alarm": "tamper",
                             "lat": 28.0, "lon": -99.0}  # fmt: skip
                    assert (await post(base, admin, "/api/v1/events", alarm)).status_code == 200
                    row = page.locator(".alert-row", has_text="SEAL-003")  # raised by a worker, heard live
                    await expect(row).to_have_count(1)
                    await page.screenshot(path=str(SHOTS / "api-role-live-alert.png"), full_page=True)
                    await row.locator("button.ack").click()
                    await page.locator("details.acked > summary").click()  # acknowledged ones are folded apart
                    await expect(page.locator("details.acked .alert-row", has_text="SEAL-003").locator(".status")
                                 ).to_have_text("acknowledged")  # fmt: skip
                    assert not errors, errors
                finally:
                    await browser.close()
            (stored,) = await query(database_url, "SELECT alert_id::text, status, acknowledged_by FROM alerts"
                                                  " WHERE rule_id = 'SEAL-003' AND tenant = 'acme'")  # fmt: skip
            assert stored[1:] == ("acknowledged", "Olga Petrova (olga)")
            # people resolving it (SEAL-003 takes two) release it in its worker's book, through the relay
            async with (signed_in(base, database_url, "acme", "operator", "olga", "Olga Petrova") as olga,
                        signed_in(base, database_url, "acme", "operator", "pat", "Pat Kim") as pat):  # fmt: skip
                for who in (olga, pat):
                    resolved = await who.post(f"/api/v1/alerts/{stored[0]}/resolve", json={"note": "checked"})
                    assert resolved.status_code == 200, resolved.text
            assert resolved.json()["alert"]["status"] == "resolved"

            async def relayed() -> bool:
                rows = await query(database_url, "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*)"
                                                 " FROM worker_controls")  # fmt: skip
                return bool(rows[0][1] >= 1 and rows[0][0] == rows[0][1])

            await wait_for(relayed, what="the release relayed to the workers")

            # a partner format through the split roles: a Traccar e-lock bound to TRL-1002 reports a tamper
            # to the api role, which hands it to Kafka; a worker raises it as native events would
            bound = await post(base, operator, "/api/v1/interop/devices/traccar:022043756090/bindings",
                               {"conveyance_id": "TRL-1002", "seal_number": "SG123456"})  # fmt: skip
            assert bound.status_code == 201, bound.text
            device = await token_for(database_url, "acme", "scanner", "traccar-server")
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            body = {"position": {"id": 77, "fixTime": now, "valid": True, "latitude": 28.01, "longitude": -99.01,
                                 "attributes": {"alarm": "tampering"}},
                    "device": {"id": 9, "uniqueId": "022043756090"}}  # fmt: skip
            async with httpx.AsyncClient() as c:
                r = await c.post(f"{base}/api/v1/interop/traccar/positions", params={"token": device}, json=body)
            assert r.status_code == 200 and r.json()["accepted"] == 2, r.text

            async def from_traccar() -> bool:
                rows = await query(database_url, "SELECT count(*) FROM alerts a JOIN events e ON e.tenant = a.tenant"
                                                 " AND a.evidence ? e.event_id WHERE a.rule_id = 'SEAL-003'"
                                                 " AND e.payload->'foreign'->>'format' = 'traccar'")  # fmt: skip
                return bool(rows[0][0])

            await wait_for(from_traccar, what="SEAL-003 from a Traccar tamper through the split roles")
    finally:
        _stop(api)


async def test_a_record_with_a_header_without_a_value_stops_no_partition(
    tmp_path: Path, database_url: str, kafka_broker: KafkaBroker
) -> None:
    """Kafka lets a producer send a header whose value is null. The worker read it with ``bytes(None)``,
    which raised on every fetch, so the record was read again after each reconnect and its partition
    stood still. Now such a header is left out, and the record is handled like any other."""
    from aiokafka import AIOKafkaProducer

    options = _options(kafka_broker)
    base = {"kind": "gps.position", "occurred_at": "2026-11-02T08:00:00Z", "conveyance_id": "TRL-1", "lat": 27.5,
            "lon": -99.0}  # fmt: skip
    async with roles(database_url, options, gateways=0, workers=1):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
        await producer.start()
        try:
            for i, headers in enumerate([[], [("sealguard-source", None), ("x-note", None)], [("x-note", b"ok")]]):
                raw = orjson.dumps({**base, "event_id": f"h-{i}", "occurred_at": f"2026-11-02T08:0{i}:00Z"})
                await producer.send_and_wait(options.topic, raw, key=b"default:TRL-1", headers=headers)
        finally:
            await producer.stop()

        async def all_stored() -> bool:
            rows = await query(database_url, "SELECT count(*) FROM event_ids")
            return int(rows[0][0]) == 3

        await wait_for(all_stored, timeout=60, what="the three records stored")
        rows = await query(database_url, "SELECT event_id, source FROM events ORDER BY event_id")
        assert [(r[0], r[1]) for r in rows] == [("h-0", "kafka"), ("h-1", "kafka"), ("h-2", "kafka")]


async def test_a_batch_whose_partition_another_worker_moved_on_writes_nothing_and_resumes_where_it_stands(
    database_url: str, kafka_broker: KafkaBroker
) -> None:
    """The offsets' fence: a worker's batch stores only if its partition's offset is still where it left it.
    Here another worker (written by hand) has taken records 3 and 4 meanwhile: the batch holding them is
    rolled back whole, and the worker resumes from the offset that worker stored. The offsets are moved in
    a pipeline with the batch's last writes, so their row counts are read after its sync."""
    from aiokafka import AIOKafkaProducer

    options = _options(kafka_broker)
    base = {"kind": "gps.position", "conveyance_id": "TRL-1", "lat": 27.5, "lon": -99.0}

    async def stored() -> list[str]:
        return [str(r[0]) for r in await query(database_url, "SELECT event_id FROM events ORDER BY event_id")]

    async with roles(database_url, options, gateways=0, workers=1):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
        await producer.start()

        async def send(i: int) -> int:
            raw = orjson.dumps({**base, "event_id": f"f-{i}", "occurred_at": f"2026-11-02T08:0{i}:00Z"})
            return int((await producer.send_and_wait(options.topic, raw, key=b"default:TRL-1")).partition)

        try:
            partitions = {await send(i) for i in range(3)}
            assert len(partitions) == 1  # one key: one partition
            (partition,) = partitions
            await wait_for(lambda: _equal(stored(), ["f-0", "f-1", "f-2"]), timeout=60, what="the first three")
            rows = await query(database_url, "UPDATE partition_offsets SET next_offset = 5, owner = 'another'"
                               " WHERE topic = %s AND partition = %s RETURNING next_offset",
                               options.topic, partition)  # fmt: skip
            assert rows == [(5,)]
            for i in range(3, 6):
                await send(i)
            await wait_for(lambda: _equal(stored(), ["f-0", "f-1", "f-2", "f-5"]), timeout=60, what="f-5 stored")
        finally:
            await producer.stop()
        await asyncio.sleep(1.0)  # nothing more comes
        assert await stored() == ["f-0", "f-1", "f-2", "f-5"]
        offsets = await query(database_url, "SELECT next_offset, owner FROM partition_offsets WHERE topic = %s"
                              " AND partition = %s", options.topic, partition)  # fmt: skip
        assert offsets == [(6, "w0")]


async def _equal(rows: Any, expected: list[str]) -> bool:
    return bool(await rows == expected)
