"""Which conveyance a trip id belongs to, and whether it is closed: decided at the edge (a gateway), under
row locks, so two gateways never give one trip id to two conveyances.

A gateway decides trip events in rounds (every plan and close that arrives while one round is stored
joins the next): each call here is one statement for a whole round, so a round costs a few round trips
and one commit however many trucks were planned in it."""

from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


async def lock_all(conn: Conn, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, bool]]:
    """(conveyance, closed) of each known ``(tenant, trip id)``, locked until the transaction ends, taken in
    key order (two gateways locking overlapping rounds wait for each other, never deadlock)."""
    if not keys:
        return {}
    tenants, trips = zip(*sorted(set(keys)), strict=True)
    cur = await conn.execute(
        "SELECT o.tenant, o.trip_id, o.conveyance_id, o.closed FROM trip_owners o"
        " JOIN unnest(%s::text[], %s::text[]) AS k(tenant, trip_id) USING (tenant, trip_id)"
        " ORDER BY o.tenant, o.trip_id FOR UPDATE OF o",
        (list(tenants), list(trips)),
    )
    return {(str(t), str(trip)): (str(c), bool(closed)) for t, trip, c, closed in await cur.fetchall()}


async def take_all(conn: Conn, rows: list[tuple[str, str, str]]) -> int:
    """Give unknown trip ids to conveyances (``(tenant, trip id, conveyance)``, in key order); how many were
    given: fewer when another gateway took one first (its insert is then committed: the unique index waits
    for it), and the caller decides the round again."""
    if not rows:
        return 0
    tenants, trips, conveyances = (list(c) for c in zip(*rows, strict=True))
    cur = await conn.execute(
        "INSERT INTO trip_owners (tenant, trip_id, conveyance_id)"
        " SELECT tenant, trip_id, conveyance_id FROM unnest(%s::text[], %s::text[], %s::text[])"
        " WITH ORDINALITY AS r(tenant, trip_id, conveyance_id, n) ORDER BY n"
        " ON CONFLICT DO NOTHING",
        (tenants, trips, conveyances),
    )
    return cur.rowcount


async def close_all(conn: Conn, rows: list[tuple[str, str, str]]) -> None:
    """Close trip ids (``(tenant, trip id, conveyance)``), each only where that conveyance owns it."""
    if not rows:
        return
    tenants, trips, conveyances = (list(c) for c in zip(*rows, strict=True))
    await conn.execute(
        "UPDATE trip_owners o SET closed = true"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(tenant, trip_id, conveyance_id)"
        " WHERE o.tenant = r.tenant AND o.trip_id = r.trip_id AND o.conveyance_id = r.conveyance_id",
        (tenants, trips, conveyances),
    )
