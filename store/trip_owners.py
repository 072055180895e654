"""Which conveyance a trip id belongs to, and whether it is closed: decided at the edge (a gateway), under
a row lock, so two gateways never give one trip id to two conveyances."""

from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


async def lock(conn: Conn, tenant: str, trip_id: str) -> tuple[str, bool] | None:
    """(conveyance, closed) of the trip id, locked until the transaction ends; None when unknown."""
    cur = await conn.execute(
        "SELECT conveyance_id, closed FROM trip_owners WHERE tenant = %s AND trip_id = %s FOR UPDATE",
        (tenant, trip_id),
    )
    row = await cur.fetchone()
    return (str(row[0]), bool(row[1])) if row else None


async def take(conn: Conn, tenant: str, trip_id: str, conveyance_id: str) -> bool:
    """Give an unknown trip id to a conveyance; False when another transaction took it first."""
    cur = await conn.execute(
        "INSERT INTO trip_owners (tenant, trip_id, conveyance_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (tenant, trip_id, conveyance_id),
    )
    return cur.rowcount == 1


async def close(conn: Conn, tenant: str, trip_id: str, conveyance_id: str) -> None:
    await conn.execute(
        "UPDATE trip_owners SET closed = true WHERE tenant = %s AND trip_id = %s AND conveyance_id = %s",
        (tenant, trip_id, conveyance_id),
    )
