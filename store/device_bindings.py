"""Device bindings: which conveyance a foreign device reports for, over which period.

A binding is found by the message's own event time, so a late message from a tracker that has since
moved to another trailer still lands on the trailer it was on. Binding a device again from a time
closes its open binding there; a period that would overlap another is refused. Changes of one device
are serialised by a transaction-scoped advisory lock, so two operators binding at once cannot overlap.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from sealguard.errors import SealguardError

Conn = psycopg.AsyncConnection[Any]


class BindingConflict(SealguardError):
    """The new period overlaps a binding that is not open-ended at its start."""


@dataclass(frozen=True, slots=True)
class Binding:
    id: int
    tenant: str
    device_id: str
    conveyance_id: str
    seal_number: str | None
    valid_from: datetime
    valid_until: datetime | None
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "tenant": self.tenant, "device_id": self.device_id, "conveyance_id": self.conveyance_id,
            "seal_number": self.seal_number, "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None, "created_by": self.created_by,
        }  # fmt: skip


_COLUMNS = sql.SQL("id, tenant, device_id, conveyance_id, seal_number, valid_from, valid_until, created_by")


def _q(text: str) -> sql.Composed:
    return sql.SQL(text).format(columns=_COLUMNS)


async def _lock(conn: Conn, tenant: str, device_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (f"{tenant}\x1f{device_id}",))


async def bind(conn: Conn, tenant: str, device_id: str, conveyance_id: str, valid_from: datetime, *,
               seal_number: str | None, created_by: str) -> Binding:  # fmt: skip
    """Bind from ``valid_from`` on (open-ended), closing the device's open binding at that time.
    Call inside a transaction."""
    await _lock(conn, tenant, device_id)
    cur = conn.cursor(row_factory=class_row(Binding))
    await cur.execute(
        _q(
            "SELECT {columns} FROM device_bindings WHERE tenant = %s AND device_id = %s"
            " AND (valid_until IS NULL OR valid_until > %s) ORDER BY valid_from FOR UPDATE"
        ),
        (tenant, device_id, valid_from),
    )
    for existing in await cur.fetchall():
        if existing.valid_until is None and existing.valid_from < valid_from:
            await conn.execute("UPDATE device_bindings SET valid_until = %s WHERE id = %s", (valid_from, existing.id))
            continue
        raise BindingConflict(
            f"device {device_id} is bound to {existing.conveyance_id} from {existing.valid_from.isoformat()}"
            + (f" until {existing.valid_until.isoformat()}" if existing.valid_until else "")
            + f"; a binding from {valid_from.isoformat()} would overlap it"
        )
    await cur.execute(
        _q(
            "INSERT INTO device_bindings (tenant, device_id, conveyance_id, seal_number, valid_from, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING {columns}"
        ),
        (tenant, device_id, conveyance_id, seal_number, valid_from, created_by),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def unbind(conn: Conn, tenant: str, device_id: str, at: datetime) -> Binding | None:
    """End the device's open binding at ``at``; None when it has none open then."""
    await _lock(conn, tenant, device_id)
    cur = conn.cursor(row_factory=class_row(Binding))
    await cur.execute(
        _q(
            "UPDATE device_bindings SET valid_until = %s WHERE tenant = %s AND device_id = %s"
            " AND valid_until IS NULL AND valid_from < %s RETURNING {columns}"
        ),
        (at, tenant, device_id, at),
    )
    return await cur.fetchone()


async def lookup(conn: Conn, tenant: str, device_id: str, at: datetime) -> Binding | None:
    cur = conn.cursor(row_factory=class_row(Binding))
    await cur.execute(
        _q(
            "SELECT {columns} FROM device_bindings WHERE tenant = %s AND device_id = %s AND valid_from <= %s"
            " AND (valid_until IS NULL OR valid_until > %s) ORDER BY valid_from DESC LIMIT 1"
        ),
        (tenant, device_id, at, at),
    )
    return await cur.fetchone()


async def of_device(conn: Conn, tenant: str, device_id: str) -> list[Binding]:
    """Every period of one device, newest first: what the binding API shows for it."""
    cur = conn.cursor(row_factory=class_row(Binding))
    await cur.execute(
        _q("SELECT {columns} FROM device_bindings WHERE tenant = %s AND device_id = %s ORDER BY valid_from DESC"),
        (tenant, device_id),
    )
    return await cur.fetchall()


async def listing(conn: Conn, tenant: str | None, *, current_at: datetime | None, limit: int,
                  offset: int) -> list[Binding]:  # fmt: skip
    """Bindings of ``tenant`` (all when None), by device; only those valid at ``current_at`` when given."""
    where: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if tenant is not None:
        where.append(sql.SQL("tenant = %s"))
        params.append(tenant)
    if current_at is not None:
        where.append(sql.SQL("valid_from <= %s AND (valid_until IS NULL OR valid_until > %s)"))
        params += [current_at, current_at]
    cur = conn.cursor(row_factory=class_row(Binding))
    query = sql.SQL(
        "SELECT {columns} FROM device_bindings WHERE {where} ORDER BY tenant, device_id, valid_from DESC"
        " LIMIT %s OFFSET %s"
    ).format(columns=_COLUMNS, where=sql.SQL(" AND ").join(where))
    await cur.execute(query, (*params, limit, offset))
    return await cur.fetchall()
