"""The notification outbox: rows written with the alert change, claimed and settled by notifiers."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.matchers import labels_of
from sealguard.alerts.routing import plans
from sealguard.store.alert_rows import ALERT_COLUMNS, alert_json

Conn = psycopg.AsyncConnection[Any]
_NEW_ROW = (
    "INSERT INTO outbox (tenant, alert_id, receiver, channel, kind, tier, route, group_key, group_interval,"
    " repeat_interval, due_at, next_attempt_at, deadline_at, created_at)"
)
_INSERT = _NEW_ROW + " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def _row(config: AlertingConfig, alert: Mapping[str, Any], receiver: str, kind: str, tier: int, route: str,
         group_key: str, group_interval: float, repeat: float | None, due: datetime,
         now: datetime) -> tuple[Any, ...]:  # fmt: skip
    deadline = due + timedelta(seconds=config.delivery_deadline)
    channel = config.receiver(receiver).channel
    return (alert["tenant"], alert["alert_id"], receiver, channel, kind, tier, route, group_key, group_interval,
            repeat, due, due, deadline, now)  # fmt: skip


async def enqueue_pages(conn: Conn, config: AlertingConfig, alert: Mapping[str, Any], now: datetime, *,
                        first_tier_only: bool = False) -> int:  # fmt: skip
    """Trigger rows for every route and escalation tier the alert reaches. Tier ``n`` is due ``after``
    its delay (plus the route's group_wait); acknowledging the alert cancels the tiers not yet sent."""
    rows = []
    labels = labels_of(alert)
    for plan in plans(config, labels):
        repeat = plan.repeat_interval if alert["severity"] == "critical" and plan.repeat_interval > 0 else None
        for n, tier in enumerate(plan.tiers[:1] if first_tier_only else plan.tiers):
            due = now + timedelta(seconds=plan.group_wait + tier.after)
            key = plan.group_key(n, labels)
            rows += [_row(config, alert, r, "trigger", n, plan.route, key, plan.group_interval, repeat, due, now)
                     for r in tier.receivers]  # fmt: skip
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(_INSERT, rows)
    return len(rows)


async def enqueue_followups(conn: Conn, config: AlertingConfig, alert: Mapping[str, Any], kind: str,
                            now: datetime) -> int:  # fmt: skip
    """``acknowledge`` or ``resolve`` to every receiver already paged for the alert (e-mail is not told
    of acknowledgements; a receiver with ``send_resolved: false`` is not told of resolution)."""
    cur = await conn.execute(
        "SELECT DISTINCT receiver, route, group_key FROM outbox"
        " WHERE alert_id = %s AND kind = 'trigger' AND status IN ('sent', 'sending')",
        (alert["alert_id"],),
    )
    known = {r.name: r for r in config.receivers}
    rows = []
    for name, route, group_key in await cur.fetchall():
        receiver = known.get(name)
        if receiver is None or (kind == "acknowledge" and receiver.channel == "email"):
            continue
        if kind == "resolve" and not receiver.send_resolved:
            continue
        rows.append(_row(config, alert, name, kind, 0, route, f"{group_key}:{kind}", 0.0, None, now, now))
    if rows:
        async with conn.cursor() as c:
            await c.executemany(_INSERT, rows)
    return len(rows)


async def cancel_pending(conn: Conn, alert_id: str, reason: str, kinds: tuple[str, ...]) -> int:
    cur = await conn.execute(
        "UPDATE outbox SET status = 'cancelled', reason = %s, lease_until = NULL"
        " WHERE alert_id = %s AND status = 'pending' AND kind = ANY(%s)",
        (reason, alert_id, list(kinds)),
    )
    return cur.rowcount


# --- the notifier's side ----------------------------------------------------------------------------


@dataclass(slots=True)
class OutboxRow:
    id: int
    tenant: str
    alert_id: str
    receiver: str
    channel: str
    kind: str
    tier: int
    group_key: str
    group_interval: float
    repeat_interval: float | None
    batch_id: str | None
    attempts: int
    created_at: datetime
    deadline_at: datetime


_ROW_COLUMNS = (
    "id, tenant, alert_id::text, receiver, channel, kind, tier, group_key, group_interval, repeat_interval,"
    " batch_id::text, attempts, created_at, deadline_at"
)


async def due_rows(conn: Conn, now: datetime, limit: int) -> list[OutboxRow]:
    """Rows ready to go, locked for this notifier: pending and due, or claimed by a notifier whose lease
    ran out (it died mid-delivery; the batch goes again under the same idempotency key)."""
    cur = await conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM outbox WHERE (status = 'pending' AND next_attempt_at <= %s)"
        " OR (status = 'sending' AND lease_until < %s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, now, limit),
    )
    return [OutboxRow(*r) for r in await cur.fetchall()]


async def alert_docs(conn: Conn, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
    cur = await conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ANY(%s::uuid[])", (alert_ids,))
    return {str(r[0]): alert_json(r) for r in await cur.fetchall()}


async def open_alerts_near(conn: Conn, conveyances: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Open or acknowledged alerts on these (tenant, conveyance) pairs: the candidates that inhibit."""
    if not conveyances:
        return []
    cur = await conn.execute(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE status <> 'resolved'"
        " AND (tenant, conveyance_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([t for t, _ in conveyances], [c for _, c in conveyances]),
    )
    return [alert_json(r) for r in await cur.fetchall()]


async def active_silences(conn: Conn, tenants: list[str], now: datetime) -> dict[str, list[tuple[str, list[str]]]]:
    cur = await conn.execute(
        "SELECT tenant, silence_id::text, matchers FROM silences WHERE tenant = ANY(%s) AND starts_at <= %s"
        " AND ends_at > %s AND expired_at IS NULL ORDER BY created_at",
        (tenants, now, now),
    )
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for tenant, sid, matchers in await cur.fetchall():
        out.setdefault(tenant, []).append((sid, list(matchers)))
    return out


async def group_last_sent(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    if not keys:
        return {}
    cur = await conn.execute(
        "SELECT receiver, group_key, last_sent_at FROM notify_groups"
        " WHERE (receiver, group_key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([r for r, _ in keys], [g for _, g in keys]),
    )
    return {(r, g): t for r, g, t in await cur.fetchall()}


async def settle_each(conn: Conn, rows: list[tuple[int, str, str]]) -> None:
    """Close rows that will not be sent: (id, status, reason) each, in one round trip."""
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "UPDATE outbox SET status = %s, reason = %s, lease_until = NULL WHERE id = %s",
                [(status, reason, row_id) for row_id, status, reason in rows],
            )


async def defer(conn: Conn, rows: list[tuple[int, datetime]]) -> None:
    """Not before ``until`` (the group's interval is not over): no attempt is counted."""
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany("UPDATE outbox SET next_attempt_at = %s WHERE id = %s",
                                  [(until, row_id) for row_id, until in rows])  # fmt: skip


async def claim(conn: Conn, ids: list[int], batch_id: str | None, lease_until: datetime) -> str:
    """Mark rows as being sent by this notifier, under one batch id (kept when it already has one)."""
    batch = batch_id or str(uuid.uuid4())
    await conn.execute(
        "UPDATE outbox SET status = 'sending', batch_id = %s, lease_until = %s WHERE id = ANY(%s)",
        (batch, lease_until, ids),
    )
    return batch


async def delivered(conn: Conn, rows: list[OutboxRow], now: datetime) -> None:
    """Sent: record it, remember the group's send time, and schedule the next repeat of an unacknowledged
    critical page."""
    ids = [r.id for r in rows]
    await conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = %s, lease_until = NULL, attempts = attempts + 1"
        " WHERE id = ANY(%s)",
        (now, ids),
    )
    first = rows[0]
    await conn.execute(
        "INSERT INTO notify_groups (receiver, group_key, last_sent_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (receiver, group_key) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at",
        (first.receiver, first.group_key, now),
    )
    repeats = [r for r in rows if r.kind == "trigger" and r.repeat_interval]
    if repeats:
        await conn.execute(
            _NEW_ROW + " SELECT o.tenant, o.alert_id, o.receiver, o.channel, 'trigger', o.tier, o.route, o.group_key,"
            " o.group_interval, o.repeat_interval, %(now)s + make_interval(secs => o.repeat_interval),"
            " %(now)s + make_interval(secs => o.repeat_interval),"
            " %(now)s + make_interval(secs => o.repeat_interval) + (o.deadline_at - o.due_at), %(now)s"
            " FROM outbox o JOIN alerts a ON a.alert_id = o.alert_id"
            " WHERE o.id = ANY(%(ids)s) AND a.status = 'open' AND a.severity = 'critical'",
            {"now": now, "ids": [r.id for r in repeats]},
        )


async def retry_later(conn: Conn, rows: list[OutboxRow], error: str, at: datetime) -> None:
    """Back to pending (same batch, so the same idempotency key) until ``at``; failed past its deadline."""
    ids = [r.id for r in rows]
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = %s, lease_until = NULL,"
        " status = CASE WHEN %s > deadline_at THEN 'failed' ELSE 'pending' END, next_attempt_at = %s"
        " WHERE id = ANY(%s)",
        (error[:1000], at, at, ids),
    )


async def failed(conn: Conn, rows: list[OutboxRow], error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = %s, lease_until = NULL"
        " WHERE id = ANY(%s)",
        (error[:1000], [r.id for r in rows]),
    )


async def depth(conn: Conn, now: datetime) -> tuple[int, float]:
    """Rows waiting (pending or sending) and the age in seconds of the oldest that is already due."""
    cur = await conn.execute(
        "SELECT count(*), EXTRACT(EPOCH FROM %s - min(due_at) FILTER (WHERE due_at <= %s))"
        " FROM outbox WHERE status IN ('pending', 'sending')",
        (now, now),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0.0)
