"""The notification outbox: rows written with the alert change, claimed and settled by notifiers.

What to write (pages, follow-ups, repeats) is decided by ``alerts.paging``; this module moves rows."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from sealguard.schemas.outbox import OutboxEntry, OutboxRow, PagedReceiver
from sealguard.store.alert_rows import fetch_alerts, select_alerts

Conn = psycopg.AsyncConnection[Any]


async def insert(conn: Conn, entries: Sequence[OutboxEntry]) -> int:
    if not entries:
        return 0
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO outbox (tenant, alert_id, receiver, channel, kind, tier, route, group_key, group_interval,"
            " repeat_interval, due_at, next_attempt_at, deadline_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(e.tenant, e.alert_id, e.receiver, e.channel, e.kind, e.tier, e.route, e.group_key, e.group_interval,
              e.repeat_interval, e.due_at, e.due_at, e.deadline_at, e.created_at) for e in entries],
        )  # fmt: skip
    return len(entries)


async def paged_receivers(conn: Conn, alert_id: str) -> list[PagedReceiver]:
    """Receivers a trigger of the alert was sent to (or is being sent to)."""
    return (await paged_receivers_of(conn, [alert_id])).get(alert_id, [])


async def paged_receivers_of(conn: Conn, alert_ids: Sequence[str]) -> dict[str, list[PagedReceiver]]:
    """``paged_receivers`` of each alert in one statement (an alert no one was paged for is left out)."""
    if not alert_ids:
        return {}
    cur = await conn.execute(
        "SELECT DISTINCT alert_id::text, receiver, route, group_key FROM outbox"
        " WHERE alert_id = ANY(%s::uuid[]) AND kind = 'trigger' AND status IN ('sent', 'sending') ORDER BY 1, 2, 3, 4",
        (list(alert_ids),),
    )
    out: dict[str, list[PagedReceiver]] = {}
    for alert_id, receiver, route, group_key in await cur.fetchall():
        out.setdefault(str(alert_id), []).append(PagedReceiver(receiver, route, group_key))
    return out


async def cancel_pending(conn: Conn, alert_ids: Sequence[str], reason: str, kinds: tuple[str, ...]) -> int:
    """The pages of ``kinds`` not yet sent for these alerts, cancelled with ``reason``."""
    if not alert_ids:
        return 0
    cur = await conn.execute(
        "UPDATE outbox SET status = 'cancelled', reason = %s, lease_until = NULL"
        " WHERE alert_id = ANY(%s::uuid[]) AND status = 'pending' AND kind = ANY(%s)",
        (reason, list(alert_ids), list(kinds)),
    )
    return cur.rowcount


# --- the notifier's side ----------------------------------------------------------------------------


_ROW_COLUMNS = (
    "id, tenant, alert_id::text AS alert_id, receiver, channel, kind, tier, route, group_key, group_interval,"
    " repeat_interval, batch_id::text AS batch_id, attempts, due_at, created_at, deadline_at"
)


async def due_rows(conn: Conn, now: datetime, limit: int) -> list[OutboxRow]:
    """Rows ready to go, locked for this notifier: pending and due, or claimed by a notifier whose lease
    ran out (it died mid-delivery; the batch goes again under the same idempotency key)."""
    async with conn.cursor(row_factory=class_row(OutboxRow)) as cur:
        await cur.execute(
            "SELECT " + _ROW_COLUMNS + " FROM outbox WHERE (status = 'pending' AND next_attempt_at <= %s)"
            " OR (status = 'sending' AND lease_until < %s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, now, limit),
        )
        return await cur.fetchall()


async def alert_docs(conn: Conn, alert_ids: list[str], *, share: bool = False) -> dict[str, dict[str, Any]]:
    """The alerts by id, as the channels' JSON documents; ``share`` locks them against a person's action
    until the transaction ends (the repeat of a page must see whether the alert was acknowledged meanwhile)."""
    query = select_alerts("alert_id = ANY(%s::uuid[])", "ORDER BY alert_id FOR SHARE" if share else "")
    return {a.alert_id: a.document() for a in await fetch_alerts(conn, query, (alert_ids,))}


async def open_alerts_near(conn: Conn, conveyances: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Open or acknowledged alerts on these (tenant, conveyance) pairs, as documents: the candidates that
    inhibit."""
    if not conveyances:
        return []
    query = select_alerts(
        "status <> 'resolved' AND (tenant, conveyance_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
    )
    found = await fetch_alerts(conn, query, ([t for t, _ in conveyances], [c for _, c in conveyances]))
    return [a.document() for a in found]


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
    """Sent: record it and remember the group's send time (the repeat of a page is written by the caller,
    as ``alerts.paging.repeats`` decides)."""
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
