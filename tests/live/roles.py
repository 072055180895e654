"""Helpers for the split roles' tests: feeding gateways as senders that wait for acknowledgements do,
waiting until workers have handled a topic, and the alerts one engine raises on the same input."""

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from sealguard.alerts.book import AlertBook
from sealguard.ingest.inbound import Inbound, ItemResult
from sealguard.ingest.kafka import KafkaOptions, end_offsets, publish_control, record_key
from sealguard.rules.engine import Engine
from sealguard.rules.findings import iso
from sealguard.stream.partitioned import REFERENCE_KINDS, partition_for
from sealguard.stream.replay import replay
from tests.live.servers import query, wait_for

#: Kinds a gateway decides with the database: a sender's next event must not overtake them.
EDGE_KINDS = (*REFERENCE_KINDS, "trip.planned", "trip.closed")


def with_tenant(lines: Sequence[bytes], tenant: str) -> list[bytes]:
    """The same events for another tenant (scenarios reuse conveyance and event ids)."""
    out = []
    for line in lines:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(line)
            continue
        if isinstance(obj, dict):
            obj["tenant"] = tenant
            out.append(orjson.dumps(obj))
        else:
            out.append(line)
    return out


def _kind_and_conveyance(line: bytes) -> tuple[str, str]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "", ""
    if not isinstance(obj, dict):
        return "", ""
    return str(obj.get("kind", "")), record_key(str(obj.get("tenant") or "default"), obj.get("conveyance_id")).decode()


async def feed(
    gateways: Sequence[Any], lines: Sequence[bytes], window: int = 500, partitions: int = 6
) -> list[ItemResult]:
    """Send ``lines`` through the gateways as careful senders do: the conveyances of one partition always
    through the same gateway, in order (so each partition holds its records in input order: one engine
    per partition then decides as one engine does; docs/partitioning.md); up to ``window`` inputs in
    flight; and an input the gateway decides with the database (reference data, trips) sent only once
    everything before it is answered, and answered before anything after it is sent (what the edge
    guarantees)."""
    results: list[ItemResult] = []
    pending: list[asyncio.Future[ItemResult]] = []

    async def drain() -> None:
        if pending:
            results.extend(await asyncio.gather(*pending))
            pending.clear()

    for i, line in enumerate(lines):
        kind, key = _kind_and_conveyance(line)
        gateway = gateways[partition_for(key.encode(), partitions) % len(gateways)]
        item = Inbound(line, "http", {"line": i + 1})
        if kind in EDGE_KINDS:
            await drain()
            results.append(await (await gateway.submit(item)))
            continue
        pending.append(await gateway.submit(item))
        if len(pending) >= window:
            await drain()
    await drain()
    return results


async def handled(database_url: str, options: KafkaOptions, timeout: float = 180.0) -> None:
    """Wait until every record now in the topic is handled by its partition's worker."""
    ends = await end_offsets(options)

    async def done() -> bool:
        rows = await query(database_url, "SELECT partition, next_offset FROM partition_offsets WHERE topic = %s",
                           options.topic)  # fmt: skip
        stored = {int(p): int(o) for p, o in rows}
        return all(stored.get(p, 0) >= o for p, o in ends.items() if o > 0)

    await wait_for(done, timeout=timeout, what=f"workers to handle {sum(ends.values())} records")


async def advance_all(options: KafkaOptions, until: float) -> None:
    """The end of the input, as ``sealguard replay`` ends a file: every partition's clocks to ``until``."""
    ends = await end_offsets(options)
    await publish_control(options, "advance", {"until": until}, partitions=sorted(ends))


def replay_keys(lines: Sequence[bytes]) -> tuple[set[tuple[str, ...]], float]:
    """The alerts one engine raises on ``lines`` (and the time it ends the input at)."""
    engine = Engine()
    report = replay(lines, engine, book=AlertBook())
    assert engine.clock is not None
    return {_key(a.to_json()) for a in report.book.alerts}, engine.clock


def _key(a: dict[str, Any]) -> tuple[str, ...]:
    return (str(a["alert_id"]), a["rule_id"], a["severity"], str(a["conveyance_id"]), a["occurred_at"], a["status"])


async def stored_keys(url: str) -> set[tuple[str, ...]]:
    rows = await query(url, "SELECT alert_id::text, rule_id, severity, conveyance_id, occurred_at, status FROM alerts")
    return {(r[0], r[1], r[2], str(r[3]), iso(r[4].timestamp()), r[5]) for r in rows}


def role_env(role: str, database_url: str, options: KafkaOptions, http_port: int, **extra: str) -> dict[str, str]:
    """The environment of a split role's process."""
    import os

    env = {
        **os.environ,
        "SEALGUARD_DATABASE_URL": database_url,
        "SEALGUARD_KAFKA_BOOTSTRAP": options.bootstrap,
        "SEALGUARD_KAFKA_TOPIC": options.topic,
        "SEALGUARD_KAFKA_GROUP": options.group_id,
        "SEALGUARD_HTTP": f"127.0.0.1:{http_port}",
        "SEALGUARD_IDLE_ADVANCE_AFTER": "3600",
        "SEALGUARD_LOG_LEVEL": "INFO",
    }
    env.pop("SEALGUARD_CONFIG", None)
    return {**env, **{f"SEALGUARD_{k.upper()}": v for k, v in extra.items()}}
