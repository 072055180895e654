"""The writes of one batch, in the caller's transaction: events (and the reference data they carry),
dead letters, the clock ticks that fired timers, and the alert changes with their history and pages."""

from datetime import datetime
from typing import Any

import psycopg

from sealguard.alerts.config import AlertingConfig
from sealguard.pipeline.alert_changes import apply_changes
from sealguard.pipeline.evaluate import Batch
from sealguard.store import engine_log
from sealguard.store.dead_letters import DeadLetterLimits, write_dead_letters
from sealguard.store.events import PartitionCache, write_events


async def write_batch(conn: psycopg.AsyncConnection[Any], batch: Batch, partitions: PartitionCache, now: datetime,
                      alerting: AlertingConfig, dead_letters: DeadLetterLimits) -> None:  # fmt: skip
    await write_events(conn, batch.rows, partitions)
    await write_dead_letters(conn, batch.dead, dead_letters)
    for seq, tick in batch.ticks:
        await engine_log.write_tick(conn, seq, tick)
    await apply_changes(conn, batch.changes, now, alerting)
