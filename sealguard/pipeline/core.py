"""The one path every source shares: admit -> dedupe -> evaluate -> store -> acknowledge.

A single task owns the rule engine and processes inputs in batches, each in one database transaction
(events, dead letters, reference data, alert changes and their history). An input's future resolves
only after that commit, so transports acknowledge only what is durably stored and evaluated.

The database is the source of truth: the engine is a deterministic function of the stored log (events
and the clock ticks that fired timers, in sequence order) starting from a snapshot. After a crash, or a
failed transaction that left the in-memory engine ahead of the database, the engine is rebuilt from the
latest snapshot plus the log after it, so no rule forgets a stop, a timer or a used seal and no alert is
raised twice.

Time: each tenant's clock is its event time (the largest ``occurred_at`` among its events applied).
When a tenant goes quiet, its clock advances with the wall clock after ``idle_advance_after`` seconds,
so silence timers (tracking gaps, missing heartbeats, late arrivals) still fire; replaying a file
through the monitor quickly gives the same alerts as ``sealguard replay``. An event dated more than
``max_future_skew`` seconds ahead of its receipt is dead-lettered: it would drag its tenant's clock
into the future.

Isolation: no input can hurt another. Anything that fails while one input is handled (decoding, a
rule raising, the database refusing a row, partition creation) dead-letters that input with the reason
and the rest of the batch is stored: a rule that raises names its input at once; a refusal at write
time is found by splitting the batch in halves. Only an outage (the database unreachable) holds the
batch and retries it whole.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool

from sealguard.alerts.book import AlertBook
from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.lifecycle import Decision
from sealguard.ingest.admit import MAX_EVENT_BYTES, Admitted
from sealguard.live import batch_updates
from sealguard.metrics import Metrics
from sealguard.outage import RETRYABLE, until_answered
from sealguard.pipeline import clocks, recovery
from sealguard.pipeline.admission import admit_all
from sealguard.pipeline.alert_changes import act
from sealguard.pipeline.batching import next_batch
from sealguard.pipeline.commit import write_batch
from sealguard.pipeline.evaluate import Batch, Evaluator
from sealguard.pipeline.items import Act, Inbound, Item, ItemFailed, ItemResult, Tick
from sealguard.retry import Backoff
from sealguard.rules.engine import Engine
from sealguard.rules.policy import Policy
from sealguard.rules.view import conveyance_view
from sealguard.store import engine_log, live, projection
from sealguard.store.dead_letters import DEFAULT_LIMITS, DeadLetterLimits, write_dead_letters
from sealguard.store.events import DeadLetter, PartitionCache, seen

log = logging.getLogger("sealguard.pipeline")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """The engine's single owner: batches from one queue, each through admission, the pure evaluation
    and one transaction; recovery rebuilds the engine from the database after any failure."""

    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool[Any],
        policy: Policy | None = None,
        *,
        queue_size: int = 10_000,
        batch_max: int = 2_000,
        snapshot_every_events: int = 20_000,
        snapshot_every_s: float = 30.0,
        idle_advance_after: float = 60.0,
        max_future_skew: float | None = 300.0,
        tick_interval: float = 1.0,
        mono: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = _utcnow,
        alerting: AlertingConfig | None = None,
        metrics: Metrics | None = None,
        dead_letters: DeadLetterLimits = DEFAULT_LIMITS,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.pool = pool
        self.dead_letters = dead_letters
        self.max_event_bytes = max_event_bytes
        self.policy = policy or Policy()
        self.alerting = alerting or AlertingConfig()
        self.metrics = metrics or Metrics()
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=queue_size)
        self.batch_max = batch_max
        self.snapshot_every_events = snapshot_every_events
        self.snapshot_every_s = snapshot_every_s
        self.idle_advance_after = idle_advance_after
        self.max_future_skew = max_future_skew
        self.tick_interval = tick_interval
        self.mono = mono
        self.clock = clock
        self.state = Evaluator(Engine(self.policy, remember_ids=False), AlertBook(retain=False))
        self.seq = 0
        self.db_ok = False
        self._partitions = PartitionCache(True)
        self._since_snapshot = 0
        self._snapshot_mono = mono()
        self._ticks_pending: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._lock_conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def engine(self) -> Engine:
        return self.state.engine

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._with_db(self._lock_engine)
        await self._with_db(self._recover)
        self._tasks = [asyncio.create_task(self._run(), name="pipeline"),
                       asyncio.create_task(self._ticker(), name="ticker")]  # fmt: skip

    async def stop(self, timeout: float = 15.0) -> None:
        """Finish what was submitted, then take a snapshot so the next start replays little.

        If the database stays away past ``timeout``, give up: what is not stored was not acknowledged,
        so the transports deliver it again to the next run."""
        self._closing = True
        try:
            if self._tasks:  # not started when another monitor owns the engine
                await self._drain(timeout)
        finally:
            if self._lock_conn is not None:
                with contextlib.suppress(Exception):
                    await self._lock_conn.close()
                self._lock_conn = None

    async def _drain(self, timeout: float) -> None:
        self._tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._tasks[1]
        run = self._tasks[0]
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            run.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(run), timeout)
        except TimeoutError:
            log.warning("database still unavailable at shutdown; unstored inputs stay unacknowledged")
            run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        if not run.cancelled() and self.db_ok:
            with contextlib.suppress(TimeoutError, *RETRYABLE):
                await asyncio.wait_for(self._snapshot(), timeout)

    async def submit(self, item: Inbound) -> "asyncio.Future[ItemResult]":
        """Queue one input; waits while the queue is full (backpressure reaches the transport)."""
        if self._closing:
            raise RuntimeError("the pipeline is shutting down")
        item.done = asyncio.get_running_loop().create_future()
        await self.queue.put(item)
        self.metrics.queue_depth.set(self.queue.qsize())
        return item.done

    async def act(self, action: Act) -> tuple[Decision, dict[str, Any] | None]:
        """Queue a person's action on an alert and wait until it is decided and stored."""
        if self._closing:
            raise RuntimeError("the pipeline is shutting down")
        action.done = asyncio.get_running_loop().create_future()
        await self.queue.put(action)
        return await action.done

    # --- time ---------------------------------------------------------------------------------------

    def clock_now(self, tenant: str) -> float | None:
        return clocks.clock_now(self.engine, self.state.idle, tenant, self.mono(), self.idle_advance_after)

    def due_ticks(self) -> list[Tick]:
        return clocks.due_ticks(self.engine, self.state.idle, self.mono(), self.idle_advance_after,
                                self._ticks_pending)  # fmt: skip

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            for tick in self.due_ticks():
                self._ticks_pending.add(tick.tenant)
                await self.queue.put(tick)

    # --- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            items, end = await next_batch(self.queue, self.batch_max)
            self.metrics.queue_depth.set(self.queue.qsize())
            if items:
                try:
                    await self._handle(items)
                except Exception:  # a bug must not leave transports waiting forever
                    log.exception("batch failed unexpectedly; inputs are left unacknowledged for redelivery")
                    for it in items:
                        if isinstance(it, Inbound | Act) and it.done is not None and not it.done.done():
                            it.done.set_exception(RuntimeError("internal error; retry"))
                    await self._with_db(self._recover)
            if end:
                return

    async def _handle(self, items: list[Item]) -> None:
        """Commit ``items``; on a failure that is not an outage, isolate the culprit (see the module
        docstring). Groups wait on a stack, first half on top, so inputs still commit in order."""
        groups = [items]
        outage = Backoff(base=0.2, cap=5.0)
        while groups:
            group = groups.pop()
            try:
                batch = await self._commit(group)
            except RETRYABLE as exc:
                # The database is away: hold everything (nothing acknowledged), rebuild, retry.
                self._set_db(False)
                log.warning("database unavailable (%s); holding %d inputs", exc, len(group))
                await asyncio.sleep(outage.next())
                await self._with_db(self._recover)
                groups.append(group)
                continue
            except ItemFailed as exc:
                # The engine may be half-way through that input: rebuild it, then refuse the input.
                await self._with_db(self._recover)
                culprit = group[exc.index]
                assert isinstance(culprit, Inbound)  # only an input's rules can raise ItemFailed
                culprit.refused, culprit.refused_id = exc.reason, exc.event_id
                groups.append(group)
                continue
            except Exception as exc:
                await self._with_db(self._recover)
                if len(group) > 1:
                    half = len(group) // 2
                    groups += [group[half:], group[:half]]
                else:
                    await self._give_up(group[0], exc)
                continue
            outage.reset()
            self._set_db(True)
            self._finish(group, batch)
        if self._since_snapshot and (
            self._since_snapshot >= self.snapshot_every_events
            or self.mono() - self._snapshot_mono >= self.snapshot_every_s
        ):
            with contextlib.suppress(*RETRYABLE):
                await self._snapshot()

    async def _give_up(self, item: Item, exc: Exception) -> None:
        """One input that cannot be committed on its own: an event is dead-lettered with the reason."""
        reason = f"storage refused the event: {type(exc).__name__}: {exc}"[:1000]
        if isinstance(item, Inbound):
            log.warning("dead-lettering an input that could not be stored: %s", reason)
            await self._with_db(lambda: self._refuse(item, reason))
        elif isinstance(item, Act):
            if item.done is not None and not item.done.done():
                item.done.set_exception(RuntimeError(f"storage refused the action: {exc}"))
        else:
            log.error("a clock tick of tenant %r failed (%s); it is tried again", item.tenant, reason)
            self._ticks_pending.discard(item.tenant)

    async def _commit(self, items: list[Item]) -> Batch:
        admitted = admit_all(items, self.max_future_skew, self.max_event_bytes)
        keys = [(a.event.tenant, a.event.event_id) for a in admitted if isinstance(a, Admitted)]
        start = time.perf_counter()
        async with self.pool.connection() as conn, conn.transaction():
            stored = await seen(conn, keys)
            # One monotonic reading for the batch: the idle clock needs no finer grain.
            batch = self.state.evaluate(items, admitted, stored, self.seq, self.mono())
            now = self.clock()
            await write_batch(conn, batch, self._partitions, now, self.alerting, self.dead_letters)
            for i, it in enumerate(items):
                if isinstance(it, Act):
                    batch.acted[i] = await self._act(conn, it, batch, now)
            await self._project(conn, batch, now)
        self.seq = batch.seq  # committed; a failed commit triggers recovery instead
        self.metrics.db_write_latency.observe(time.perf_counter() - start)
        return batch

    async def _act(self, conn: psycopg.AsyncConnection[Any], it: Act, batch: Batch,
                   now: datetime) -> tuple[Decision, dict[str, Any] | None]:  # fmt: skip
        decision, doc = await act(conn, self.alerting, it.alert_id, it.tenant, it.verb, it.actor, now, note=it.note,
                                  assignee=it.assignee, identity=it.identity)  # fmt: skip
        if decision.released and doc is not None and self.state.book.release(doc["dedup_key"], doc["alert_id"]):
            batch.seq += 1
            await engine_log.write_release(conn, batch.seq, doc["dedup_key"], doc["alert_id"])
        return decision, doc

    async def _project(self, conn: psycopg.AsyncConnection[Any], batch: Batch, now: datetime) -> None:
        """The touched conveyances' views for the web API, and what changed for its live streams."""
        touched = sorted({(r.event.tenant, r.event.conveyance_id) for r in batch.rows if r.event.conveyance_id})
        views = [(t, c, conveyance_view(conv, geometry=False)) for t, c in touched
                 if (conv := self.engine.conveyances.get((t, c))) is not None]  # fmt: skip
        await projection.upsert(conn, views, now)
        acted = [(decision.history[-1][0], doc["tenant"], doc["alert_id"]) for decision, doc in batch.acted.values()
                 if doc is not None and decision.history]  # fmt: skip
        await live.notify(conn, batch_updates(batch.changes, (r.event for r in batch.rows), acted))

    def _finish(self, items: list[Item], batch: Batch) -> None:
        m = self.metrics
        now = self.mono()
        for change, record in batch.changes:
            m.alert_changes.labels(change).inc()
            if change == "opened":
                m.alerts_raised.labels(record.rule_id, record.severity).inc()
        for source, kind in batch.applied_kinds:
            m.events_received.labels(source, kind).inc()
        for i, (it, result) in enumerate(zip(items, batch.results, strict=True)):
            if isinstance(it, Tick):
                self._ticks_pending.discard(it.tenant)
                continue
            if isinstance(it, Act):
                if it.done is not None and not it.done.done():
                    it.done.set_result(batch.acted[i])
                continue
            assert result is not None  # every input of a committed batch has its answer
            if result.status == "rejected":
                m.events_rejected.labels(it.source, _reason_label(result.reason)).inc()
                m.dead_letters.labels(it.source).inc()
            elif result.status == "duplicate":
                m.events_duplicate.labels(it.source).inc()
            else:
                m.processing_latency.observe(now - it.received_mono)
            if it.done is not None and not it.done.done():
                it.done.set_result(result)
        if batch.rows:
            self._since_snapshot += len(batch.rows) + len(batch.ticks)

    async def _refuse(self, item: Inbound, reason: str) -> None:
        letter = DeadLetter(datetime.fromtimestamp(item.received_at, UTC), item.source, item.origin, item.tenant,
                            None, reason, item.raw)  # fmt: skip
        async with self.pool.connection() as conn, conn.transaction():
            await write_dead_letters(conn, [letter], self.dead_letters)
        self.metrics.dead_letters.labels(item.source).inc()
        if item.done is not None and not item.done.done():
            item.done.set_result(ItemResult("rejected", None, reason))

    # --- recovery and snapshots ---------------------------------------------------------------------

    async def _with_db(self, action: Callable[[], Any]) -> None:
        await until_answered(action, on_state=self._set_db, who="pipeline")

    async def _lock_engine(self) -> None:
        self._lock_conn = await recovery.lock_engine(str(self.pool.conninfo))

    async def _recover(self) -> None:
        async with self.pool.connection() as conn:
            restored = await recovery.rebuild(conn, self.policy)
        now = self.mono()
        idle = {tenant: (clock, now) for tenant, clock in restored.engine.clocks.items()}
        self.state = Evaluator(restored.engine, restored.book, idle)
        self.seq = restored.seq
        self._partitions = restored.partitions
        self._since_snapshot = restored.replayed
        self._ticks_pending = set()

    async def _snapshot(self) -> None:
        data = {"engine": self.engine.snapshot(), "book": self.state.book.snapshot()}
        async with self.pool.connection() as conn:
            await engine_log.save_snapshot(conn, self.seq, data)
        self._since_snapshot = 0
        self._snapshot_mono = self.mono()

    def _set_db(self, ok: bool) -> None:
        self.db_ok = ok
        self.metrics.db_up.set(1 if ok else 0)


def _reason_label(reason: str | None) -> str:
    """A bounded label for the rejected-per-reason metric: the first field named, or the kind of error."""
    if not reason:
        return "unknown"
    if reason.startswith(("not valid JSON", "tenant mismatch", "an event must", "storage refused", "contains a NUL")):
        return reason.split(":")[0][:40]
    head = reason.split(":")[0]
    return head if len(head) <= 40 and " " not in head else "invalid"
