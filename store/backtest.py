"""The stored events a backtest replays (``stream/backtest.py``), streamed through a server-side cursor
in the order they were received, so a month of a large fleet never sits in memory at once."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]
BATCH = 5000


async def events(conn: Conn, tenant: str | None, start: datetime, until: datetime, *,
                 kinds: Sequence[str] | None = None,
                 skip_kinds: Sequence[str] = ()) -> AsyncIterator[bytes]:  # fmt: skip
    """The payloads (JSON bytes) of the events that occurred in ``[start, until)`` (``kinds`` only, or all
    but ``skip_kinds``) of ``tenant`` (every tenant: None), in the order they were received. Call inside
    a transaction (a server-side cursor lives in one)."""
    async with conn.cursor(name="backtest_events") as cur:
        cur.itersize = BATCH
        await cur.execute(
            "SELECT payload::text FROM events WHERE occurred_at >= %s AND occurred_at < %s"
            " AND (%s::text IS NULL OR tenant = %s) AND (%s::text[] IS NULL OR kind = ANY(%s))"
            " AND NOT (kind = ANY(%s)) ORDER BY received_at, seq",
            (
                start,
                until,
                tenant,
                tenant,
                list(kinds) if kinds else None,
                list(kinds) if kinds else None,
                list(skip_kinds),
            ),
        )
        async for (payload,) in cur:
            yield payload.encode()
