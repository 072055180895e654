"""The split roles against real servers: gateways and workers over tansu (six partitions) and
PostgreSQL give exactly the alerts one engine gives on the same input."""

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.fleet import fleet_lines
from sealguard.gateway import KafkaForwarder
from sealguard.ingest.kafka import KafkaOptions, ensure_topic
from sealguard.receivers import HttpReceiver
from sealguard.runtime import migrate_url, open_pool
from sealguard.servers import KafkaBroker, free_port
from sealguard.worker import Worker
from tests.live.monitor import lines_of
from tests.live.roles import advance_all, feed, handled, replay_keys, role_env, stored_keys, with_tenant
from tests.live.servers import query, scenario_dirs, wait_for
from tests.live.test_alerting import delivered_ok, hook_only, settled_outbox

PARTITIONS = 6


@contextlib.asynccontextmanager
async def roles(database_url: str, options: KafkaOptions, *, gateways: int, workers: int,
                **worker_args: Any) -> AsyncIterator[tuple[list[KafkaForwarder], list[Worker]]]:  # fmt: skip
    await migrate_url(database_url)
    await ensure_topic(options, PARTITIONS)
    pools = [open_pool(database_url) for _ in range(gateways + workers)]
    for pool in pools:
        await pool.open(wait=True)
    fwd = [KafkaForwarder(pools[i], options) for i in range(gateways)]
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
