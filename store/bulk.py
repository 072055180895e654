"""Bulk writes for generated history (benchmarks, tests, imports): rows by COPY, and a tenant's chain
head set to the last history row written."""

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.AsyncConnection[Any]


async def copy_rows(conn: Conn, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    async with conn.cursor().copy(query) as copy:
        for row in rows:
            await copy.write_row(row)


async def chain_head(conn: Conn, tenant: str, seq: int, hashed: str) -> None:
    await conn.execute(
        "INSERT INTO alert_chain_heads (tenant, chain_seq, hash) VALUES (%s, %s, %s) ON CONFLICT (tenant)"
        " DO UPDATE SET chain_seq = EXCLUDED.chain_seq, hash = EXCLUDED.hash",
        (tenant, seq, hashed),
    )
