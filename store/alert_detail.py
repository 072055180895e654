"""What an alert's page shows beside the alert: its history (the hash-chained audit trail), the payloads
of its evidence events, and its notifications."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from sealguard.store.alert_rows import utc_iso

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    chain_seq: int
    action: str
    actor: str
    note: str | None
    at: datetime
    detail: dict[str, Any] | None

    def document(self) -> dict[str, Any]:
        return {"chain_seq": self.chain_seq, "action": self.action, "actor": self.actor, "note": self.note,
                "at": utc_iso(self.at), "detail": self.detail}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    channel: str
    kind: str
    tier: int
    status: str
    attempts: int
    due_at: datetime
    sent_at: datetime | None
    last_error: str | None
    reason: str | None

    def document(self) -> dict[str, Any]:
        return {"receiver": self.receiver, "channel": self.channel, "kind": self.kind, "tier": self.tier,
                "status": self.status, "attempts": self.attempts, "due_at": utc_iso(self.due_at),
                "sent_at": utc_iso(self.sent_at) if self.sent_at else None, "last_error": self.last_error,
                "reason": self.reason}  # fmt: skip


async def history(conn: Conn, tenant: str, alert_id: str) -> list[HistoryEntry]:
    cur = await conn.cursor(row_factory=class_row(HistoryEntry)).execute(
        "SELECT chain_seq, action, actor, note, at, detail FROM alert_history"
        " WHERE tenant = %s AND alert_id = %s ORDER BY chain_seq",
        (tenant, alert_id),
    )
    return await cur.fetchall()


async def evidence(conn: Conn, tenant: str, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored payloads of ``event_ids``, in event-time order."""
    cur = await conn.execute(
        "SELECT e.payload FROM event_ids i JOIN events e ON e.seq = i.seq"
        " WHERE i.tenant = %s AND i.event_id = ANY(%s) ORDER BY e.occurred_at, e.seq",
        (tenant, list(event_ids)),
    )
    return [payload for (payload,) in await cur.fetchall()]


async def notifications(conn: Conn, alert_id: str) -> list[Notification]:
    cur = await conn.cursor(row_factory=class_row(Notification)).execute(
        "SELECT receiver, channel, kind, tier, status, attempts, due_at, sent_at, last_error, reason"
        " FROM outbox WHERE alert_id = %s ORDER BY id",
        (alert_id,),
    )
    return await cur.fetchall()
