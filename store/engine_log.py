"""What recovery needs: engine snapshots, clock ticks, and the events after a snapshot, in order."""

from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg

Conn = psycopg.AsyncConnection[Any]
KEEP_SNAPSHOTS = 3


async def save_snapshot(conn: Conn, seq: int, data: dict[str, Any]) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO engine_snapshots (seq, data) VALUES (%s, %s::jsonb)", (seq, orjson.dumps(data).decode())
        )
        await conn.execute(
            "DELETE FROM engine_snapshots WHERE id NOT IN (SELECT id FROM engine_snapshots ORDER BY id DESC LIMIT %s)",
            (KEEP_SNAPSHOTS,),
        )


async def latest_snapshot(conn: Conn) -> tuple[int, dict[str, Any]] | None:
    cur = await conn.execute("SELECT seq, data::text FROM engine_snapshots ORDER BY id DESC LIMIT 1")
    row = await cur.fetchone()
    return (int(row[0]), orjson.loads(row[1])) if row else None


async def write_tick(conn: Conn, seq: int, until: float) -> None:
    await conn.execute("INSERT INTO engine_ticks (seq, until_ts) VALUES (%s, %s)", (seq, until))


async def last_seq(conn: Conn) -> int:
    cur = await conn.execute(
        "SELECT GREATEST((SELECT max(seq) FROM event_ids), (SELECT max(seq) FROM engine_ticks),"
        " (SELECT max(seq) FROM engine_snapshots))"
    )
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def log_after(conn: Conn, seq: int, batch: int = 5000) -> AsyncIterator[tuple[int, bytes | float]]:
    """Events (payload bytes) and ticks (float) with a sequence number above ``seq``, in sequence order."""
    while True:
        cur = await conn.execute(
            "SELECT seq, payload::text, NULL::float8 FROM events WHERE seq > %s"
            " UNION ALL SELECT seq, NULL, until_ts FROM engine_ticks WHERE seq > %s"
            " ORDER BY 1 LIMIT %s",
            (seq, seq, batch),
        )
        rows = await cur.fetchall()
        for s, payload, until in rows:
            yield int(s), (payload.encode() if payload is not None else float(until))
            seq = int(s)
        if len(rows) < batch:
            return
