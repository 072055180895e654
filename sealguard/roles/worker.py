"""The worker: the rule engine over the log, for ``sealguard worker`` (one member of a Kafka consumer
group) and ``sealguard up`` (the embedded log in PostgreSQL, every partition; ``stream.log``). Everything
below holds for both: the consumer is the only difference.

Each partition of the events topic (keyed ``{tenant}:{conveyance_id}``) is owned by one worker, which
holds one engine and one alert book for it (``sealguard.stream.operator.Operator``). A batch of
records is handled in one PostgreSQL transaction that stores the events, dead letters, idle ticks, the
seal stage's facts and verdicts, the alert changes with their history and pages, the conveyances'
projection, and each partition's next offset. The offset is advanced by compare-and-set, so a worker
that lost a partition in a rebalance cannot commit over its new owner: effects are exactly-once without
Kafka transactions, and Kafka's own committed offsets serve lag monitoring only.

When a partition is assigned, its state is restored from its checkpoint and the records between the
checkpoint and the stored offset are read again to rebuild it, without writing anything (they were
stored before): a record is re-applied only if the event id store holds it under that record's own
sequence number (``record_seq``), so duplicates and dead letters stay what they were. Ticks recorded
between records are re-applied at the same places, so timers fire exactly as they did. Any failure
rebuilds the affected partitions the same way and reads their records again; a record that fails on
its own is dead-lettered with the reason.

Reference data comes from the broadcast table (``reference_events``, written by gateways), shared by all
partitions and read as of each event's time; people's releases of alerts arrive as control records in
the partition of the alert's conveyance (header ``sealguard-control: release``).
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import psycopg
import psycopg_pool

from sealguard.alerts.book import AlertBook, AlertRecord, Change
from sealguard.alerts.config import AlertingConfig
from sealguard.errors import SealguardError
from sealguard.ingest.inbound import ItemResult
from sealguard.ingest.kafka import KafkaOptions, OnAssigned, OnRevoked, PartitionedConsumer, PartitionRecord
from sealguard.metrics import Metrics
from sealguard.retry import Backoff
from sealguard.rules.engine import Engine, StateChanges
from sealguard.rules.findings import Finding
from sealguard.rules.policy import Policy
from sealguard.rules.reference import SharedReference
from sealguard.rules.seal_registry import SealFact, reuse_findings, reuse_verdicts
from sealguard.rules.view import conveyance_view
from sealguard.schemas.decode import InvalidEvent, decode_event, decode_object
from sealguard.schemas.events import Event
from sealguard.store import alert_rows, live, partition_log, projection, reference, seal_facts
from sealguard.store.dead_letters import DEFAULT_LIMITS, DeadLetterLimits, write_dead_letters
from sealguard.store.events import (
    DeadLetter,
    PartitionCache,
    StoredEvent,
    stored_seqs,
    write_events,
)
from sealguard.store.partition_log import Checkpoint, PartitionTick
from sealguard.stream import clocks, state_rows
from sealguard.stream.alert_changes import apply_changes
from sealguard.stream.live import batch_updates
from sealguard.stream.log import CONTROL, RECEIVED, SOURCE, ConsumerFactory, provenance_of
from sealguard.stream.operator import Operator
from sealguard.stream.outage import RETRYABLE, until_answered
from sealguard.stream.partitioned import apply_reference
from sealguard.stream.verdicts import Decoded, Verdicts

log = logging.getLogger("sealguard.roles.worker")


def record_seq(partition: int, offset: int) -> int:
    """The sequence number a worker stores a record's event under: unique, and it names the record."""
    return ((partition + 1) << 40) | offset


class Fenced(SealguardError):
    """Another worker committed the partition meanwhile: this one's view of it is stale."""

    def __init__(self, partition: int) -> None:
        super().__init__(f"partition {partition} was committed by another worker")
        self.partition = partition


@dataclass(slots=True)
class OwnedPartition:
    number: int
    state: Operator
    next_offset: int  # stored in the database: every record before it is handled
    position: int  # the next record expected from Kafka (below next_offset while catching up)
    last_tick_id: int
    recorded: list[PartitionTick]  # ticks stored before, not yet re-applied (catching up)
    idle: dict[str, tuple[float, float]] = field(default_factory=dict)
    pending: list[tuple[str, float]] = field(default_factory=list)  # (tenant, until) idle ticks to apply
    since_checkpoint: int = 0
    checkpoint_mono: float = 0.0
    rewrite: bool = True  # the next checkpoint writes every row (none of this layout is stored yet)
    routes: set[str] = field(default_factory=set)  # the route rows this partition's checkpoint holds


@dataclass(slots=True)
class _Work:
    """What the live records of one transaction produce."""

    rows: list[StoredEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    changes: list[tuple[Change, AlertRecord]] = field(default_factory=list)
    facts: list[SealFact] = field(default_factory=list)
    ticks: dict[int, list[tuple[int, str, float]]] = field(default_factory=dict)  # partition -> rows
    touched: set[tuple[str, str]] = field(default_factory=set)
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> (expected, new)
    received: list[float] = field(default_factory=list)  # each stored event's receipt time (epoch s)
    kinds: list[tuple[str, str]] = field(default_factory=list)  # (source, kind) of each event stored
    tick_ids: dict[int, int] = field(default_factory=dict)  # partition -> id of its last tick written
    verdicts: list[tuple[tuple[str, str], ItemResult]] = field(default_factory=list)  # for senders waiting


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool[Any],
        options: KafkaOptions | None,
        policy: Policy | None = None,
        *,
        alerting: AlertingConfig | None = None,
        owner: str = "worker",
        idle_advance_after: float = 60.0,
        tick_interval: float = 1.0,
        checkpoint_every_records: int = 50_000,
        checkpoint_every_s: float = 60.0,
        metrics: Metrics | None = None,
        mono: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = _utcnow,
        dead_letters: DeadLetterLimits = DEFAULT_LIMITS,
        consumer: ConsumerFactory | None = None,
        topic: str | None = None,
        verdicts: Verdicts | None = None,
        decoded: Decoded | None = None,
        whole: bool = False,
    ) -> None:
        """``options``: the Kafka topic and group to consume; ``consumer`` (with ``topic``, its name in the
        partition tables) replaces them with another log's reader (``stream.log.PgLogConsumer``).

        ``whole``: one partition holds every conveyance (``up``'s default), so its engine is a whole engine:
        reference data, trip ids and seal reuse are decided inside it, in log order, exactly as
        ``sealguard replay`` decides them; otherwise each partition's engine reads the broadcast table and
        the seal stage decides across partitions (docs/partitioning.md)."""
        self.pool = pool
        self._consumer_of = consumer or self._kafka_consumer
        if topic is None:
            assert options is not None  # a Kafka worker names its partitions by its topic
            topic = options.topic
        self._topic = topic
        self.verdicts = verdicts
        self.decoded = decoded
        self.whole = whole
        self.dead_letters = dead_letters
        self.options = options
        self.policy = policy or Policy()
        self.alerting = alerting or AlertingConfig()
        self.owner = owner
        self.idle_advance_after = idle_advance_after
        self.tick_interval = tick_interval
        self.checkpoint_every_records = checkpoint_every_records
        self.checkpoint_every_s = checkpoint_every_s
        self.metrics = metrics or Metrics()
        self.mono = mono
        self.clock = clock
        self.shared = SharedReference()
        self.reference_id = 0
        self.owned: dict[int, OwnedPartition] = {}
        self.consumer: Any = None  # a PartitionedConsumer, or another log's reader of the same shape
        self.refused: dict[tuple[int, int], str] = {}  # (partition, offset) -> why it is dead-lettered
        self._partitions = PartitionCache(True)
        self._stopping = False
        self.connected = False

    @property
    def _shared_or_none(self) -> SharedReference | None:
        return None if self.whole else self.shared

    @property
    def topic(self) -> str:
        return self._topic

    def _kafka_consumer(self, assigned: OnAssigned, revoked: OnRevoked) -> PartitionedConsumer:
        assert self.options is not None
        return PartitionedConsumer(self.options, assigned, revoked, metrics=self.metrics.ingest)

    def quiet(self) -> bool:
        """Nothing in hand: no partition catching up, no idle tick waiting or due (tests settle on it)."""
        mono = self.mono()
        for part in self.owned.values():
            if part.position < part.next_offset or part.pending:
                return False
            if clocks.due_ticks(part.state.engine, part.idle, mono, self.idle_advance_after, set()):
                return False
        return True

    def request_stop(self) -> None:
        """Finish the batch in hand, checkpoint, leave the group."""
        self._stopping = True

    # --- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        backoff = Backoff()
        while not self._stopping:
            try:
                async with self._consumer_of(self._assigned, self._revoked) as consumer:
                    self.consumer = consumer
                    self.connected = True
                    backoff.reset()
                    await self._consume(consumer)
            except Exception as exc:
                if self._stopping:
                    break
                if isinstance(exc, RETRYABLE):
                    self.metrics.db_up.set(0)
                delay = backoff.next()
                log.warning("worker: Kafka or the database failed (%s); reconnecting in %.1f s", exc, delay)
                self.owned.clear()
                await asyncio.sleep(delay)
            finally:
                self.connected = False
                self.consumer = None

    async def _consume(self, consumer: Any) -> None:
        last_tick = self.mono()
        while not self._stopping:
            fetched = await consumer.fetch(200)
            now = self.mono()
            if now - last_tick >= self.tick_interval:
                self._due_ticks(now)
                last_tick = now
            if fetched or any(p.pending for p in self.owned.values()):
                await self._handle(fetched)
                await consumer.commit({p: self.owned[p].next_offset for p in fetched if p in self.owned})
            await self._maybe_checkpoint()

    def _due_ticks(self, mono: float) -> None:
        for part in self.owned.values():
            if part.position < part.next_offset:
                continue  # catching up: its clocks are not yet where they were
            busy = {tenant for tenant, _ in part.pending}
            for tick in clocks.due_ticks(part.state.engine, part.idle, mono, self.idle_advance_after, busy):
                part.pending.append((tick.tenant, tick.until))

    # --- partitions come and go ----------------------------------------------------------------------

    async def _assigned(self, partitions: list[int]) -> dict[int, int]:
        """Restore each partition from its checkpoint; return where each resumes reading."""
        seek = {}
        async with self.pool.connection() as conn:
            await self._refresh_reference(conn)
            for number in partitions:
                part = await self._restore(conn, number)
                self.owned[number] = part
                seek[number] = part.position
        self.metrics.db_up.set(1)
        log.info("worker %s: assigned partitions %s", self.owner, partitions)
        return seek

    async def _restore(self, conn: psycopg.AsyncConnection[Any], number: int) -> OwnedPartition:
        next_offset = await partition_log.claim(conn, self.topic, number, self.owner)
        cp = await partition_log.load_checkpoint(conn, self.topic, number)
        rewrite, routes = True, set()
        if cp is None or cp.next_offset > next_offset:
            engine = Engine(self.policy, remember_ids=False, shared=self._shared_or_none)
            state = Operator(engine, AlertBook(retain=False))
            position, last_tick = 0, 0
        else:
            if cp.data.get("layout") == "incremental":
                rows = await partition_log.load_state(conn, self.topic, number)
                tenants, conveyances, plans = state_rows.parts_of(rows)
                routes = {key[2:] for key in rows if key.startswith("r:")}
                engine = Engine.restore_parts(cp.data["engine"], tenants, conveyances, self.policy,
                                              plans=plans, shared=self._shared_or_none)  # fmt: skip
                rewrite = False
            else:  # a whole-state checkpoint (before incremental ones): the next one writes every row
                engine = Engine.restore(cp.data["engine"], self.policy, shared=self._shared_or_none)
                engine.mark_all_changed()
            state = Operator(engine, AlertBook.restore(cp.data["book"]))
            position, last_tick = cp.next_offset, cp.last_tick_id
        recorded = await partition_log.ticks_after(conn, self.topic, number, last_tick)
        part = OwnedPartition(number, state, next_offset, position, last_tick, recorded,
                              checkpoint_mono=self.mono(), rewrite=rewrite, routes=routes)  # fmt: skip
        where = f"the checkpoint at offset {position}" if cp is not None and position else "the beginning"
        log.info("worker %s: partition %d restored from %s; %d records and %d ticks to read again up to offset %d",
                 self.owner, number, where, next_offset - position, len(recorded), next_offset)  # fmt: skip
        if position == next_offset:
            self._replay_ticks(part, next_offset)
        return part

    async def _revoked(self, partitions: list[int]) -> None:
        for number in partitions:
            part = self.owned.pop(number, None)
            if part is not None and part.position >= part.next_offset and part.since_checkpoint:
                with contextlib.suppress(*RETRYABLE):
                    await self._checkpoint(part)
        log.info("worker %s: revoked partitions %s", self.owner, partitions)

    async def _reload(self, numbers: Iterable[int]) -> None:
        """Rebuild partitions from the database after a failure and read their records again."""
        async with self.pool.connection() as conn:
            await self._refresh_reference(conn)
            for number in sorted(set(numbers)):
                if number not in self.owned:
                    continue
                part = await self._restore(conn, number)
                self.owned[number] = part
                if self.consumer is not None:
                    self.consumer.seek(number, part.position)

    # --- one batch ------------------------------------------------------------------------------------

    async def _handle(self, fetched: dict[int, list[PartitionRecord]]) -> None:
        backoff = Backoff(base=0.2, cap=5.0)
        while True:
            try:
                await self._commit(fetched)
                return
            except Fenced as exc:
                log.warning("worker %s: %s; rebuilding it", self.owner, exc)
                await self._with_db(self._reload, [exc.partition])
                return
            except RETRYABLE as exc:
                log.warning("worker %s: database unavailable (%s); holding the batch", self.owner, exc)
                self.metrics.db_up.set(0)
                await asyncio.sleep(backoff.next())
                await self._with_db(self._reload, fetched)
                return  # the records come again from Kafka, from the stored offsets
            except _RecordFailed as exc:
                self.refused[(exc.partition, exc.offset)] = exc.reason
                await self._with_db(self._reload, [exc.partition])
                return
            except Exception as exc:
                if len(_live(fetched, self.owned)) <= 1:
                    culprit = next(iter(_live(fetched, self.owned)), None)
                    if culprit is None:
                        raise
                    reason = f"storage refused the event: {type(exc).__name__}: {exc}"[:1000]
                    log.warning("worker %s: dead-lettering record %s: %s", self.owner, culprit, reason)
                    self.refused[culprit] = reason
                    await self._with_db(self._reload, [culprit[0]])
                    return
                # Split: each live record alone, in order, to find the one the database refuses. Said
                # out loud: a batch gone record by record costs a transaction per record, and a cause
                # that is not the records' (a race between workers) must be seen to be fixed.
                log.warning("worker %s: a batch failed (%s: %s); trying its records one at a time", self.owner,
                            type(exc).__name__, exc)  # fmt: skip
                await self._with_db(self._reload, fetched)
                return await self._one_by_one(fetched)

    async def _one_by_one(self, fetched: dict[int, list[PartitionRecord]]) -> None:
        for number, records in sorted(fetched.items()):
            for record in records:
                part = self.owned.get(number)
                if part is None or record.offset < part.position:
                    continue
                await self._handle({number: [record]})

    async def _with_db(self, action: Callable[..., Any], *args: Any) -> None:
        await until_answered(action, *args, on_state=lambda up: self.metrics.db_up.set(1 if up else 0),
                             who=f"worker {self.owner}")  # fmt: skip

    def _gaps(self, fetched: dict[int, list[PartitionRecord]]) -> dict[int, list[PartitionRecord]]:
        """Records that do not continue where a partition stands (a fetch from before a rebalance or a
        seek) are dropped, and the partition is read again from where it stands: none is ever skipped."""
        out = {}
        for number, records in fetched.items():
            part = self.owned.get(number)
            if part is None:
                continue
            ahead = [r for r in records if r.offset >= part.position]
            if ahead and ahead[0].offset != part.position:
                log.warning("worker %s: partition %d fetched from offset %d, expected %d; reading it again",
                            self.owner, number, ahead[0].offset, part.position)  # fmt: skip
                if self.consumer is not None:
                    self.consumer.seek(number, part.position)
                continue
            out[number] = ahead
        return out

    async def _commit(self, fetched: dict[int, list[PartitionRecord]]) -> None:
        fetched = self._gaps(fetched)
        started = time.perf_counter()
        now = self.clock()
        # One transaction from the first statement on: a read before ``transaction()`` began one
        # implicitly, and the block became a savepoint inside it, two round trips more a batch.
        async with self.pool.connection() as conn, conn.transaction():
            await self._refresh_reference(conn)
            work = _Work()
            await self._catch_up(conn, fetched)
            await self._evaluate(conn, fetched, work)
            if not work.offsets:
                return
            await self._store(conn, work, now)
        self.metrics.db_up.set(1)
        self.metrics.db_write_latency.observe(time.perf_counter() - started)
        for number, (_, new) in work.offsets.items():
            part = self.owned[number]
            part.since_checkpoint += new - part.next_offset + len(work.ticks.get(number, ()))
            part.next_offset = new
            part.last_tick_id = work.tick_ids.get(number, part.last_tick_id)
        stored_at = time.time()  # receipt to stored: measured once the commit has returned
        for received in work.received:
            self.metrics.processing_latency.observe(max(0.0, stored_at - received))
        # Counted per batch: a label lookup and an increment per event were 2 % of a worker's time.
        for (source, kind), n in Counter(work.kinds).items():
            self.metrics.events_received.labels(source, kind).inc(n)
        for change, n in Counter(change for change, _ in work.changes).items():
            self.metrics.alert_changes.labels(change).inc(n)
        opened = Counter((r.rule_id, r.severity) for change, r in work.changes if change == "opened")
        for (rule_id, severity), n in opened.items():
            self.metrics.alerts_raised.labels(rule_id, severity).inc(n)
        if self.verdicts is not None:
            for key, result in work.verdicts:
                self.verdicts.settle(key, result)

    async def _catch_up(self, conn: psycopg.AsyncConnection[Any], fetched: dict[int, list[PartitionRecord]]) -> None:
        """Records before a partition's stored offset rebuild its state; nothing is written."""
        for number, records in sorted(fetched.items()):
            part = self.owned.get(number)
            if part is None:
                continue
            old = [r for r in records if part.position <= r.offset < part.next_offset]
            if not old:
                continue
            decoded = {r.offset: self._decode(r) for r in old if CONTROL not in r.headers}
            keys = [(e.tenant, e.event_id) for e in decoded.values() if not isinstance(e, InvalidEvent)]
            stored = await stored_seqs(conn, keys)
            for r in old:
                self._replay_ticks(part, r.offset)
                if CONTROL in r.headers:
                    _control(part, r)
                else:
                    event = decoded[r.offset]
                    if not isinstance(event, InvalidEvent) and stored.get((event.tenant, event.event_id)) == record_seq(
                        number, r.offset
                    ):
                        part.state.process(event, r.offset)  # its seal facts were judged when first handled
                part.position = r.offset + 1
            if part.position == part.next_offset:
                self._replay_ticks(part, part.next_offset)
                self._reset_idle(part)

    def _replay_ticks(self, part: OwnedPartition, before: int) -> None:
        while part.recorded and part.recorded[0].at_offset <= before:
            tick = part.recorded.pop(0)
            part.state.advance(tick.until, tick.tenant)
            part.last_tick_id = tick.id

    def _reset_idle(self, part: OwnedPartition) -> None:
        now = self.mono()
        part.idle = {tenant: (clock, now) for tenant, clock in part.state.engine.clocks.items()}

    async def _evaluate(self, conn: psycopg.AsyncConnection[Any], fetched: dict[int, list[PartitionRecord]],
                        work: _Work) -> None:  # fmt: skip
        """Live records (and pending idle ticks) through each partition's engine; collects what to write."""
        live = {n: [r for r in fetched.get(n, []) if r.offset >= part.next_offset and r.offset >= part.position]
                for n, part in self.owned.items() if part.position >= part.next_offset}  # fmt: skip
        decoded = {(n, r.offset): self._decode(r) for n, rs in live.items() for r in rs if CONTROL not in r.headers}
        keys = [(e.tenant, e.event_id) for e in decoded.values() if not isinstance(e, InvalidEvent)]
        stored = set((await stored_seqs(conn, keys)).keys())
        applied_at = self.mono()
        for number in sorted(live):
            part, records = self.owned[number], live[number]
            if not records and not part.pending:
                continue
            start = records[0].offset if records else part.next_offset
            for tenant, until in part.pending:
                work.ticks.setdefault(number, []).append((start, tenant, until))
                work.changes += part.state.advance(until, tenant)
            part.pending.clear()
            for r in records:
                self._live_record(part, r, decoded.get((number, r.offset)), stored, work, applied_at)
                part.position = r.offset + 1
            work.offsets[number] = (part.next_offset, part.position)

    def _live_record(self, part: OwnedPartition, r: PartitionRecord, event: Event | InvalidEvent | None,
                     stored: set[tuple[str, str]], work: _Work, applied_at: float) -> None:  # fmt: skip
        number = part.number
        headers = r.headers
        if CONTROL in headers:
            work.changes += _control(part, r)
            return
        received = datetime.fromtimestamp(r.timestamp_ms / 1000, UTC)
        source = _source(headers[SOURCE]) if SOURCE in headers else "kafka"
        refused = self.refused.pop((number, r.offset), None) if self.refused else None
        if refused is not None or isinstance(event, InvalidEvent) or event is None:
            reason = refused or (event.reason if isinstance(event, InvalidEvent) else "not an event")
            tenant = None if isinstance(event, InvalidEvent) or event is None else event.tenant
            eid = getattr(event, "event_id", None)
            work.dead.append(DeadLetter(received, source, self._origin(r), tenant, eid, reason, r.value))
            if tenant is not None and eid is not None:
                self._verdict(work, (tenant, eid), ItemResult("rejected", eid, reason))
            return
        key = (event.tenant, event.event_id)
        if key in stored:
            self.metrics.events_duplicate.labels(source).inc()
            self._verdict(work, key, ItemResult("duplicate", event.event_id))
            return
        try:
            outcome, changes, facts = part.state.process(event, r.offset)
        except Exception as exc:
            log.exception("a rule raised on event %s of tenant %s", event.event_id, event.tenant)
            raise _RecordFailed(number, r.offset, f"a rule failed on this event: {type(exc).__name__}: {exc}") from exc
        if outcome.status != "applied":
            reason = outcome.reason or outcome.status
            dead = DeadLetter(received, source, self._origin(r), event.tenant, event.event_id, reason, r.value)
            work.dead.append(dead)
            self._verdict(work, key, ItemResult("rejected", event.event_id, reason))
            return
        stored.add(key)
        facility = event.source.facility_id if event.source else None
        for change, record in changes:
            if change == "opened":
                record.facility_id = facility
        work.changes += changes
        work.facts += facts
        work.rows.append(StoredEvent(record_seq(number, r.offset), event, r.value, source, received,
                                     provenance_of(r.headers)))  # fmt: skip
        work.kinds.append((source, event.kind))
        if self.verdicts is not None and self.verdicts.wants(key):
            raised = tuple({"rule_id": f.rule_id, "severity": f.severity, "message": f.message}
                           for f in outcome.findings if f.action == "raise")  # fmt: skip
            work.verdicts.append((key, ItemResult("accepted", event.event_id, findings=raised)))
        if event.conveyance_id:
            work.touched.add((event.tenant, event.conveyance_id))
        t = part.state.engine.event_time
        last = part.idle.get(event.tenant)
        part.idle[event.tenant] = (t if last is None else max(last[0], t), applied_at)
        if (sent := headers.get(RECEIVED)) is not None and sent.isdigit():  # a gateway's receipt time, in ms
            work.received.append(int(sent) / 1000)

    def _origin(self, r: PartitionRecord) -> dict[str, Any]:
        """Where a dead-lettered record sits in the log (built only for a dead letter)."""
        return {"topic": self._topic, "partition": r.partition, "offset": r.offset}

    def _decode(self, r: PartitionRecord) -> Event | InvalidEvent:
        event = self.decoded.take(r.value) if self.decoded is not None else None
        return event if event is not None else _decode(r)

    def _verdict(self, work: _Work, key: tuple[str, str], result: ItemResult) -> None:
        if self.verdicts is not None and self.verdicts.wants(key):
            work.verdicts.append((key, result))

    async def _store(self, conn: psycopg.AsyncConnection[Any], work: _Work, now: datetime) -> None:
        # The seal stage first: its locks are taken before any tenant's history head (no lock cycles).
        work.changes += await self._seal_stage(conn, work.facts)
        await write_events(conn, work.rows, self._partitions)
        await write_dead_letters(conn, work.dead, self.dead_letters)
        for number, ticks in work.ticks.items():
            ids = await partition_log.write_ticks(conn, self.topic, number, ticks)
            work.tick_ids[number] = ids[-1]
        await apply_changes(conn, work.changes, now, self.alerting)
        views = []
        for tenant, cid in sorted(work.touched):
            for part in self.owned.values():
                conv = part.state.engine.conveyances.get((tenant, cid))
                if conv is not None:
                    views.append((tenant, cid, conveyance_view(conv, geometry=False)))
                    break
        # The last writes answer nothing the batch needs but the offsets' fencing: sent together, one
        # round trip (on a busy machine every round trip also waits for the server to be scheduled).
        async with conn.pipeline() as pipeline:
            await projection.upsert(conn, views, now)
            await live.notify(conn, batch_updates(work.changes, (r.event for r in work.rows)))
            moved = [(number, await partition_log.advance(conn, self.topic, number, expected, new, self.owner))
                     for number, (expected, new) in sorted(work.offsets.items())]  # fmt: skip
            await pipeline.sync()
        for number, cursor in moved:
            if cursor.rowcount != 1:
                raise Fenced(number)

    async def _seal_stage(self, conn: psycopg.AsyncConnection[Any],
                          facts: list[SealFact]) -> list[tuple[Change, AlertRecord]]:  # fmt: skip
        """SEAL-006 across conveyances: store the facts, judge each touched seal's facts in event-time
        order, raise each new verdict once (as an alert of the affix's conveyance)."""
        if not facts:
            return []
        seals = {(f.tenant, f.seal) for f in facts}
        async with conn.pipeline():  # the locks, the new facts and every fact of their seals: one round trip
            await seal_facts.lock_seals(conn, seals)
            await seal_facts.insert(conn, [seal_facts.SealFactRow(f.tenant, f.seal, f.event_id, f.seal_number,
                                                                  f.kind, f.conveyance_id, f.trip_id, f.at,
                                                                  f.position) for f in facts])  # fmt: skip
            rows = await seal_facts.of_seals(conn, seals)
        by_seal: dict[tuple[str, str], list[SealFact]] = {}
        raised = {(r.tenant, r.event_id) for r in rows if r.reuse_raised}
        for r in rows:
            kind: Literal["affixed", "removed"] = "affixed" if r.kind == "affixed" else "removed"
            fact = SealFact(r.tenant, r.seal, r.seal_number, kind, r.conveyance_id, r.trip_id, r.at, r.event_id,
                            r.position)  # fmt: skip
            by_seal.setdefault((r.tenant, r.seal), []).append(fact)
        new = [(f, why) for key in sorted(by_seal) for f, why in reuse_verdicts(by_seal[key], self.policy.horizon)
               if (f.tenant, f.event_id) not in raised]  # fmt: skip
        await seal_facts.mark_raised(conn, [(f.tenant, f.seal, f.event_id) for f, _ in new])
        return await _open_unless_open(conn, reuse_findings(self.policy, new))

    async def _refresh_reference(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.whole:
            return  # a whole engine reads reference data from the log, in order, not from the broadcast table
        while True:
            rows = await reference.after(conn, self.reference_id)
            for row in rows:
                try:
                    event = decode_object(row.payload)
                except InvalidEvent as exc:  # stored by a gateway, so valid; never stop on one
                    log.error("reference event %s of %s cannot be read: %s", row.event_id, row.tenant, exc.reason)
                else:
                    apply_reference(self.shared, event)
                self.reference_id = row.id
            if len(rows) < 10_000:
                return

    # --- checkpoints --------------------------------------------------------------------------------

    async def _maybe_checkpoint(self) -> None:
        """At most one partition's checkpoint between two batches: partitions assigned together come due
        together, and writing them back to back held the records behind them for all of them at once
        (in ``bench.roles_bench``'s latency run, three of 30-80 ms each: up to 190 ms without a batch).
        The others are due on the next turns of the loop, a batch apart."""
        part = due_checkpoint(self.owned.values(), self.mono(), self.checkpoint_every_records,
                              self.checkpoint_every_s)  # fmt: skip
        if part is not None:
            with contextlib.suppress(*RETRYABLE):
                await self._checkpoint(part)

    async def _checkpoint(self, part: OwnedPartition) -> None:
        """Write what changed since the last checkpoint (one row per changed conveyance and tenant), the
        engine-wide part and the alert book, with the offset it stands at; only while this worker still
        owns the partition at that offset."""
        started = time.perf_counter()
        engine = part.state.engine
        if part.rewrite:
            engine.mark_all_changed()
        written: list[StateChanges] = []
        size = 0
        meta: dict[str, Any] = {}
        async with self.pool.connection() as conn, conn.transaction():
            if not await partition_log.owned(conn, self.topic, part.number, self.owner, part.next_offset):
                log.info("worker %s: partition %d is no longer mine; no checkpoint", self.owner, part.number)
                return
            routes = set() if part.rewrite else set(part.routes)
            if part.rewrite:
                await partition_log.write_state(conn, self.topic, part.number, {}, [], replace_all=True)
            # Chunk by chunk in one transaction: a partition's first checkpoint never holds every row at once.
            closed = False
            for changes in engine.changes_in_chunks():
                rows, gone = state_rows.rows_of(changes, routes)
                size += await partition_log.write_state(conn, self.topic, part.number, rows, gone)
                closed = closed or bool(changes.plans_gone)
                written.append(changes.keys_only())
                meta = changes.meta
            if closed:  # routes no open trip follows any more
                routes -= set(await partition_log.delete_orphan_routes(conn, self.topic, part.number))
            data = {"layout": "incremental", "engine": meta, "book": part.state.book.snapshot()}
            cp = Checkpoint(part.next_offset, part.last_tick_id, data)
            size += await partition_log.save_checkpoint(conn, self.topic, part.number, cp)
        for keys in written:
            engine.forget_changes(keys)
        part.rewrite = False
        part.routes = routes
        self.metrics.checkpoint_seconds.observe(time.perf_counter() - started)
        self.metrics.checkpoint_bytes.labels(str(part.number)).set(size)
        part.since_checkpoint = 0
        part.checkpoint_mono = self.mono()

    async def stop(self) -> None:
        """Checkpoint what is owned (a restart then reads little again)."""
        for part in list(self.owned.values()):
            if part.position >= part.next_offset and part.since_checkpoint:
                with contextlib.suppress(*RETRYABLE):
                    await self._checkpoint(part)


def due_checkpoint(parts: Iterable[OwnedPartition], now: float, every_records: int,
                   every_s: float) -> OwnedPartition | None:  # fmt: skip
    """The partition whose checkpoint is due, the longest-waiting first (None when none is): one that has
    handled ``every_records`` since its last, or has changed and waited ``every_s``; never one catching up
    (its state is not yet where its stored offset is)."""
    due = [p for p in parts if p.position >= p.next_offset and p.since_checkpoint
           and (p.since_checkpoint >= every_records or now - p.checkpoint_mono >= every_s)]  # fmt: skip
    return min(due, key=lambda p: (p.checkpoint_mono, p.number), default=None)


class _RecordFailed(Exception):
    def __init__(self, partition: int, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.partition = partition
        self.offset = offset
        self.reason = reason[:1000]


def _source(header: bytes) -> str:
    """A record's source header as text: a handful of short values, read on every record, so decoded once
    each. A long one (anyone who can write to the topic chooses it) is decoded and not kept."""
    return _short_source(header) if len(header) <= 64 else header.decode(errors="replace")


@functools.lru_cache(maxsize=64)
def _short_source(header: bytes) -> str:
    return header.decode(errors="replace")


def _decode(r: PartitionRecord) -> Event | InvalidEvent:
    try:
        return decode_event(r.value)
    except InvalidEvent as exc:
        return exc


def _control(part: OwnedPartition, r: PartitionRecord) -> list[tuple[Change, AlertRecord]]:
    """A control record, in the partition's order: ``release`` (a person resolved an alert: the next
    finding opens a new one) or ``advance`` (move this partition's clocks, every tenant's or one's, to
    ``until``: the end of a backfill, as ``sealguard replay --until`` does at the end of a file)."""
    verb = r.headers[CONTROL]
    try:
        body = orjson.loads(r.value)
        if verb == b"release":
            part.state.release(str(body["dedup_key"]), str(body["alert_id"]))
            return []
        if verb == b"advance":
            return part.state.advance(float(body["until"]), body.get("tenant"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        pass
    log.error("partition %d offset %d: a control record that cannot be read (%r)", part.number, r.offset, verb)
    return []


def _live(fetched: dict[int, list[PartitionRecord]], owned: dict[int, OwnedPartition]) -> list[tuple[int, int]]:
    return [(n, r.offset) for n, rs in sorted(fetched.items()) if n in owned for r in rs
            if r.offset >= owned[n].next_offset]  # fmt: skip


async def _open_unless_open(conn: psycopg.AsyncConnection[Any],
                            findings: list[Finding]) -> list[tuple[Change, AlertRecord]]:  # fmt: skip
    """The seal stage's alert book is the alerts table: one alert per dedup key while it is open."""
    out: list[tuple[Change, AlertRecord]] = []
    book = AlertBook(retain=False)
    for finding in findings:
        if await alert_rows.open_with_key(conn, finding.dedup_key):
            continue
        change, record = book.apply(finding)
        if record is not None and change == "opened":
            out.append((change, record))
    return out
