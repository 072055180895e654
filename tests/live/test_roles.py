"""The split roles against real servers: gateways and workers over tansu (six partitions) and
PostgreSQL give exactly the alerts one engine gives on the same input."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from bench.fleet import fleet_lines
from sealguard.gateway import KafkaForwarder
from sealguard.ingest.kafka import KafkaOptions, ensure_topic
from sealguard.runtime import migrate_url, open_pool
from sealguard.servers import KafkaBroker
from sealguard.worker import Worker
from tests.live.monitor import lines_of
from tests.live.roles import advance_all, feed, handled, replay_keys, stored_keys, with_tenant
from tests.live.servers import query, scenario_dirs

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
