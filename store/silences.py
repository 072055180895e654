"""Silences: matchers that mute notifications (never alerts) for a while, kept after they expire."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

Conn = psycopg.AsyncConnection[Any]
COLUMNS = "silence_id::text, tenant, matchers, starts_at, ends_at, created_by, reason, created_at, expired_at"


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    tenant: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    expired_at: datetime | None


async def create(conn: Conn, tenant: str, matchers: Sequence[str], starts_at: datetime, ends_at: datetime,
                 created_by: str, reason: str, now: datetime) -> Silence:  # fmt: skip
    cur = await conn.cursor(row_factory=class_row(Silence)).execute(
        f"INSERT INTO silences (silence_id, tenant, matchers, starts_at, ends_at, created_by, reason, created_at)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}",
        (uuid.uuid4(), tenant, Jsonb(list(matchers)), starts_at, ends_at, created_by, reason, now),
    )
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row
    return row


async def listed(conn: Conn, tenant: str | None, active_at: datetime | None, limit: int = 1000) -> list[Silence]:
    """A tenant's silences (every tenant's for ``None``), newest first; only those in force at
    ``active_at`` when it is given."""
    cur = await conn.cursor(row_factory=class_row(Silence)).execute(
        f"SELECT {COLUMNS} FROM silences WHERE (%s::text IS NULL OR tenant = %s)"
        " AND (%s::timestamptz IS NULL OR (expired_at IS NULL AND ends_at > %s)) ORDER BY created_at DESC LIMIT %s",
        (tenant, tenant, active_at, active_at, limit),
    )
    return await cur.fetchall()


async def expire(conn: Conn, silence_id: uuid.UUID, tenant: str | None, now: datetime) -> Silence | None:
    """Expire a silence now (kept, with the time it was expired); None when the tenant has no such silence."""
    cur = await conn.cursor(row_factory=class_row(Silence)).execute(
        f"UPDATE silences SET expired_at = COALESCE(expired_at, %s) WHERE silence_id = %s"
        f" AND (%s::text IS NULL OR tenant = %s) RETURNING {COLUMNS}",
        (now, silence_id, tenant, tenant),
    )
    return await cur.fetchone()
