"""What recovery needs: engine snapshots, and the events, clock ticks and releases after one, in order."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ClockTick:
    """A clock advance that fired timers: one tenant's, or every tenant's when ``tenant`` is None."""

    until: float
    tenant: str | None


async def write_tick(conn: Conn, seq: int, tick: ClockTick) -> None:
    await conn.execute(
        "INSERT INTO engine_ticks (seq, until_ts, tenant) VALUES (%s, %s, %s)", (seq, tick.until, tick.tenant)
    )


async def last_seq(conn: Conn) -> int:
    cur = await conn.execute(
        "SELECT GREATEST((SELECT max(seq) FROM event_ids), (SELECT max(seq) FROM engine_ticks),"
        " (SELECT max(seq) FROM engine_snapshots), (SELECT max(seq) FROM engine_releases))"
    )
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def write_release(conn: Conn, seq: int, dedup_key: str, alert_id: str) -> None:
    """A person resolved the alert: from this point of the log the engine may open a new one for the key."""
    await conn.execute(
        "INSERT INTO engine_releases (seq, dedup_key, alert_id) VALUES (%s, %s, %s)", (seq, dedup_key, alert_id)
    )


LogEntry = tuple[int, bytes | ClockTick | str]


async def log_after(conn: Conn, seq: int, batch: int = 5000) -> AsyncIterator[LogEntry]:
    """Everything the engine saw after ``seq``, in sequence order: events (payload bytes), clock ticks
    and releases of alerts resolved by a person (the dedup key, str)."""
    while True:
        cur = await conn.execute(
            "SELECT seq, payload::text, NULL::float8, NULL::text, NULL::text FROM events WHERE seq > %s"
            " UNION ALL SELECT seq, NULL, until_ts, tenant, NULL FROM engine_ticks WHERE seq > %s"
            " UNION ALL SELECT seq, NULL, NULL, NULL, dedup_key FROM engine_releases WHERE seq > %s"
            " ORDER BY 1 LIMIT %s",
            (seq, seq, seq, batch),
        )
        rows = await cur.fetchall()
        for s, payload, until, tenant, key in rows:
            if payload is not None:
                yield int(s), payload.encode()
            elif until is not None:
                yield int(s), ClockTick(float(until), tenant)
            else:
                yield int(s), key
            seq = int(s)
        if len(rows) < batch:
            return
