"""Rebuilding the engine from the database, the source of truth: the latest snapshot, then the log
after it (events, the clock ticks that fired timers, releases of alerts people resolved) in sequence
order. Also the lock that keeps a second process off the same database's engine."""

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from sealguard.alerts.book import AlertBook
from sealguard.errors import SealguardError
from sealguard.rules.engine import Engine
from sealguard.rules.policy import Policy
from sealguard.schemas.decode import decode_event
from sealguard.store import engine_log
from sealguard.store.events import PartitionCache, native_partitions

log = logging.getLogger("sealguard.pipeline")
ENGINE_LOCK = 0x5EA1_E461


class EngineBusy(SealguardError, RuntimeError):
    """Another monitor owns the rule engine of this database."""


@dataclass(slots=True)
class Restored:
    engine: Engine
    book: AlertBook
    seq: int  # the last sequence number stored
    replayed: int  # log entries applied after the snapshot
    partitions: PartitionCache


async def rebuild(conn: psycopg.AsyncConnection[Any], policy: Policy) -> Restored:
    partitions = PartitionCache(await native_partitions(conn))
    snap = await engine_log.latest_snapshot(conn)
    if snap is None:
        base, engine, book = 0, Engine(policy, remember_ids=False), AlertBook(retain=False)
    else:
        base, data = snap
        engine = Engine.restore(data["engine"], policy)
        book = AlertBook.restore(data["book"])
    replayed = 0
    async for _seq, entry in engine_log.log_after(conn, base):
        if isinstance(entry, str):
            book.release(entry)
            continue
        if isinstance(entry, engine_log.ClockTick):
            findings = engine.advance(entry.until, entry.tenant)
        else:
            findings = engine.process(decode_event(entry)).findings
        for finding in findings:
            book.apply(finding)
        book.forget_each(engine.take_pruned())
        replayed += 1
    seq = max(base, await engine_log.last_seq(conn))
    log.info("engine restored at sequence %d (%d log entries replayed after the snapshot)", seq, replayed)
    return Restored(engine, book, seq, replayed, partitions)


async def lock_engine(conninfo: str) -> psycopg.AsyncConnection[Any]:
    """One rule engine per database: a second monitor would evaluate the same log twice. The lock is
    held by the returned connection for the life of the process (and dies with it)."""
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (ENGINE_LOCK,))
    row = await cur.fetchone()
    if not (row and row[0]):
        await conn.close()
        raise EngineBusy("another sealguard monitor is running the rule engine on this database")
    return conn
