"""Live updates between processes: what a batch changed, sent with PostgreSQL NOTIFY in the batch's
transaction (delivered only if it commits), and heard by every process serving the web API."""

import json
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql

Conn = psycopg.AsyncConnection[Any]
CHANNEL = "sealguard_live"
MAX_PAYLOAD = 7000  # NOTIFY takes under 8000 bytes


async def notify(conn: Conn, updates: Sequence[dict[str, Any]]) -> None:
    """Send ``updates`` in as few notifications as fit the payload limit."""
    chunk: list[bytes] = []
    size = 2
    for update in updates:
        raw = orjson.dumps(update)
        if len(raw) + 1 > MAX_PAYLOAD:
            continue  # an update is a few hundred bytes; a giant one is a bug, not worth a failed batch
        if size + len(raw) + 1 > MAX_PAYLOAD:
            await _send(conn, chunk)
            chunk, size = [], 2
        chunk.append(raw)
        size += len(raw) + 1
    if chunk:
        await _send(conn, chunk)


async def _send(conn: Conn, chunk: list[bytes]) -> None:
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, (b"[" + b",".join(chunk) + b"]").decode()))


def parse(payload: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(payload)
    except ValueError:
        return []
    return [u for u in data if isinstance(u, dict)] if isinstance(data, list) else []


async def listen(conn: Any) -> None:
    """Be woken by each batch's changes (the connection must be in autocommit)."""
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
