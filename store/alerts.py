"""Alerts and their append-only, hash-chained history."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sealguard.alerts.audit import HistoryRow, chain
from sealguard.alerts.book import AlertRecord, Change
from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.lifecycle import AlertState, Decision, Verb, decide
from sealguard.store import outbox
from sealguard.store.alert_rows import ALERT_COLUMNS, alert_json

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


async def apply_changes(conn: Conn, changes: Iterable[tuple[Change, AlertRecord]], now: datetime,
                        alerting: AlertingConfig | None = None) -> None:  # fmt: skip
    """Persist what the alert book decided, with one history entry per transition, and the notifications
    it causes in the same transaction (the outbox)."""
    entries: dict[str, list[Entry]] = {}
    stamp = utc_iso(now)
    async with conn.cursor() as cur:
        for change, r in changes:
            doc = {**r.to_json(), "facility_id": r.facility_id}
            if change == "opened":
                await cur.execute(
                    "INSERT INTO alerts (alert_id, tenant, rule_id, severity, conveyance_id, trip_id, occurred_at,"
                    " message, criterion, evidence, dedup_key, status, updated_at, facility_id)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', %s, %s) ON CONFLICT DO NOTHING",
                    (r.alert_id, r.tenant, r.rule_id, r.severity, r.conveyance_id, r.trip_id, _ts(r.occurred_at),
                     r.message, r.criterion, Jsonb(r.evidence), r.dedup_key, now, r.facility_id),
                )  # fmt: skip
                detail: dict[str, Any] = {"severity": r.severity, "rule_id": r.rule_id}
                if alerting is not None and cur.rowcount:
                    await outbox.enqueue_pages(conn, alerting, doc, now)
            elif change == "escalated":
                await cur.execute(
                    "UPDATE alerts SET severity = %s, message = %s, evidence = %s, updated_at = %s WHERE alert_id = %s"
                    " RETURNING status",
                    (r.severity, r.message, Jsonb(r.evidence), now, r.alert_id),
                )
                detail = {"severity": r.severity}
                row = await cur.fetchone()
                if alerting is not None and row is not None:
                    # A worse repeat pages again; an acknowledged alert only its first tier.
                    doc["status"] = row[0]
                    await outbox.enqueue_pages(conn, alerting, doc, now, first_tier_only=row[0] != "open")
            elif change == "resolved":
                await cur.execute(
                    "UPDATE alerts SET status = 'resolved', resolved_at = %s, resolved_by = 'sealguard',"
                    " updated_at = %s WHERE alert_id = %s AND status <> 'resolved'",
                    (_ts(r.resolved_at), now, r.alert_id),
                )
                detail = {"resolved_at": utc_iso(_ts(r.resolved_at) or now)}
                if alerting is not None:
                    await outbox.cancel_pending(conn, r.alert_id, "auto-resolved", ("trigger", "acknowledge"))
                    await outbox.enqueue_followups(conn, alerting, doc, "resolve", now)
            else:
                continue
            action = "auto_resolved" if change == "resolved" else change
            entries.setdefault(r.tenant, []).append((r.alert_id, action, "sealguard", None, stamp, detail))
    for tenant in sorted(entries):
        await append_history(conn, tenant, entries[tenant])


async def act(conn: Conn, alerting: AlertingConfig, alert_id: str, tenant: str | None, verb: Verb, actor: str,
              now: datetime, *, note: str | None = None, assignee: str | None = None,
              ) -> tuple[Decision, dict[str, Any] | None]:  # fmt: skip
    """A person's action on one alert (``tenant`` None: any tenant), decided and stored with its history
    and notifications. The caller releases the engine's open alert when ``Decision.released``."""
    cur = await conn.execute(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = %s::uuid AND (%s::text IS NULL OR tenant = %s)"
        " FOR UPDATE",
        (alert_id, tenant, tenant),
    )
    row = await cur.fetchone()
    if row is None:
        return Decision(AlertState("", ""), error=f"no alert {alert_id}", code=404), None
    doc = alert_json(row)
    state = AlertState(doc["status"], doc["rule_id"], doc["acknowledged_by"], doc["resolve_requested_by"],
                       doc["assignee"])  # fmt: skip
    decision = decide(state, verb, actor, two_person=doc["rule_id"] in alerting.two_person_rules,
                      assignee=assignee, note=note)  # fmt: skip
    if decision.error is not None:
        return decision, doc
    new = decision.state
    acked = new.status != "open" and state.status == "open"
    resolved = new.status == "resolved"
    await conn.execute(
        "UPDATE alerts SET status = %s, acknowledged_by = %s, resolve_requested_by = %s, assignee = %s,"
        " acknowledged_at = CASE WHEN %s THEN %s ELSE acknowledged_at END,"
        " resolved_at = CASE WHEN %s THEN %s ELSE resolved_at END,"
        " resolved_by = CASE WHEN %s THEN %s ELSE resolved_by END, updated_at = %s WHERE alert_id = %s::uuid",
        (new.status, new.acknowledged_by, new.resolve_requested_by, new.assignee, acked, now, resolved, now,
         resolved, actor, now, alert_id),
    )  # fmt: skip
    stamp = utc_iso(now)
    entries = [(alert_id, action, actor, note, stamp, detail) for action, detail in decision.history]
    await append_history(conn, doc["tenant"], entries)
    if decision.stop_paging:
        kinds = ("trigger", "acknowledge") if resolved else ("trigger",)
        await outbox.cancel_pending(conn, alert_id, f"{new.status} by {actor}", kinds)
    doc.update(status=new.status, acknowledged_by=new.acknowledged_by, assignee=new.assignee,
               resolve_requested_by=new.resolve_requested_by)  # fmt: skip
    if decision.notify is not None:
        await outbox.enqueue_followups(conn, alerting, doc, decision.notify, now)
    return decision, doc


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
