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


# One row per alert in each statement, from arrays (unnest): a batch's changes cost a statement per kind
# of change, not one or more per alert (a storm of a thousand timer alerts was thousands of round trips,
# and everything behind it waited). The callers put an alert at most once in one call.
_INSERT_ALERTS = (
    "INSERT INTO alerts (alert_id, tenant, rule_id, severity, conveyance_id, trip_id, occurred_at, message,"
    " criterion, evidence, dedup_key, status, updated_at, facility_id)"
    " SELECT a, t, r, s, c, tr, o, m, cr, e, d, 'open', %s, f"
    " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],"
    " %s::text[], %s::text[], %s::jsonb[], %s::text[], %s::text[]) AS x(a, t, r, s, c, tr, o, m, cr, e, d, f)"
    " ON CONFLICT DO NOTHING RETURNING alert_id::text"
)


async def insert_alerts(conn: Conn, alerts: Sequence[tuple[Alert, str | None]], now: datetime) -> set[str]:
    """Write newly opened alerts (the contract's shape, with the facility each came from, for routing).
    Returns the ids written: an alert already stored (a replayed batch) is left as it is and not among
    them."""
    if not alerts:
        return set()
    columns: list[list[Any]] = [[] for _ in range(12)]
    for a, facility_id in alerts:
        for column, value in zip(columns, (a.alert_id, a.tenant, a.rule_id, a.severity, a.conveyance_id, a.trip_id,
                                           a.occurred_at, a.message, a.criterion, Jsonb(a.evidence), a.dedup_key,
                                           facility_id), strict=True):  # fmt: skip
            column.append(value)
    cur = await conn.execute(
        _INSERT_ALERTS,
        (now, *columns),
    )
    return {str(row[0]) for row in await cur.fetchall()}


async def escalate_alerts(conn: Conn, worse: Sequence[tuple[str, str, str, list[str]]],
                          now: datetime) -> dict[str, str]:  # fmt: skip
    """Worse repeats, as (alert id, severity, message, evidence): raise the stored severity. Returns each
    stored alert's status by id (an alert not stored is not among them)."""
    if not worse:
        return {}
    cur = await conn.execute(
        "UPDATE alerts SET severity = x.s, message = x.m, evidence = x.e, updated_at = %s"
        " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::jsonb[]) AS x(id, s, m, e)"
        " WHERE alerts.alert_id = x.id RETURNING alerts.alert_id::text, alerts.status",
        (now, [w[0] for w in worse], [w[1] for w in worse], [w[2] for w in worse], [Jsonb(w[3]) for w in worse]),
    )
    return {str(row[0]): str(row[1]) for row in await cur.fetchall()}


async def auto_resolve_alerts(conn: Conn, resolved: Sequence[tuple[str, float | None]], now: datetime) -> None:
    """Alerts whose condition cleared, as (alert id, when it cleared): resolved by sealguard, unless a
    person resolved them first."""
    if not resolved:
        return
    await conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = x.r, resolved_by = 'sealguard', updated_at = %s"
        " FROM unnest(%s::uuid[], %s::timestamptz[]) AS x(id, r)"
        " WHERE alerts.alert_id = x.id AND alerts.status <> 'resolved'",
        (now, [r[0] for r in resolved], [_ts(r[1]) for r in resolved]),
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
