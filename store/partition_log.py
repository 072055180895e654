"""Each Kafka partition's place in PostgreSQL: its next offset (advanced in the transaction that stores
the batch's effects, and only by its owner: a compare-and-set fences off a worker that lost the
partition), its latest checkpoint, and the idle ticks that fired its timers between records."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    next_offset: int  # the state includes every record before this offset
    last_tick_id: int  # ... and every tick up to this id
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PartitionTick:
    id: int
    at_offset: int  # applied before the record at this offset
    tenant: str
    until: float


async def claim(conn: Conn, topic: str, partition: int, owner: str) -> int:
    """Take the partition for ``owner`` and return its next offset (0 for a partition never seen)."""
    cur = await conn.execute(
        "INSERT INTO partition_offsets (topic, partition, next_offset, owner) VALUES (%s, %s, 0, %s)"
        " ON CONFLICT (topic, partition) DO UPDATE SET owner = EXCLUDED.owner, updated_at = now()"
        " RETURNING next_offset",
        (topic, partition, owner),
    )
    row = await cur.fetchone()
    assert row is not None  # RETURNING of an upsert always returns the row
    return int(row[0])


async def advance(
    conn: Conn, topic: str, partition: int, expected: int, new: int, owner: str
) -> psycopg.AsyncCursor[Any]:
    """Move the next offset from ``expected`` to ``new``. The cursor's ``rowcount`` is 0 when it is no longer
    ``expected`` (another worker committed this partition meanwhile): the caller must roll back. A cursor,
    not a bool, so that a caller in pipeline mode reads it after the pipeline's sync."""
    return await conn.execute(
        "UPDATE partition_offsets SET next_offset = %s, owner = %s, updated_at = now()"
        " WHERE topic = %s AND partition = %s AND next_offset = %s",
        (new, owner, topic, partition, expected),
    )


async def load_checkpoint(conn: Conn, topic: str, partition: int) -> Checkpoint | None:
    cur = await conn.execute(
        "SELECT next_offset, last_tick_id, data::text FROM partition_checkpoints WHERE topic = %s AND partition = %s",
        (topic, partition),
    )
    row = await cur.fetchone()
    return Checkpoint(int(row[0]), int(row[1]), orjson.loads(row[2])) if row else None


async def save_checkpoint(conn: Conn, topic: str, partition: int, cp: Checkpoint) -> int:
    """Replace the partition's checkpoint; returns its size in bytes (as JSON)."""
    body = orjson.dumps(cp.data).decode()
    await conn.execute(
        "INSERT INTO partition_checkpoints (topic, partition, next_offset, last_tick_id, data)"
        " VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (topic, partition) DO UPDATE SET"
        " next_offset = EXCLUDED.next_offset, last_tick_id = EXCLUDED.last_tick_id, data = EXCLUDED.data,"
        " taken_at = now()",
        (topic, partition, cp.next_offset, cp.last_tick_id, body),
    )
    return len(body)


async def write_ticks(conn: Conn, topic: str, partition: int,
                      ticks: Sequence[tuple[int, str, float]]) -> list[int]:  # fmt: skip
    """Record ``(at_offset, tenant, until)`` ticks; returns their ids, in order."""
    ids = []
    for at_offset, tenant, until in ticks:
        cur = await conn.execute(
            "INSERT INTO partition_ticks (topic, partition, at_offset, tenant, until_ts) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id",
            (topic, partition, at_offset, tenant, until),
        )
        row = await cur.fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


async def ticks_after(conn: Conn, topic: str, partition: int, after_id: int) -> list[PartitionTick]:
    cur = await conn.execute(
        "SELECT id, at_offset, tenant, until_ts FROM partition_ticks WHERE topic = %s AND partition = %s AND id > %s"
        " ORDER BY id",
        (topic, partition, after_id),
    )
    return [PartitionTick(int(r[0]), int(r[1]), str(r[2]), float(r[3])) for r in await cur.fetchall()]


async def owned(conn: Conn, topic: str, partition: int, owner: str, next_offset: int) -> bool:
    """Whether ``owner`` still holds the partition at ``next_offset``; the row stays locked until the
    transaction ends, so nobody takes it over meanwhile (a checkpoint by a worker that lost its partition
    must not mix its rows into the new owner's)."""
    cur = await conn.execute(
        "SELECT owner, next_offset FROM partition_offsets WHERE topic = %s AND partition = %s FOR UPDATE",
        (topic, partition),
    )
    row = await cur.fetchone()
    return row is not None and row[0] == owner and int(row[1]) == next_offset


async def write_state(conn: Conn, topic: str, partition: int, rows: dict[str, Any], gone: Sequence[str], *,
                      replace_all: bool = False) -> int:  # fmt: skip
    """Upsert changed rows and delete forgotten ones (``replace_all``: the partition's rows are exactly
    ``rows``); returns the bytes written."""
    if replace_all:
        await conn.execute("DELETE FROM partition_state WHERE topic = %s AND partition = %s", (topic, partition))
    bodies = [(topic, partition, key, orjson.dumps(data).decode()) for key, data in sorted(rows.items())]
    if bodies:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO partition_state (topic, partition, key, data) VALUES (%s, %s, %s, %s::jsonb)"
                " ON CONFLICT (topic, partition, key) DO UPDATE SET data = EXCLUDED.data",
                bodies,
            )
    if gone:
        await conn.execute(
            "DELETE FROM partition_state WHERE topic = %s AND partition = %s AND key = ANY(%s)",
            (topic, partition, list(gone)),
        )
    return sum(len(b[3]) for b in bodies)


async def delete_orphan_routes(conn: Conn, topic: str, partition: int) -> list[str]:
    """Delete the partition's route rows (``r:{ref}``) that no plan row names by ``route_ref`` any more;
    the refs deleted."""
    cur = await conn.execute(
        "DELETE FROM partition_state r WHERE r.topic = %s AND r.partition = %s AND r.key LIKE 'r:%%'"
        " AND NOT EXISTS (SELECT 1 FROM partition_state p WHERE p.topic = r.topic AND p.partition = r.partition"
        " AND p.key LIKE 'p:%%' AND p.data->>'route_ref' = substr(r.key, 3)) RETURNING substr(r.key, 3)",
        (topic, partition),
    )
    return [str(row[0]) for row in await cur.fetchall()]


async def load_state(conn: Conn, topic: str, partition: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT key, data::text FROM partition_state WHERE topic = %s AND partition = %s ORDER BY key",
        (topic, partition),
    )
    return {str(k): orjson.loads(d) for k, d in await cur.fetchall()}
