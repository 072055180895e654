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
                 payload: dict[str, Any]) -> bool:  # fmt: skip
    """False when the tenant already has this event id (a duplicate)."""
    cur = await conn.execute(
        "INSERT INTO reference_events (tenant, event_id, kind, occurred_at, payload) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant, event_id) DO NOTHING",
        (tenant, event_id, kind, occurred_at, Jsonb(payload)),
    )
    return cur.rowcount == 1


async def after(conn: Conn, after_id: int, limit: int = 10_000) -> list[ReferenceRow]:
    cur = await conn.execute(
        "SELECT id, tenant, event_id, kind, occurred_at, payload FROM reference_events WHERE id > %s ORDER BY id"
        " LIMIT %s",
        (after_id, limit),
    )
    return [ReferenceRow(*r) for r in await cur.fetchall()]


async def next_seq(conn: Conn) -> int:
    """A number for a reference event in the event store (stored negated: apart from the workers' records)."""
    cur = await conn.execute("SELECT nextval('reference_seq')")
    row = await cur.fetchone()
    assert row is not None  # nextval always answers
    return int(row[0])
