"""The seal stage's table: every affix and removal of each seal number, whichever worker saw it.

Writers of one seal take turns (a transaction-scoped advisory lock per seal, taken in a fixed order), so
each judges the seal's facts with every committed fact in view."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class SealFactRow:
    tenant: str
    seal: str
    event_id: str
    seal_number: str
    kind: str
    conveyance_id: str
    trip_id: str | None
    at: float
    position: int
    reuse_raised: bool = False


async def lock_seals(conn: Conn, seals: Iterable[tuple[str, str]]) -> None:
    """Take the (tenant, seal) locks in sorted order (no two writers wait on each other in a cycle), in
    one statement: a batch touches dozens of seals, and a round trip each was most of the seal stage.

    The order holds in one statement: the locks are taken as the target list is evaluated, which for a
    volatile function comes after the sort (PostgreSQL postpones volatile output expressions past ORDER
    BY), and the sort is on each key's place in the sorted array."""
    keys = [f"{tenant}\x1f{seal}" for tenant, seal in sorted(set(seals))]
    if keys:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 5361))"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
            (keys,),
        )


async def insert(conn: Conn, facts: Sequence[SealFactRow]) -> None:
    if not facts:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO seal_facts (tenant, seal, event_id, seal_number, kind, conveyance_id, trip_id, at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(f.tenant, f.seal, f.event_id, f.seal_number, f.kind, f.conveyance_id, f.trip_id, f.at, f.position)
             for f in facts],
        )  # fmt: skip


async def of_seals(conn: Conn, seals: Iterable[tuple[str, str]]) -> list[SealFactRow]:
    keys = sorted(set(seals))
    async with conn.cursor(row_factory=class_row(SealFactRow)) as cur:
        await cur.execute(
            "SELECT tenant, seal, event_id, seal_number, kind, conveyance_id, trip_id, at, position, reuse_raised"
            " FROM seal_facts WHERE (tenant, seal) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([t for t, _ in keys], [s for _, s in keys]),
        )
        return await cur.fetchall()


async def mark_raised(conn: Conn, facts: Iterable[tuple[str, str, str]]) -> None:
    """(tenant, seal, event_id) of affixes whose reuse has been raised: a verdict is raised once."""
    rows = sorted(set(facts))
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "UPDATE seal_facts SET reuse_raised = true WHERE tenant = %s AND seal = %s AND event_id = %s", rows
            )
