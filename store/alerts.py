"""Alerts and their append-only, hash-chained history."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts.audit import HistoryRow, chain
from alerts.book import AlertRecord, Change

Conn = psycopg.AsyncConnection[Any]

# One history entry before chaining: (alert_id, action, actor, note, at, detail).
Entry = tuple[str, str, str, str | None, str, dict[str, Any]]


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def append_history(conn: Conn, tenant: str, entries: list[Entry]) -> list[HistoryRow]:
    """Chain ``entries`` after the tenant's head. The head row is locked, so writers take turns."""
    if not entries:
        return []
    await conn.execute(
        "INSERT INTO alert_chain_heads (tenant, chain_seq, hash) VALUES (%s, 0, %s) ON CONFLICT DO NOTHING",
        (tenant, "0" * 64),
    )
    cur = await conn.execute("SELECT chain_seq, hash FROM alert_chain_heads WHERE tenant = %s FOR UPDATE", (tenant,))
    head = await cur.fetchone()
    assert head is not None
    # Hash the time exactly as it reads back from the database, or verification would fail.
    canonical = [(a, act, who, note, utc_iso(datetime.fromisoformat(at.replace("Z", "+00:00"))), d)
                 for a, act, who, note, at, d in entries]  # fmt: skip
    rows = chain(tenant, (int(head[0]), str(head[1])), canonical)
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO alert_history (tenant, chain_seq, alert_id, action, actor, note, at, detail, prev_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(r.tenant, r.chain_seq, r.alert_id, r.action, r.actor, r.note, r.at, Jsonb(r.detail), r.prev_hash, r.hash)
             for r in rows],
        )  # fmt: skip
    last = rows[-1]
    await conn.execute(
        "UPDATE alert_chain_heads SET chain_seq = %s, hash = %s WHERE tenant = %s", (last.chain_seq, last.hash, tenant)
    )
    return rows


async def apply_changes(conn: Conn, changes: Iterable[tuple[Change, AlertRecord]], now: datetime) -> None:
    """Persist what the alert book decided, with one history entry per transition."""
    entries: dict[str, list[Entry]] = {}
    stamp = utc_iso(now)
    async with conn.cursor() as cur:
        for change, r in changes:
            if change == "opened":
                await cur.execute(
                    "INSERT INTO alerts (alert_id, tenant, rule_id, severity, conveyance_id, trip_id, occurred_at,"
                    " message, criterion, evidence, dedup_key, status, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', %s) ON CONFLICT DO NOTHING",
                    (r.alert_id, r.tenant, r.rule_id, r.severity, r.conveyance_id, r.trip_id, _ts(r.occurred_at),
                     r.message, r.criterion, Jsonb(r.evidence), r.dedup_key, now),
                )  # fmt: skip
                detail: dict[str, Any] = {"severity": r.severity, "rule_id": r.rule_id}
            elif change == "escalated":
                await cur.execute(
                    "UPDATE alerts SET severity = %s, message = %s, evidence = %s, updated_at = %s WHERE alert_id = %s",
                    (r.severity, r.message, Jsonb(r.evidence), now, r.alert_id),
                )
                detail = {"severity": r.severity}
            elif change == "resolved":
                await cur.execute(
                    "UPDATE alerts SET status = 'resolved', resolved_at = %s, resolved_by = 'sealguard',"
                    " updated_at = %s WHERE alert_id = %s AND status <> 'resolved'",
                    (_ts(r.resolved_at), now, r.alert_id),
                )
                detail = {"resolved_at": utc_iso(_ts(r.resolved_at) or now)}
            else:
                continue
            action = "auto_resolved" if change == "resolved" else change
            entries.setdefault(r.tenant, []).append((r.alert_id, action, "sealguard", None, stamp, detail))
    for tenant in sorted(entries):
        await append_history(conn, tenant, entries[tenant])


async def history(conn: Conn, tenant: str | None = None) -> list[HistoryRow]:
    where, params = ("WHERE tenant = %s", (tenant,)) if tenant else ("", ())
    cur = await conn.execute(
        "SELECT tenant, chain_seq, alert_id::text, action, actor, note, at, detail, prev_hash, hash"
        f" FROM alert_history {where} ORDER BY tenant, chain_seq",
        params,
    )
    return [
        HistoryRow(r[0], r[1], r[2], r[3], r[4], r[5], utc_iso(r[6]), r[7], r[8], r[9]) for r in await cur.fetchall()
    ]
