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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
import psycopg_pool

from sealguard import metrics
from sealguard.alerts.book import AlertBook, AlertRecord, Change
from sealguard.alerts.config import AlertingConfig
from sealguard.alerts.lifecycle import Decision, Verb
from sealguard.ingest.admit import Admitted, admit, check_skew
from sealguard.ingest.backoff import Backoff
from sealguard.rules.engine import Engine
from sealguard.rules.policy import Policy
from sealguard.schemas.decode import InvalidEvent, decode_event
from sealguard.store import engine_log
from sealguard.store.alerts import act, apply_changes
from sealguard.store.events import (
    DeadLetter,
    PartitionCache,
    StoredEvent,
    native_partitions,
    seen,
    write_dead_letters,
    write_events,
)

log = logging.getLogger("sealguard.pipeline")

Status = Literal["accepted", "duplicate", "rejected"]
RETRYABLE = (psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)
ENGINE_LOCK = 0x5EA1_E461


class EngineBusy(RuntimeError):
    """Another monitor owns the rule engine of this database."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    status: Status
    event_id: str | None = None
    reason: str | None = None
    findings: tuple[dict[str, str], ...] = ()  # what this event raised: a dock sees its verdict at once

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "event_id": self.event_id}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.findings:
            out["findings"] = list(self.findings)
        return out


@dataclass(slots=True)
class Inbound:
    raw: bytes
    source: str  # mqtt, kafka, http
    origin: dict[str, Any]  # topic, partition/offset, HTTP client: stored with a dead letter
    tenant: str | None = None  # fixed by the transport (topic, token); None to take the payload's
    refused: str | None = None  # the transport already knows it cannot be accepted, and why
    refused_id: str | None = None  # the event id of a refused input, where it is known
    received_at: float = field(default_factory=time.time)
    received_mono: float = field(default_factory=time.monotonic)
    role: str | None = None  # the sender's role where the transport knows it (HTTP tokens); None: trusted
    done: "asyncio.Future[ItemResult] | None" = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Advance one tenant's clock to ``until`` (its idle time has passed a timer)."""

    until: float
    tenant: str


class ItemFailed(Exception):
    """Handling the input at ``index`` of a batch raised: it is dead-lettered and the batch retried."""

    def __init__(self, index: int, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason
        self.event_id = event_id


@dataclass(slots=True)
class Act:
    """A person's action on an alert. It runs in the engine's order because resolving an alert lets the
    engine open a new one for the same condition."""

    alert_id: str
    verb: Verb
    actor: str
    tenant: str | None  # the caller's tenant; None for an all-tenants token
    note: str | None = None
    assignee: str | None = None
    done: "asyncio.Future[tuple[Decision, dict[str, Any] | None]] | None" = None


Item = Inbound | Tick | Act


@dataclass(slots=True)
class _Batch:
    results: list[ItemResult | None]
    rows: list[StoredEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    ticks: list[tuple[int, engine_log.ClockTick]] = field(default_factory=list)
    changes: list[tuple[Change, AlertRecord]] = field(default_factory=list)
    applied_kinds: list[tuple[str, str]] = field(default_factory=list)
    acted: dict[int, tuple[Decision, dict[str, Any] | None]] = field(default_factory=dict)
    seq: int = 0  # the last sequence number the batch uses


class Pipeline:
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
        alerting: AlertingConfig | None = None,
    ) -> None:
        self.pool = pool
        self.policy = policy or Policy()
        self.alerting = alerting or AlertingConfig()
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=queue_size)
        self.batch_max = batch_max
        self.snapshot_every_events = snapshot_every_events
        self.snapshot_every_s = snapshot_every_s
        self.idle_advance_after = idle_advance_after
        self.max_future_skew = max_future_skew
        self.tick_interval = tick_interval
        self.mono = mono
        self.engine = Engine(self.policy, remember_ids=False)
        self.book = AlertBook(retain=False)
        self.seq = 0
        # Per tenant: the event time of its latest applied event, and when (monotonic) it was applied.
        self.idle: dict[str, tuple[float, float]] = {}
        self.db_ok = False
        self._partitions = PartitionCache(True)
        self._since_snapshot = 0
        self._snapshot_mono = mono()
        self._ticks_pending: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._lock_conn: psycopg.AsyncConnection[Any] | None = None
        #: Called after each commit with what changed (alerts, positions), for live views (SSE).
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []

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
        metrics.QUEUE_DEPTH.set(self.queue.qsize())
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
        """A tenant's clock as the ticker sees it: event time, or after ``idle_advance_after`` seconds
        of that tenant's silence, its last event time plus the silence."""
        clock = self.engine.clock_of(tenant)
        last = self.idle.get(tenant)
        if clock is None or last is None:
            return clock
        watermark, applied_mono = last
        idle = self.mono() - applied_mono - self.idle_advance_after
        return max(clock, watermark + max(0.0, idle))

    def due_ticks(self) -> list[Tick]:
        """The tenants whose (idle-advanced) clock has passed one of their timers."""
        ticks = []
        for tenant in sorted(self.engine.clocks):
            if tenant in self._ticks_pending:
                continue
            now, due = self.clock_now(tenant), self.engine.next_deadline(tenant)
            if now is not None and due is not None and due <= now:
                ticks.append(Tick(now, tenant))
        return ticks

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            for tick in self.due_ticks():
                self._ticks_pending.add(tick.tenant)
                await self.queue.put(tick)

    # --- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            if first is None:
                return
            items: list[Item] = [first]
            stop = False
            while len(items) < self.batch_max and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
            metrics.QUEUE_DEPTH.set(self.queue.qsize())
            try:
                await self._handle(items)
            except Exception:  # a bug must not leave transports waiting forever
                log.exception("batch failed unexpectedly; inputs are left unacknowledged for redelivery")
                for it in items:
                    if isinstance(it, Inbound | Act) and it.done is not None and not it.done.done():
                        it.done.set_exception(RuntimeError("internal error; retry"))
                await self._with_db(self._recover)
            if stop:
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
                assert isinstance(culprit, Inbound)
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

    async def _commit(self, items: list[Item]) -> _Batch:
        admitted: list[Admitted | InvalidEvent | None] = []
        for it in items:
            if isinstance(it, Tick | Act):
                admitted.append(None)
                continue
            if it.refused is not None:
                admitted.append(InvalidEvent(it.refused, event_id=it.refused_id))
                continue
            try:
                ok = admit(it.raw, it.tenant, role=it.role)
                if self.max_future_skew is not None:
                    check_skew(ok.event, it.received_at, self.max_future_skew)
                admitted.append(ok)
            except InvalidEvent as exc:
                admitted.append(exc)
            except Exception as exc:  # a validator bug must not fail the batch: this input only
                admitted.append(InvalidEvent(f"could not be read: {type(exc).__name__}: {exc}"[:1000]))
        keys = [(a.event.tenant, a.event.event_id) for a in admitted if isinstance(a, Admitted)]
        start = time.perf_counter()
        async with self.pool.connection() as conn, conn.transaction():
            stored = await seen(conn, keys)
            batch = self._evaluate(items, admitted, stored)
            await write_events(conn, batch.rows, self._partitions)
            await write_dead_letters(conn, batch.dead)
            for seq, tick in batch.ticks:
                await engine_log.write_tick(conn, seq, tick)
            now = datetime.now(UTC)
            await apply_changes(conn, batch.changes, now, self.alerting)
            for i, it in enumerate(items):
                if isinstance(it, Act):
                    batch.acted[i] = await self._act(conn, it, batch, now)
        self.seq = batch.seq  # committed; a failed commit triggers recovery instead
        metrics.DB_WRITE_LATENCY.observe(time.perf_counter() - start)
        return batch

    async def _act(self, conn: psycopg.AsyncConnection[Any], it: Act, batch: _Batch,
                   now: datetime) -> tuple[Decision, dict[str, Any] | None]:  # fmt: skip
        decision, doc = await act(conn, self.alerting, it.alert_id, it.tenant, it.verb, it.actor, now, note=it.note,
                                  assignee=it.assignee)  # fmt: skip
        if decision.released and doc is not None and self.book.release(doc["dedup_key"], doc["alert_id"]):
            batch.seq += 1
            await engine_log.write_release(conn, batch.seq, doc["dedup_key"], doc["alert_id"])
        return decision, doc

    def _evaluate(
        self, items: list[Item], admitted: list[Admitted | InvalidEvent | None], stored: set[tuple[str, str]]
    ) -> _Batch:
        """The pure middle: mutates the engine and the book, collects what to write. Sequence numbers
        are taken from a local counter and only become ``self.seq`` once the transaction commits."""
        batch = _Batch(results=[None] * len(items))
        seq = self.seq
        applied_at = self.mono()  # one reading for the batch: the idle clock needs no finer grain
        in_batch: set[tuple[str, str]] = set()
        for i, (it, a) in enumerate(zip(items, admitted, strict=True)):
            if isinstance(it, Act):
                continue
            if isinstance(it, Tick):
                due = self.engine.next_deadline(it.tenant)
                if due is not None and due <= it.until:
                    seq += 1
                    batch.ticks.append((seq, engine_log.ClockTick(it.until, it.tenant)))
                    self._apply(self.engine.advance(it.until, it.tenant), batch)
                continue
            received = datetime.fromtimestamp(it.received_at, UTC)
            if isinstance(a, InvalidEvent):
                batch.results[i] = ItemResult("rejected", a.event_id, a.reason)
                batch.dead.append(DeadLetter(received, it.source, it.origin, it.tenant, a.event_id, a.reason, it.raw))
                continue
            assert a is not None
            event = a.event
            key = (event.tenant, event.event_id)
            if key in stored or key in in_batch:
                batch.results[i] = ItemResult("duplicate", event.event_id)
                continue
            try:
                outcome = self.engine.process(event)
            except Exception as exc:
                log.exception("a rule raised on event %s of tenant %s", event.event_id, event.tenant)
                reason = f"a rule failed on this event: {type(exc).__name__}: {exc}"[:1000]
                raise ItemFailed(i, reason, event.event_id) from exc
            if outcome.status != "applied":
                reason = outcome.reason or outcome.status
                batch.results[i] = ItemResult("rejected", event.event_id, reason)
                batch.dead.append(
                    DeadLetter(received, it.source, it.origin, event.tenant, event.event_id, reason, it.raw)
                )
                continue
            seq += 1
            in_batch.add(key)
            batch.rows.append(StoredEvent(seq, event, a.payload, it.source, received))
            raised = tuple({"rule_id": f.rule_id, "severity": f.severity, "message": f.message}
                           for f in outcome.findings if f.action == "raise")  # fmt: skip
            batch.results[i] = ItemResult("accepted", event.event_id, findings=raised)
            batch.applied_kinds.append((it.source, event.kind))
            t = event.occurred_at.timestamp()
            last = self.idle.get(event.tenant)
            self.idle[event.tenant] = (t if last is None else max(last[0], t), applied_at)
            self._apply(outcome.findings, batch, event.source.facility_id if event.source else None)
        batch.seq = seq
        for tenant, cid, timer, due, error in self.engine.timer_failures:
            log.error("timer %s of %s/%s due at %s raised %s; the timer was dropped", timer, tenant, cid, due, error)
        self.engine.timer_failures.clear()
        return batch

    def _apply(self, findings: list[Any], batch: _Batch, facility: str | None = None) -> None:
        for finding in findings:
            change, record = self.book.apply(finding)
            if record is not None and change in ("opened", "escalated", "resolved"):
                if change == "opened":
                    record.facility_id = facility
                batch.changes.append((change, record))

    def _finish(self, items: list[Item], batch: _Batch) -> None:
        now = self.mono()
        for change, record in batch.changes:
            metrics.ALERT_CHANGES.labels(change).inc()
            if change == "opened":
                metrics.ALERTS_RAISED.labels(record.rule_id, record.severity).inc()
        for source, kind in batch.applied_kinds:
            metrics.EVENTS_RECEIVED.labels(source, kind).inc()
        for i, (it, result) in enumerate(zip(items, batch.results, strict=True)):
            if isinstance(it, Tick):
                self._ticks_pending.discard(it.tenant)
                continue
            if isinstance(it, Act):
                if it.done is not None and not it.done.done():
                    it.done.set_result(batch.acted[i])
                continue
            assert result is not None
            if result.status == "rejected":
                metrics.EVENTS_REJECTED.labels(it.source, _reason_label(result.reason)).inc()
                metrics.DEAD_LETTERS.labels(it.source).inc()
            elif result.status == "duplicate":
                metrics.EVENTS_DUPLICATE.labels(it.source).inc()
            else:
                metrics.PROCESSING_LATENCY.observe(now - it.received_mono)
            if it.done is not None and not it.done.done():
                it.done.set_result(result)
        if batch.rows:
            self._since_snapshot += len(batch.rows) + len(batch.ticks)
        if self.listeners:
            self._tell(batch)

    def _tell(self, batch: _Batch) -> None:
        updates: list[dict[str, Any]] = [
            {"type": "alert", "change": change, "tenant": r.tenant, "alert_id": r.alert_id}
            for change, r in batch.changes
        ]
        updates += [{"type": "alert", "change": decision.history[-1][0], "tenant": doc["tenant"],
                     "alert_id": doc["alert_id"]}
                    for decision, doc in batch.acted.values() if doc is not None and decision.history]  # fmt: skip
        for row in batch.rows:
            e = row.event
            if e.kind == "gps.position":
                updates.append({"type": "position", "tenant": e.tenant, "conveyance_id": e.conveyance_id,
                                "lon": e.lon, "lat": e.lat, "at": e.occurred_at.isoformat()})  # fmt: skip
        if updates:
            for listener in list(self.listeners):
                listener(updates)

    async def _refuse(self, item: Inbound, reason: str) -> None:
        letter = DeadLetter(datetime.fromtimestamp(item.received_at, UTC), item.source, item.origin, item.tenant,
                            None, reason, item.raw)  # fmt: skip
        async with self.pool.connection() as conn, conn.transaction():
            await write_dead_letters(conn, [letter])
        metrics.DEAD_LETTERS.labels(item.source).inc()
        if item.done is not None and not item.done.done():
            item.done.set_result(ItemResult("rejected", None, reason))

    # --- recovery and snapshots ---------------------------------------------------------------------

    async def _with_db(self, action: Callable[[], Any]) -> None:
        """Run ``action`` until the database answers, backing off up to 5 s between tries."""
        outage = Backoff(base=0.2, cap=5.0)
        while True:
            try:
                await action()
                self._set_db(True)
                return
            except RETRYABLE as exc:
                self._set_db(False)
                delay = outage.next()
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _lock_engine(self) -> None:
        """One rule engine per database: a second monitor would evaluate the same log twice. The lock is
        held by a dedicated connection for the life of the process (and dies with it)."""
        conn = await psycopg.AsyncConnection.connect(str(self.pool.conninfo), autocommit=True)
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (ENGINE_LOCK,))
        row = await cur.fetchone()
        if not (row and row[0]):
            await conn.close()
            raise EngineBusy("another sealguard monitor is running the rule engine on this database")
        self._lock_conn = conn

    async def _recover(self) -> None:
        async with self.pool.connection() as conn:
            self._partitions = PartitionCache(await native_partitions(conn))
            snap = await engine_log.latest_snapshot(conn)
            if snap is None:
                base, engine, book = 0, Engine(self.policy, remember_ids=False), AlertBook(retain=False)
            else:
                base, data = snap
                engine = Engine.restore(data["engine"], self.policy)
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
                replayed += 1
            self.seq = max(base, await engine_log.last_seq(conn))
        self.engine, self.book = engine, book
        now = self.mono()
        self.idle = {tenant: (clock, now) for tenant, clock in engine.clocks.items()}
        self._since_snapshot = replayed
        self._ticks_pending = set()
        log.info("engine restored at sequence %d (%d log entries replayed after the snapshot)", self.seq, replayed)

    async def _snapshot(self) -> None:
        data = {"engine": self.engine.snapshot(), "book": self.book.snapshot()}
        async with self.pool.connection() as conn:
            await engine_log.save_snapshot(conn, self.seq, data)
        self._since_snapshot = 0
        self._snapshot_mono = self.mono()

    def _set_db(self, ok: bool) -> None:
        self.db_ok = ok
        metrics.DB_UP.set(1 if ok else 0)


def _reason_label(reason: str | None) -> str:
    """A bounded label for the rejected-per-reason metric: the first field named, or the kind of error."""
    if not reason:
        return "unknown"
    if reason.startswith(("not valid JSON", "tenant mismatch", "an event must", "storage refused", "contains a NUL")):
        return reason.split(":")[0][:40]
    head = reason.split(":")[0]
    return head if len(head) <= 40 and " " not in head else "invalid"
