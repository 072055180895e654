"""The broadcast table of reference data (``seal.issued``, ``facility.registered``): a gateway stores it
before acknowledging it; every worker reads what is new since its last look."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    id: int
    tenant: str
    event_id: str
    kind: str
    occurred_at: datetime
    payload: dict[str, Any]


async def after(conn: Conn, after_id: int, limit: int = 10_000) -> list[ReferenceRow]:
    cur = await conn.execute(
        "SELECT id, tenant, event_id, kind, occurred_at, payload FROM reference_events WHERE id > %s ORDER BY id"
        " LIMIT %s",
        (after_id, limit),
    )
    return [ReferenceRow(*r) for r in await cur.fetchall()]
