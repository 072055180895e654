"""Versioned SQL migrations.

Files are ``NNNN_name.sql``; a version may instead come as ``NNNN_name.timescale.sql`` and
``NNNN_name.plain.sql``, and the variant is chosen once by whether the server offers TimescaleDB.
Each version is applied in its own transaction and recorded in ``schema_migrations``.
"""

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")
_LOCK_ID = 0x5EA1_6A2D  # advisory lock: two monitors starting together migrate one at a time


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    variant: str | None
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("sealguard.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], match[3], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: (m.version, m.variant or ""))


def plan(migrations: list[Migration], *, timescale: bool, applied: set[int]) -> list[Migration]:
    """Pure: the migrations still to apply, one per version, in order."""
    wanted = "timescale" if timescale else "plain"
    chosen: dict[int, Migration] = {}
    for m in migrations:
        if m.version in applied or (m.variant is not None and m.variant != wanted):
            continue
        chosen[m.version] = m
    return [chosen[v] for v in sorted(chosen)]


async def migrate(conn: psycopg.AsyncConnection[object]) -> list[str]:
    """Apply what is missing; return the names applied. Safe to call at every start."""
    await conn.set_autocommit(True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL, variant text,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        applied = {int(row[0]) for row in await cur.fetchall()}  # type: ignore[index]
        cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        timescale = await cur.fetchone() is not None
        done = []
        for m in plan(available(), timescale=timescale, applied=applied):
            async with conn.transaction():
                await conn.execute(m.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, variant) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.variant),
                )
            done.append(f"{m.version:04d}_{m.name}" + (f" ({m.variant})" if m.variant else ""))
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raise unless the database answers (readiness probes)."""
    await conn.execute("SELECT 1")
