"""How an alert row reads back: the column list, read into the one stored shape (``StoredAlert``).

Rows are read by name (``dict_row``), never by position, so adding a column cannot shift the others."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from sealguard.schemas.alerts import StoredAlert

Conn = psycopg.AsyncConnection[Any]

ALERT_COLUMNS = sql.SQL(
    "alert_id::text AS alert_id, rule_id, severity, tenant, conveyance_id, trip_id, occurred_at, message, criterion,"
    " evidence, dedup_key, status, resolved_at, acknowledged_at, acknowledged_by, resolved_by, facility_id,"
    " assignee, resolve_requested_by, updated_at"
)


def utc_iso(at: datetime) -> str:
    """RFC 3339 UTC to the microsecond, as the history chain hashes time."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def fetch_alerts(
    conn: Conn, query: sql.SQL | sql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[StoredAlert]:
    """Run a query that selects ``ALERT_COLUMNS`` and return each row as a ``StoredAlert``."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return [StoredAlert.model_validate(r) for r in await cur.fetchall()]


def select_alerts(where: str, tail: str = "") -> sql.Composed:
    """``SELECT ALERT_COLUMNS FROM alerts WHERE {where} {tail}`` for a fixed ``where`` with placeholders."""
    return sql.SQL("SELECT {columns} FROM alerts WHERE {where} {tail}").format(
        columns=ALERT_COLUMNS, where=sql.SQL(where), tail=sql.SQL(tail)
    )


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Which alerts a list shows (each ``None`` is no filter), and in which order. ``unresolved`` is open
    or acknowledged: what still needs people; ``search`` is part of a conveyance id, any case."""

    tenant: str | None = None
    status: str | None = None  # open, acknowledged, resolved, unresolved
    severity: str | None = None
    rule: str | None = None
    conveyance: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    sort: str = "newest"  # newest, oldest, severity


SEVERITY_RANK = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"
ORDERS = {
    "newest": "occurred_at DESC, alert_id",
    "oldest": "occurred_at, alert_id",
    "severity": f"{SEVERITY_RANK}, occurred_at DESC, alert_id",
}


async def page_of_alerts(conn: Conn, q: AlertQuery, limit: int, offset: int) -> tuple[list[StoredAlert], int]:
    """One page of the alerts ``q`` selects, and how many it selects in all."""
    where: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if q.status == "unresolved":
        where.append(sql.SQL("status <> 'resolved'"))
    status = None if q.status == "unresolved" else q.status
    for column, op, value in (("tenant", "=", q.tenant), ("status", "=", status), ("severity", "=", q.severity),
                              ("rule_id", "=", q.rule),
                              ("conveyance_id", "=", q.conveyance), ("occurred_at", ">=", q.since),
                              ("occurred_at", "<", q.until)):  # fmt: skip
        if value is not None:
            where.append(sql.SQL("{} " + op + " %s").format(sql.Identifier(column)))
            params.append(value)
    if q.search:
        escaped = q.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(sql.SQL("conveyance_id ILIKE %s"))
        params.append(f"%{escaped}%")
    joined = sql.SQL(" AND ").join(where)
    query = sql.SQL("SELECT {columns} FROM alerts WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s").format(
        columns=ALERT_COLUMNS, where=joined, order=sql.SQL(ORDERS[q.sort])
    )
    rows = await fetch_alerts(conn, query, [*params, limit, offset])
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM alerts WHERE {where}").format(where=joined), params)
    counted = await cur.fetchone()
    return rows, int(counted[0]) if counted else 0


async def open_with_key(conn: Conn, dedup_key: str) -> bool:
    """Whether an alert with ``dedup_key`` is open or acknowledged (not resolved)."""
    cur = await conn.execute("SELECT 1 FROM alerts WHERE dedup_key = %s AND status <> 'resolved' LIMIT 1", (dedup_key,))
    return await cur.fetchone() is not None


@dataclass(frozen=True, slots=True)
class AlertState:
    """What a conveyance's own unresolved alerts say, whatever a page has loaded: the worst severity, how
    many are unresolved, and how many of those nobody has acknowledged."""

    worst: str
    unresolved: int
    unhandled: int

    def document(self) -> dict[str, Any]:
        return {"worst": self.worst, "unresolved": self.unresolved, "unhandled": self.unhandled}


async def alert_states(conn: Conn, tenant: str | None) -> dict[tuple[str, str], AlertState]:
    """Every conveyance's alert state (``alerts_tenant_status`` serves it: unresolved alerts only)."""
    cur = await conn.execute(
        f"SELECT tenant, conveyance_id, CASE min({SEVERITY_RANK}) WHEN 0 THEN 'critical' WHEN 1 THEN 'high'"
        " WHEN 2 THEN 'medium' ELSE 'low' END, count(*), count(*) FILTER (WHERE status = 'open')"
        " FROM alerts WHERE status IN ('open', 'acknowledged') AND conveyance_id IS NOT NULL"
        " AND (%s::text IS NULL OR tenant = %s) GROUP BY tenant, conveyance_id",
        (tenant, tenant),
    )
    return {(r[0], r[1]): AlertState(r[2], int(r[3]), int(r[4])) for r in await cur.fetchall()}


async def unresolved_refs(
    conn: Conn, tenant: str | None, limit: int = 20_000
) -> list[tuple[str, str, str, str, str, str]]:
    """The unresolved alerts as plain references (tenant, conveyance, id, rule, severity, status), newest
    first: what a list of conveyances names, without reading whole alerts."""
    cur = await conn.execute(
        "SELECT tenant, conveyance_id, alert_id::text, rule_id, severity, status FROM alerts"
        " WHERE status IN ('open', 'acknowledged') AND conveyance_id IS NOT NULL"
        " AND (%s::text IS NULL OR tenant = %s) ORDER BY occurred_at DESC LIMIT %s",
        (tenant, tenant, limit),
    )
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in await cur.fetchall()]
