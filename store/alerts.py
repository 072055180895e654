"""Alerts and their append-only, hash-chained history: rows in, rows out. What to write is decided by
``alerts`` (the lifecycle, the chain, paging) and composed by the application's pipeline."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sealguard.schemas.alerts import Alert, StoredAlert
from sealguard.schemas.history import HistoryRow
from sealguard.store.alert_rows import fetch_alerts, select_alerts, utc_iso

Conn = psycopg.AsyncConnection[Any]


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


async def insert_alert(conn: Conn, a: Alert, facility_id: str | None, now: datetime) -> bool:
    """Write a newly opened alert (the contract's shape, with the facility it came from, for routing);
    False when it is already stored (a replayed batch)."""
    cur = await conn.execute(
        "INSERT INTO alerts (alert_id, tenant, rule_id, severity, conveyance_id, trip_id, occurred_at, message,"
        " criterion, evidence, dedup_key, status, updated_at, facility_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', %s, %s) ON CONFLICT DO NOTHING",
        (a.alert_id, a.tenant, a.rule_id, a.severity, a.conveyance_id, a.trip_id, a.occurred_at, a.message,
         a.criterion, Jsonb(a.evidence), a.dedup_key, now, facility_id),
    )  # fmt: skip
    return cur.rowcount > 0


async def escalate_alert(conn: Conn, alert_id: str, severity: str, message: str, evidence: list[str],
                         now: datetime) -> str | None:  # fmt: skip
    """A worse repeat: raise the stored severity. Returns the alert's status, None when it is not stored."""
    cur = await conn.execute(
        "UPDATE alerts SET severity = %s, message = %s, evidence = %s, updated_at = %s WHERE alert_id = %s"
        " RETURNING status",
        (severity, message, Jsonb(evidence), now, alert_id),
    )
    row = await cur.fetchone()
    return str(row[0]) if row is not None else None


async def auto_resolve_alert(conn: Conn, alert_id: str, resolved_at: float | None, now: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = %s, resolved_by = 'sealguard', updated_at = %s"
        " WHERE alert_id = %s AND status <> 'resolved'",
        (_ts(resolved_at), now, alert_id),
    )


async def lock_alert(conn: Conn, alert_id: str, tenant: str | None) -> StoredAlert | None:
    """The alert, locked for a person's action (``tenant`` None: any tenant)."""
    docs = await fetch_alerts(
        conn,
        select_alerts("alert_id = %s::uuid AND (%s::text IS NULL OR tenant = %s)", "FOR UPDATE"),
        (alert_id, tenant, tenant),
    )
    return docs[0] if docs else None


async def resolve_requested_id(conn: Conn, alert_id: str) -> str | None:
    """The identity of whoever asked to resolve the alert (two-person rules), if anyone did."""
    cur = await conn.execute("SELECT resolve_requested_id FROM alerts WHERE alert_id = %s::uuid", (alert_id,))
    row = await cur.fetchone()
    return str(row[0]) if row and row[0] is not None else None


@dataclass(frozen=True, slots=True)
class PersonAction:
    """The state an alert moves to after a person's action, and who did it when."""

    status: str
    acknowledged_by: str | None
    resolve_requested_by: str | None
    assignee: str | None
    resolve_requested_id: str | None  # who asked, as an identity (``person:{id}``), not a name
    acknowledged: bool  # this action acknowledged it (stamp acknowledged_at)
    resolved: bool  # this action resolved it (stamp resolved_at and resolved_by)
    actor: str


async def record_action(conn: Conn, alert_id: str, a: PersonAction, now: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET status = %s, acknowledged_by = %s, resolve_requested_by = %s, assignee = %s,"
        " resolve_requested_id = %s, acknowledged_at = CASE WHEN %s THEN %s ELSE acknowledged_at END,"
        " resolved_at = CASE WHEN %s THEN %s ELSE resolved_at END,"
        " resolved_by = CASE WHEN %s THEN %s ELSE resolved_by END, updated_at = %s WHERE alert_id = %s::uuid",
        (a.status, a.acknowledged_by, a.resolve_requested_by, a.assignee, a.resolve_requested_id, a.acknowledged, now,
         a.resolved, now,
         a.resolved, a.actor, now, alert_id),
    )  # fmt: skip


# --- the history chain --------------------------------------------------------------------------------


async def lock_chain_head(conn: Conn, tenant: str, genesis: str) -> tuple[int, str]:
    """The tenant's chain head (sequence, hash), locked so writers of one tenant take turns."""
    await conn.execute(
        "INSERT INTO alert_chain_heads (tenant, chain_seq, hash) VALUES (%s, 0, %s) ON CONFLICT DO NOTHING",
        (tenant, genesis),
    )
    cur = await conn.execute("SELECT chain_seq, hash FROM alert_chain_heads WHERE tenant = %s FOR UPDATE", (tenant,))
    head = await cur.fetchone()
    assert head is not None  # inserted above when missing
    return int(head[0]), str(head[1])


async def append_history(conn: Conn, rows: Sequence[HistoryRow]) -> None:
    """Store chained rows (all of one tenant, after its locked head) and move the head to the last."""
    if not rows:
        return
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO alert_history (tenant, chain_seq, alert_id, action, actor, note, at, detail, prev_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(r.tenant, r.chain_seq, r.alert_id, r.action, r.actor, r.note, r.at, Jsonb(r.detail), r.prev_hash, r.hash)
             for r in rows],
        )  # fmt: skip
    last = rows[-1]
    await conn.execute(
        "UPDATE alert_chain_heads SET chain_seq = %s, hash = %s WHERE tenant = %s",
        (last.chain_seq, last.hash, last.tenant),
    )


async def history(conn: Conn, tenant: str | None = None, alert_id: str | None = None) -> list[HistoryRow]:
    """The chain rows of a tenant (every tenant: None), or of one alert."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tenant, chain_seq, alert_id::text AS alert_id, action, actor, note, at, detail, prev_hash, hash"
            " FROM alert_history WHERE (%s::text IS NULL OR tenant = %s) AND (%s::uuid IS NULL OR alert_id = %s)"
            " ORDER BY tenant, chain_seq",
            (tenant, tenant, alert_id, alert_id),
        )
        return [HistoryRow(**{**r, "at": utc_iso(r["at"])}) for r in await cur.fetchall()]
