"""What an incident package holds, read from the store (docs/evidence.md): the evidence events with the
bytes their senders sent and the partner messages they came from, the alert's history rows with the
chain links from them to the tenant's head, the trip's plan, track, inspections and photos (``store/photos.py``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]
MAX_LINKS = 50_000  # chain links after the alert's last row; a busier tenant's package stops there


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    event_id: str
    kind: str
    occurred_at: datetime
    received_at: datetime
    source: str
    payload: dict[str, Any]
    original: bytes | None  # None: stored before originals were kept
    partner_format: str | None
    partner_sha256: str | None


@dataclass(frozen=True, slots=True)
class PartnerMessage:
    sha256: str
    format: str
    received_at: datetime
    message: bytes


@dataclass(frozen=True, slots=True)
class Link:
    """One row of the tenant's chain as a link: enough to follow the chain, not to read the row."""

    chain_seq: int
    alert_id: str
    prev_hash: str
    hash: str


async def evidence_events(conn: Conn, tenant: str, event_ids: Sequence[str]) -> list[EvidenceEvent]:
    cur = await conn.cursor(row_factory=class_row(EvidenceEvent)).execute(
        "SELECT e.event_id, e.kind, e.occurred_at, e.received_at, e.source, e.payload, e.original, e.partner_format,"
        " e.partner_sha256 FROM event_ids i JOIN events e ON e.seq = i.seq AND e.occurred_at = i.occurred_at"
        " WHERE i.tenant = %s AND i.event_id = ANY(%s) ORDER BY e.occurred_at, e.seq",
        (tenant, list(event_ids)),
    )
    return await cur.fetchall()


async def partner_messages(conn: Conn, tenant: str, shas: Sequence[str]) -> list[PartnerMessage]:
    cur = await conn.cursor(row_factory=class_row(PartnerMessage)).execute(
        "SELECT sha256, format, received_at, message FROM partner_messages WHERE tenant = %s AND sha256 = ANY(%s)"
        " ORDER BY received_at, sha256",
        (tenant, list(shas)),
    )
    return await cur.fetchall()


async def chain_links(conn: Conn, tenant: str, from_seq: int, to_seq: int) -> tuple[list[Link], Link | None]:
    """The links from ``from_seq`` on (at most ``to_seq + MAX_LINKS``), and the tenant's head now."""
    cur = await conn.cursor(row_factory=class_row(Link)).execute(
        "SELECT chain_seq, alert_id::text, prev_hash, hash FROM alert_history"
        " WHERE tenant = %s AND chain_seq >= %s AND chain_seq <= %s ORDER BY chain_seq",
        (tenant, from_seq, to_seq + MAX_LINKS),
    )
    links = await cur.fetchall()
    cur = await conn.cursor(row_factory=class_row(Link)).execute(
        "SELECT chain_seq, alert_id::text, prev_hash, hash FROM alert_history WHERE tenant = %s"
        " ORDER BY chain_seq DESC LIMIT 1",
        (tenant,),
    )
    return links, await cur.fetchone()


async def trip_plan(conn: Conn, tenant: str, trip_id: str) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT plan FROM trips WHERE tenant = %s AND trip_id = %s", (tenant, trip_id))
    row = await cur.fetchone()
    return dict(row[0]) if row else None


async def track(conn: Conn, tenant: str, conveyance_id: str, around: datetime, span: timedelta,
                limit: int = 5000) -> list[tuple[datetime, float, float]]:  # fmt: skip
    """The conveyance's GPS fixes within ``span`` either side of ``around``, oldest first."""
    cur = await conn.execute(
        "SELECT occurred_at, (payload->>'lat')::float8, (payload->>'lon')::float8 FROM events"
        " WHERE tenant = %s AND conveyance_id = %s AND kind = 'gps.position' AND occurred_at BETWEEN %s AND %s"
        " ORDER BY occurred_at LIMIT %s",
        (tenant, conveyance_id, around - span, around + span, limit),
    )
    return [(r[0], float(r[1]), float(r[2])) for r in await cur.fetchall()]


async def trip_checks(conn: Conn, tenant: str, trip_id: str, conveyance_id: str | None,
                      limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
    """The trip's inspections and seal checks, oldest first (payloads as stored)."""
    cur = await conn.execute(
        "SELECT payload FROM events WHERE tenant = %s AND kind IN ('inspection.completed', 'seal.verified')"
        " AND (trip_id = %s OR (trip_id IS NULL AND conveyance_id = %s)) ORDER BY occurred_at, seq LIMIT %s",
        (tenant, trip_id, conveyance_id, limit),
    )
    return [dict(r[0]) for r in await cur.fetchall()]


async def one_moment(conn: Conn) -> None:
    """Make the caller's transaction read one snapshot (the package's history, head and notifications
    agree with each other), and read only."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
