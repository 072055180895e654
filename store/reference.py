"""The broadcast table of reference data (``seal.issued``, ``facility.registered``): a gateway stores it
before acknowledging it; every worker reads what is new since its last look."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    id: int
    tenant: str
    event_id: str
    kind: str
    occurred_at: datetime
    payload: dict[str, Any]


async def insert(conn: Conn, tenant: str, event_id: str, kind: str, occurred_at: datetime,
                 payload: dict[str, Any]) -> int | None:  # fmt: skip
    """Store a reference event; the number it is stored under in the event store (``reference_seq``,
    stored negated there: apart from the workers' records), or None when the tenant already has this
    event id (a duplicate). One statement: the gateway holds its queue while this commits."""
    cur = await conn.execute(
        "INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant, event_id) DO NOTHING RETURNING nextval('reference_seq')",
        (tenant, event_id, kind, occurred_at, Jsonb(payload)),
    )
    row = await cur.fetchone()
    return int(row[0]) if row is not None else None


async def after(conn: Conn, after_id: int, limit: int = 10_000) -> list[ReferenceRow]:
    cur = await conn.execute(
        "SELECT id, tenant, event_id, kind, occurred_at, payload FROM reference_events WHERE id > %s ORDER BY id"
        " LIMIT %s",
        (after_id, limit),
    )
    return [ReferenceRow(*r) for r in await cur.fetchall()]
