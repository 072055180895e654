"""What the fleet pages read besides the projection: a conveyance's stored events and the actions people
took on its alerts, trips as planned, and facilities."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Action:
    alert_id: str
    action: str
    actor: str
    note: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Trip:
    tenant: str
    trip_id: str
    conveyance_id: str
    status: str
    planned_at: datetime
    closed_at: datetime | None
    plan: dict[str, Any] | None = None  # only when asked for one trip


@dataclass(frozen=True, slots=True)
class Facility:
    tenant: str
    place: dict[str, Any]


async def conveyance_events(conn: Conn, conveyance_id: str, tenant: str | None, since: datetime | None,
                            until: datetime | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The stored payloads of one conveyance's events in ``[since, until)``, in event-time order."""
    cur = await conn.execute(
        "SELECT payload FROM events WHERE conveyance_id = %s AND (%s::text IS NULL OR tenant = %s)"
        " AND (%s::timestamptz IS NULL OR occurred_at >= %s) AND (%s::timestamptz IS NULL OR occurred_at < %s)"
        " ORDER BY occurred_at, seq LIMIT %s",
        (conveyance_id, tenant, tenant, since, since, until, until, limit),
    )
    return [payload for (payload,) in await cur.fetchall()]


async def conveyance_actions(conn: Conn, conveyance_id: str, tenant: str | None) -> list[Action]:
    """What people (and the system) did to the conveyance's alerts, in time order."""
    cur = await conn.cursor(row_factory=class_row(Action)).execute(
        "SELECT h.alert_id::text AS alert_id, h.action, h.actor, h.note, h.at FROM alert_history h"
        " JOIN alerts a ON a.alert_id = h.alert_id WHERE a.conveyance_id = %s"
        " AND (%s::text IS NULL OR a.tenant = %s) ORDER BY h.at, h.chain_seq",
        (conveyance_id, tenant, tenant),
    )
    return await cur.fetchall()


async def trips(conn: Conn, tenant: str | None, status: str | None, limit: int) -> list[Trip]:
    cur = await conn.cursor(row_factory=class_row(Trip)).execute(
        "SELECT tenant, trip_id, conveyance_id, status, planned_at, closed_at FROM trips"
        " WHERE (%s::text IS NULL OR tenant = %s) AND (%s::text IS NULL OR status = %s)"
        " ORDER BY planned_at DESC LIMIT %s",
        (tenant, tenant, status, status, limit),
    )
    return await cur.fetchall()


async def trips_named(conn: Conn, trip_id: str, tenant: str | None) -> list[Trip]:
    """The trip of that id with its plan: in the tenant, or (for ``None``) in up to two tenants."""
    cur = await conn.cursor(row_factory=class_row(Trip)).execute(
        "SELECT tenant, trip_id, conveyance_id, status, planned_at, closed_at, plan FROM trips WHERE trip_id = %s"
        " AND (%s::text IS NULL OR tenant = %s) ORDER BY planned_at DESC LIMIT 2",
        (trip_id, tenant, tenant),
    )
    return await cur.fetchall()


async def facilities(conn: Conn, tenant: str | None) -> list[Facility]:
    cur = await conn.cursor(row_factory=class_row(Facility)).execute(
        "SELECT tenant, place FROM facilities WHERE %s::text IS NULL OR tenant = %s ORDER BY tenant, facility_id",
        (tenant, tenant),
    )
    return await cur.fetchall()
