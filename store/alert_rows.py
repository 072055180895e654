"""How an alert row reads back: the column list and the JSON document the API and channels share.

Rows are read by name (``dict_row``), never by position, so adding a column cannot shift the others."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Conn = psycopg.AsyncConnection[Any]

ALERT_COLUMNS = sql.SQL(
    "alert_id::text AS alert_id, rule_id, severity, tenant, conveyance_id, trip_id, occurred_at, message, criterion,"
    " evidence, dedup_key, status, resolved_at, acknowledged_at, acknowledged_by, resolved_by, facility_id,"
    " assignee, resolve_requested_by, updated_at"
)
_TIMES = ("occurred_at", "resolved_at", "acknowledged_at", "updated_at")


def utc_iso(at: datetime) -> str:
    """RFC 3339 UTC to the microsecond, as the history chain hashes time."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso(t: datetime | None) -> str | None:
    # Seconds precision unless the time has a fraction, as every output of sealguard writes time.
    if t is None:
        return None
    return t.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    for name in _TIMES:
        doc[name] = _iso(row[name])
    return doc


async def fetch_alerts(
    conn: Conn, query: sql.SQL | sql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[dict[str, Any]]:
    """Run a query that selects ``ALERT_COLUMNS`` and return each row as the alert document."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return [alert_json(r) for r in await cur.fetchall()]


def select_alerts(where: str, tail: str = "") -> sql.Composed:
    """``SELECT ALERT_COLUMNS FROM alerts WHERE {where} {tail}`` for a fixed ``where`` with placeholders."""
    return sql.SQL("SELECT {columns} FROM alerts WHERE {where} {tail}").format(
        columns=ALERT_COLUMNS, where=sql.SQL(where), tail=sql.SQL(tail)
    )
