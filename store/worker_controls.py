"""Control records for the workers, written in the transaction of the change that causes them and relayed
to Kafka afterwards (an outbox): a release is never lost between the database and the log."""

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class ControlRow:
    id: int
    key: bytes
    verb: str
    body: dict[str, Any]


async def enqueue(conn: Conn, key: bytes, verb: str, body: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO worker_controls (key, verb, body) VALUES (%s, %s, %s)", (key, verb, Jsonb(body)))


async def claim(conn: Conn, limit: int = 500) -> list[ControlRow]:
    """Unsent rows in order, locked for this relay (another relay skips them)."""
    cur = await conn.execute(
        "SELECT id, key, verb, body FROM worker_controls WHERE sent_at IS NULL ORDER BY id LIMIT %s"
        " FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return [ControlRow(int(r[0]), bytes(r[1]), str(r[2]), r[3]) for r in await cur.fetchall()]


async def sent(conn: Conn, ids: list[int]) -> None:
    await conn.execute("UPDATE worker_controls SET sent_at = now() WHERE id = ANY(%s)", (ids,))
