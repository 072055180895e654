"""Each conveyance's current state (trip, last fix, stop, seals, latest inspection) as the engine that
owns it last saw it, for the api role, which has no engine of its own."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.AsyncConnection[Any]


async def upsert(conn: Conn, views: Sequence[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
    """``(tenant, conveyance_id, view)`` each, replacing what was there."""
    if not views:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO conveyance_state (tenant, conveyance_id, view, updated_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (tenant, conveyance_id) DO UPDATE SET view = EXCLUDED.view, updated_at = EXCLUDED.updated_at",
            [(t, c, Jsonb(v), now) for t, c, v in sorted(views, key=lambda x: (x[0], x[1]))],
        )


async def views(conn: Conn, tenant: str | None, conveyance_id: str | None = None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT view FROM conveyance_state WHERE (%s::text IS NULL OR tenant = %s)"
        " AND (%s::text IS NULL OR conveyance_id = %s) ORDER BY tenant, conveyance_id",
        (tenant, tenant, conveyance_id, conveyance_id),
    )
    return [r[0] for r in await cur.fetchall()]
