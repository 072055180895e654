"""People's actions on alerts (``up`` and the api role; the engine is the worker's): decided and stored in
PostgreSQL (``pipeline.alert_changes.act``), and, when an alert is released (resolved by people), a
control record for the worker that owns its conveyance, written in the same transaction and relayed to
the log, so the worker's book lets the next occurrence open a new alert."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg_pool

from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.lifecycle import Decision
from sealguard.ingest.kafka import record_key
from sealguard.retry import Backoff
from sealguard.schemas.alerts import StoredAlert
from sealguard.store import live, worker_controls
from sealguard.stream.alert_changes import act
from sealguard.stream.items import Act
from sealguard.stream.live import batch_updates
from sealguard.stream.log import Append, Log

log = logging.getLogger("sealguard.api")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ControlledActions:
    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], alerting: AlertingConfig,
                 log: Log, *, clock: Callable[[], datetime] = _utcnow,
                 poll_s: float = 1.0) -> None:  # fmt: skip
        self.pool = pool
        self.alerting = alerting
        self.log = log
        self.clock = clock
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    async def act(self, action: Act) -> tuple[Decision, StoredAlert | None]:
        async with self.pool.connection() as conn, conn.transaction():
            decision, doc = await act(conn, self.alerting, action.alert_id, action.tenant, action.verb, action.actor,
                                      self.clock(), note=action.note, assignee=action.assignee,
                                      identity=action.identity)  # fmt: skip
            if decision.error is None and doc is not None:
                if decision.released:
                    key = record_key(doc.tenant, doc.conveyance_id)
                    body = {"dedup_key": doc.dedup_key, "alert_id": doc.alert_id}
                    await worker_controls.enqueue(conn, key, "release", body)
                if decision.history:
                    acted = [(decision.history[-1][0], doc.tenant, doc.alert_id)]
                    await live.notify(conn, batch_updates((), (), acted))
        self._wake.set()
        return decision, doc

    async def relay(self) -> None:
        """Append the control records to the log in order, each after the transaction that wrote it."""
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            try:
                await self._relay_once()
                backoff.reset()
            except Exception as exc:
                log.warning("control relay: %s; retrying", exc)
                await asyncio.sleep(backoff.next())

    async def _relay_once(self) -> None:
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                rows = await worker_controls.claim(conn)
                if not rows:
                    return
                started = time.perf_counter()
                now_ms = int(time.time() * 1000)
                for row in rows:
                    await (await self.log.append(Append(row.key, orjson.dumps(row.body), "control", now_ms,
                                                        control=row.verb)))  # fmt: skip
                await worker_controls.sent(conn, [r.id for r in rows])
                log.debug("relayed %d control records in %.3f s", len(rows), time.perf_counter() - started)
