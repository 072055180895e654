"""What the database must forget on time: dead letters past their retention, sign-in counters and
trusted browsers that have expired. Run by every process that serves HTTP (``up`` and the api role);
two of them pruning at once only delete the same rows."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg_pool

from sealguard.store import dead_letters, people
from sealguard.stream.outage import RETRYABLE

log = logging.getLogger("sealguard.roles.housekeeping")
EVERY_S = 3600.0


async def prune_once(pool: psycopg_pool.AsyncConnectionPool[Any], retention: timedelta) -> int:
    """One round; the number of dead letters deleted."""
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        gone = await dead_letters.prune(conn, now, retention)
        await people.prune_signin_records(conn, now)
    return gone


async def run(pool: psycopg_pool.AsyncConnectionPool[Any], retention: timedelta, every_s: float = EVERY_S) -> None:
    """Prune at start and then every ``every_s``, until cancelled; a database outage waits for the next round."""
    while True:
        try:
            gone = await prune_once(pool, retention)
            if gone:
                log.info("pruned %d dead letters older than %s", gone, retention)
        except RETRYABLE as exc:
            log.warning("housekeeping: %s; trying again in %.0f s", exc, every_s)
        await asyncio.sleep(every_s)
