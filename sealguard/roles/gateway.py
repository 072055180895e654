"""The gateway: stateless ingest in front of the worker, over a log (``stream.log``: Kafka for the split
roles' ``sealguard gateway``, PostgreSQL for ``sealguard up``).

Devices and systems reach a gateway over MQTT (several gateways share the load through an MQTT 5
shared subscription) and HTTP. For each input, in the order received, the gateway:

1. admits it (``pipeline.admission``: decoded, validated, allowed for the sender, plausibly dated);
   a refused input is dead-lettered with its reason and answered ``rejected``;
2. decides what needs the whole tenant, at the edge (docs/partitioning.md; not when one whole engine
   reads the log, ``edge=False``, which decides these itself in log order): reference data
   (``seal.issued``, ``facility.registered``) is stored in the broadcast table and the event store and
   answered there (a repeat is a ``duplicate``); a ``trip.planned`` whose trip id belongs to another
   conveyance, or is closed, is refused; a ``trip.closed`` closes the trip id;
3. appends every other accepted event to the log, keyed ``{tenant}:{conveyance_id}``, and answers
   ``accepted`` once the log holds it durably (Kafka ``acks=all``, or a committed transaction), so a
   transport acknowledges its sender only then; a log that recognises a duplicate (the embedded one)
   answers ``duplicate``. With ``verdicts`` (``up``: the worker runs in this process), an HTTP sender
   hears the worker's verdict instead: stored with what it raised, or refused and why.

Inputs go through one queue and one task, in the order they arrived. A refusal's dead letter, a trip
id decided at the edge and a seal issue wait on the database beside the queue, and only what must come
after them waits for them (``barriers``): the same conveyance's later events, the same trip id's, and the
tenant's later seal affixes (the only events whose rules read the seal inventory: SEAL-005). So two
events of one conveyance still reach the log in the order they arrived, while a slow commit for one
truck's plan, a seal issue, or a flood of refused inputs, no longer holds every other truck's fixes.

Seal issues are stored in rounds, one at a time: every issue that arrives while a round commits joins the
next, so a burst of them is a few commits, and an affix waits for at most two. Trip ids are decided in
rounds too (a fleet's morning of plans, one transaction each, held each truck's plan and its fixes for
up to 700 ms behind the others). A facility registration
is stored in line: a fix of its tenant may read it (stops at facilities, approved stops), so nothing
after it may reach the log first. Facilities queued one behind another are stored in one transaction. A gateway
holds nothing a restart would lose: an input not yet answered is not acknowledged, and its sender
delivers it again.
"""

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool

from sealguard.ingest.admit import MAX_EVENT_BYTES, Admitted
from sealguard.ingest.inbound import Inbound, ItemResult
from sealguard.ingest.kafka import record_key
from sealguard.metrics import Metrics
from sealguard.retry import Backoff
from sealguard.rules.trip_ids import TripDecision, TripOwner, judge_round
from sealguard.schemas.decode import InvalidEvent
from sealguard.schemas.events import TripClosed, TripPlanned
from sealguard.store import trip_owners
from sealguard.store.dead_letters import DEFAULT_LIMITS, DeadLetterLimits, write_dead_letters
from sealguard.store.event_log import NO_PROVENANCE, Provenance
from sealguard.store.events import (
    DeadLetter,
    PartitionCache,
    StoredEvent,
    native_partitions,
    write_reference_events,
)
from sealguard.stream.admission import admit_all
from sealguard.stream.log import Append, Log
from sealguard.stream.outage import RETRYABLE
from sealguard.stream.partitioned import REFERENCE_KINDS
from sealguard.stream.verdicts import Decoded, Verdicts

log = logging.getLogger("sealguard.roles.gateway")
MAX_BESIDE = 1000  # inputs at most running beside the queue (waiting on the database or on one before them)
DB_BESIDE = 4  # of those, at most this many hold a database connection at once (the pool serves the API too)
REFERENCE_RUN = 500  # reference events queued together stored in one transaction, at most (a round too)
TRIP_ATTEMPTS = 10  # a round of trip decisions decided again when another gateway took one of its trip ids
YIELD_EVERY = 32  # inputs handled in line between two turns of the event loop for what runs beside
#: The kinds whose rules read a tenant's seal inventory (``seal.issued``): they wait for the issues
#: before them; no other kind does (``tests/rules/test_inventory_readers.py`` checks this against the
#: rules). Stored in line, each seal issue held every input behind it for its commit: 246 of them in
#: the first second of ``bench.roles_bench``'s default fleet stopped the queue for over a second, and
#: the gateway held records p50 1.0-1.3 s at 5,000/s.
INVENTORY_READERS = frozenset({"seal.affixed"})
Barrier = tuple[str, ...]


def barriers(admission: Admitted | InvalidEvent, edge: bool) -> tuple[list[Barrier], list[Barrier], bool]:
    """What an input waits for, what later inputs must wait for while it runs, and whether it runs beside
    the queue (it waits on the database and nothing but its barriers depends on it). Pure: the order the
    gateway keeps is decided here."""
    if isinstance(admission, InvalidEvent):
        return [], [], True  # a dead letter: nothing waits for it, it waits for nothing
    event = admission.event
    cid = getattr(event, "conveyance_id", None)
    conveyance: list[Barrier] = [("conveyance", event.tenant, cid)] if cid is not None else []
    if edge and event.kind == "seal.issued":
        seals: list[Barrier] = [("seals", event.tenant)]
        return seals, seals, True  # beside, in rounds (``Gateway._issue``): only inventory readers wait
    if edge and event.kind in REFERENCE_KINDS:
        return [], [], False  # a facility, in line: every later event of the tenant may read it
    if edge and isinstance(event, TripPlanned | TripClosed):
        trip: Barrier = ("trip", event.tenant, event.trip_id)
        return [*conveyance, trip], [*conveyance, trip], True
    if edge and event.kind in INVENTORY_READERS:
        return [*conveyance, ("seals", event.tenant)], conveyance, False
    return conveyance, conveyance, False


class Gateway:
    """The edge's ``EventSink``."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], log: Log, *, verdicts: Verdicts | None = None,
                 decoded: Decoded | None = None,
                 edge: bool = True,
                 max_future_skew: float | None = 300.0, queue_size: int = 10_000, metrics: Metrics | None = None,
                 wall: Callable[[], float] = time.time,
                 dead_letters: DeadLetterLimits = DEFAULT_LIMITS,
                 max_event_bytes: int = MAX_EVENT_BYTES) -> None:  # fmt: skip
        self.pool = pool
        self.dead_letters = dead_letters
        self.max_event_bytes = max_event_bytes
        self.log = log
        self.verdicts = verdicts
        self.decoded = decoded  # the worker in this process takes the decoded event instead of decoding again
        self.edge = edge  # False: one whole engine reads the log, and decides reference data and trip ids itself
        self.max_future_skew = max_future_skew
        self.metrics = metrics or Metrics()
        self.wall = wall
        self.queue: asyncio.Queue[Inbound | None] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._beside: set[asyncio.Task[None]] = set()  # inputs running beside the queue
        self._last: dict[Barrier, asyncio.Task[None]] = {}  # the latest input beside the queue holding each
        self._db_slots = asyncio.Semaphore(DB_BESIDE)
        self._issues = _Rounds(self, "gateway-seal-issues", self._references)
        self._trips = _Rounds(self, "gateway-trip-decisions", self._decide)
        self._closing = False
        self._partitions = PartitionCache(True)

    async def start(self) -> None:
        await self.log.start()
        async with self.pool.connection() as conn:
            self._partitions = PartitionCache(await native_partitions(conn))
        self._task = asyncio.create_task(self._run(), name="gateway")

    async def stop(self, timeout: float = 10.0) -> None:
        """Answer what was submitted (the log permitting), then close the log."""
        self._closing = True
        if self._task is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            for task in list(self._beside):  # never answered: their senders deliver them again
                task.cancel()
            await asyncio.gather(*self._beside, return_exceptions=True)
        await self.log.stop()

    async def submit(self, item: Inbound) -> "asyncio.Future[ItemResult]":
        if self._closing:
            raise RuntimeError("the gateway is shutting down")
        item.done = asyncio.get_running_loop().create_future()
        await self.queue.put(item)
        self.metrics.queue_depth.set(self.queue.qsize())
        return item.done

    async def _run(self) -> None:
        ahead: collections.deque[tuple[Inbound | None, Admitted | InvalidEvent | None]] = collections.deque()
        handled = 0
        while True:
            handled += 1
            if handled % YIELD_EVERY == 0 and self._beside:
                # A queue that is not empty hands over its next input without yielding, and so does a log
                # with room: under load this loop ran thousands of inputs in a row while the inputs beside
                # the queue (a round of seal issues, a trip decision) waited for the loop.
                await asyncio.sleep(0)
            item, admitted = ahead.popleft() if ahead else (await self.queue.get(), None)
            if item is None:
                await asyncio.gather(*self._beside, return_exceptions=True)
                return
            if admitted is None:
                (admitted,) = admit_all([item], self.max_future_skew, self.max_event_bytes)
            waits, holds, beside = barriers(admitted, self.edge)
            rounds = self._rounds_of(admitted)
            before = {task for key in waits if (task := self._last.get(key)) is not None}
            if rounds is not None:
                assert isinstance(admitted, Admitted)
                while rounds.waiting >= MAX_BESIDE:  # the database is slow: the queue waits, as in line
                    await asyncio.wait(self._beside, return_when=asyncio.FIRST_COMPLETED)
                rounds.join(item, admitted, holds, before)
                continue
            if not before and not beside:
                if self._in_line_reference(admitted):
                    await self._references(self._reference_run(item, admitted, ahead))
                    continue
                await self._guarded(item, admitted)  # the common case: in line, no task of its own
                continue
            while len(self._beside) >= MAX_BESIDE:
                await asyncio.wait(self._beside, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._after(before, item, admitted, beside), name="gateway-input")
            self._beside.add(task)
            task.add_done_callback(self._beside.discard)
            for key in holds:
                self._last[key] = task
            task.add_done_callback(functools.partial(self._release, holds))

    def _in_line_reference(self, admitted: Admitted | InvalidEvent) -> bool:
        return self.edge and isinstance(admitted, Admitted) and admitted.event.kind in REFERENCE_KINDS \
            and admitted.event.kind != "seal.issued"  # fmt: skip

    def _rounds_of(self, admitted: Admitted | InvalidEvent) -> "_Rounds | None":
        """The rounds an input is stored in, at the edge: seal issues, and trip ids decided."""
        if not self.edge or not isinstance(admitted, Admitted):
            return None
        if admitted.event.kind == "seal.issued":
            return self._issues
        return self._trips if isinstance(admitted.event, TripPlanned | TripClosed) else None

    def _reference_run(self, item: Inbound, admitted: Admitted | InvalidEvent,
                       ahead: "collections.deque[tuple[Inbound | None, Admitted | InvalidEvent | None]]",
                       ) -> list[tuple[Inbound, Admitted]]:  # fmt: skip
        """The reference data queued right behind ``item``, up to ``REFERENCE_RUN`` inputs: stored in one
        transaction. Each was one transaction (a commit and a WAL flush) with the whole queue waiting:
        the hundred a fleet registers at its start held every input behind them for half a second. The
        first input that is not reference data is admitted here and handled next, in its turn."""
        assert isinstance(admitted, Admitted)
        run = [(item, admitted)]
        while len(run) < REFERENCE_RUN and not ahead and not self.queue.empty():
            following = self.queue.get_nowait()
            if following is None:
                ahead.append((None, None))
                break
            (next_admitted,) = admit_all([following], self.max_future_skew, self.max_event_bytes)
            if not self._in_line_reference(next_admitted):
                ahead.append((following, next_admitted))
                break
            assert isinstance(next_admitted, Admitted)
            run.append((following, next_admitted))
        return run

    async def _references(self, run: list[tuple[Inbound, Admitted]]) -> None:
        """Store a run of reference data in one transaction, holding it while the database is away; if the
        transaction fails otherwise, each input alone, so that one that cannot be stored fails only
        itself."""
        if len(run) == 1:
            await self._guarded(*run[0])
            return

        async def store() -> None:
            fresh = await self._store_references(run)
            for (item, admitted), new in zip(run, fresh, strict=True):
                self._answer_reference(item, admitted, new)

        failed = await self._holding([item for item, _ in run], store)
        if failed is not None:
            log.warning("gateway: a run of %d reference events failed (%s); storing each alone", len(run), failed)
            for item, admitted in run:
                await self._guarded(item, admitted)

    def _release(self, holds: list[Barrier], task: "asyncio.Task[None]") -> None:
        for key in holds:
            if self._last.get(key) is task:
                del self._last[key]

    async def _after(self, before: set["asyncio.Task[None]"], item: Inbound, admitted: Admitted | InvalidEvent,
                     database: bool) -> None:  # fmt: skip
        try:
            if before:
                await asyncio.wait(before)  # each answers its own sender; only their order matters here
            if database:
                async with self._db_slots:
                    await self._guarded(item, admitted)
            else:
                await self._guarded(item, admitted)
        except asyncio.CancelledError:
            _fail(item, RuntimeError("the gateway is shutting down"))
            raise

    async def _guarded(self, item: Inbound, admitted: Admitted | InvalidEvent) -> None:
        """Forward one input; while the database is away, hold it (unacknowledged) and try again."""
        failed = await self._holding([item], functools.partial(self._forward, item, admitted))
        if failed is not None:  # never answered: the sender delivers it again
            log.warning("gateway: could not forward an input (%s); it stays unacknowledged", failed)
            _fail(item, failed)

    async def _holding(self, items: list[Inbound], action: Callable[[], Awaitable[None]]) -> Exception | None:
        """Run ``action`` until the database answers: while it is away, ``items`` are held (unacknowledged)
        and it is tried again, backing off; when the gateway is closing, they fail instead. Returns the
        error of a failure that is not the database being away (None after success)."""
        outage: Backoff | None = None  # made on the first outage: a Backoff seeds a random generator
        while True:
            try:
                await action()
            except RETRYABLE as exc:
                if not self._closing:
                    self.metrics.db_up.set(0)
                    log.warning("gateway: database unavailable (%s); holding %d input(s)", exc, len(items))
                    outage = outage or Backoff(base=0.2, cap=5.0)
                    await asyncio.sleep(outage.next())
                    continue
                for item in items:
                    _fail(item, exc)
            except Exception as exc:
                return exc
            return None

    async def _forward(self, item: Inbound, admitted: Admitted | InvalidEvent) -> None:
        assert item.done is not None
        if isinstance(admitted, InvalidEvent):
            await self._refuse(item, admitted.reason, admitted.event_id)
            return
        assert isinstance(admitted, Admitted)  # an Inbound is admitted or refused
        event = admitted.event
        if self.edge and event.kind in REFERENCE_KINDS:
            (fresh,) = await self._store_references([(item, admitted)])
            self._answer_reference(item, admitted, fresh)
            return
        if self.edge and isinstance(event, TripPlanned | TripClosed):
            (reason,) = await self._trip_reasons([event])
            if reason is not None:
                await self._refuse(item, reason, event.event_id)
                return
        await self._append(item, admitted)

    async def _append(self, item: Inbound, admitted: Admitted) -> None:
        """Append an accepted event to the log; its sender is answered once the log holds it durably."""
        assert item.done is not None
        event = admitted.event
        key = record_key(event.tenant, getattr(event, "conveyance_id", None))
        ids = (event.tenant, event.event_id)
        verdict = self.verdicts.expect(ids) if self.verdicts is not None and item.source == "http" else None
        try:
            appended = await self.log.append(Append(key, admitted.payload, item.source, int(item.received_at * 1000),
                                                    event.tenant, event.event_id,
                                                    provenance=provenance(item, admitted)))  # fmt: skip
        except BaseException:
            if verdict is not None:
                verdict.cancel()
            raise
        if self.decoded is not None:
            self.decoded.keep(admitted.payload, event)
        started = time.perf_counter()

        def durable(f: "asyncio.Future[bool]") -> None:
            failed = f.cancelled() or f.exception() is not None
            if failed or not f.result():
                if verdict is not None:
                    verdict.cancel()
                if failed:
                    if item.done is not None and not item.done.done():
                        item.done.set_exception(f.exception() or RuntimeError("cancelled"))
                else:
                    self.metrics.events_duplicate.labels(item.source).inc()
                    _answer(item, ItemResult("duplicate", event.event_id))
                return
            self.metrics.db_write_latency.observe(time.perf_counter() - started)  # the worker counts it stored
            if verdict is None:
                _answer(item, ItemResult("accepted", event.event_id))
            else:
                verdict.add_done_callback(lambda v: None if v.cancelled() else _answer(item, v.result()))
                if item.done is not None:  # a sender that gave up waits for nothing
                    item.done.add_done_callback(lambda d: verdict.cancel() if d.cancelled() else None)

        appended.add_done_callback(durable)

    def _answer_reference(self, item: Inbound, admitted: Admitted, fresh: bool) -> None:
        if fresh:
            self.metrics.events_received.labels(item.source, admitted.event.kind).inc()
        _answer(item, ItemResult("accepted" if fresh else "duplicate", admitted.event.event_id))

    async def _store_references(self, run: list[tuple[Inbound, Admitted]]) -> list[bool]:
        """Store reference events in one transaction, in order, pipelined (the queue waits for it); for
        each, whether it was new (a repeat of a stored one, or of one before it in ``run``, is a
        duplicate)."""
        rows = [StoredEvent(0, admitted.event, admitted.payload, item.source,
                            datetime.fromtimestamp(item.received_at, UTC), provenance(item, admitted))
                for item, admitted in run]  # fmt: skip
        times = [r.event.occurred_at for r in rows]
        async with self.pool.connection() as conn:
            if self._partitions.missing(times):  # a new day: its partition first, in its own transaction
                async with conn.transaction():
                    await self._partitions.ensure(conn, times)
            async with conn.pipeline(), conn.transaction():
                stored = await write_reference_events(conn, rows)
        return [r is not None for r in stored]

    async def _decide(self, run: list[tuple[Inbound, Admitted]]) -> None:
        """A round of trip events: decided together in one transaction (the queue does not wait for it),
        then each refused or appended, in the order they came; if the round fails otherwise than by the
        database being away, each is decided alone, so that one that cannot be fails only itself."""
        events: list[TripPlanned | TripClosed] = []
        for _, admitted in run:
            assert isinstance(admitted.event, TripPlanned | TripClosed)
            events.append(admitted.event)
        reasons: list[str | None] = []

        async def decide() -> None:
            reasons[:] = await self._trip_reasons(events)

        failed = await self._holding([item for item, _ in run], decide)
        if failed is not None:
            log.warning("gateway: a round of %d trip events failed (%s); deciding each alone", len(run), failed)
            for item, admitted in run:
                await self._guarded(item, admitted)
            return
        for (item, admitted), reason in zip(run, reasons, strict=True):
            if reason is None:
                failure = await self._holding([item], functools.partial(self._append, item, admitted))
            else:
                failure = await self._holding(
                    [item], functools.partial(self._refuse, item, reason, admitted.event.event_id)
                )
            if failure is not None:
                log.warning("gateway: could not forward an input (%s); it stays unacknowledged", failure)
                _fail(item, failure)

    async def _trip_reasons(self, events: list[TripPlanned | TripClosed]) -> list[str | None]:
        """Decide trip events at the edge, in order, in one transaction: why each plan is refused (None
        for a close, and for a plan that may go on). Another gateway may give a trip id away between our
        look and our insert: the round is then decided again, against the owner it chose."""
        decisions = [TripDecision(e.tenant, e.trip_id, e.conveyance_id or "", isinstance(e, TripClosed))
                     for e in events]  # fmt: skip
        keys = [(d.tenant, d.trip_id) for d in decisions]
        async with self.pool.connection() as conn:
            for _ in range(TRIP_ATTEMPTS):
                async with conn.transaction() as tx:
                    found = await trip_owners.lock_all(conn, keys)
                    outcome = judge_round(decisions, {k: TripOwner(*v) for k, v in found.items()})
                    if await trip_owners.take_all(conn, outcome.taken) < len(outcome.taken):
                        raise psycopg.Rollback(tx)  # taken meanwhile by another gateway: decide again
                    await trip_owners.close_all(conn, outcome.closed)
                    return outcome.reasons
        raise RuntimeError(f"trip ids kept being taken by another gateway ({TRIP_ATTEMPTS} attempts)")

    async def _refuse(self, item: Inbound, reason: str, event_id: str | None) -> None:
        letter = DeadLetter(datetime.fromtimestamp(item.received_at, UTC), item.source, item.origin, item.tenant,
                            event_id, reason, item.raw)  # fmt: skip
        async with self.pool.connection() as conn, conn.transaction():
            await write_dead_letters(conn, [letter], self.dead_letters)
        self.metrics.dead_letters.labels(item.source).inc()
        _answer(item, ItemResult("rejected", event_id, reason))


def provenance(item: Inbound, admitted: Admitted) -> Provenance:
    """What to keep of where an event came from: the sender's bytes where admission changed them, and an
    adapter's partner message."""
    original = item.raw if item.partner is None and item.raw != admitted.payload else None
    return Provenance(original, item.partner) if original is not None or item.partner else NO_PROVENANCE


def _fail(item: Inbound, exc: BaseException) -> None:
    if item.done is not None and not item.done.done():
        item.done.set_exception(exc)


def _answer(item: Inbound, result: ItemResult) -> None:
    if item.done is not None and not item.done.done():
        item.done.set_result(result)


class _Rounds:
    """Inputs stored together, round after round: every input that arrives while a round is being stored
    joins the next one, so a burst is a few commits, and an input waits for at most two. A round holds the
    barriers of its inputs (later inputs that must follow them wait for the round) and waits, before it
    stores anything, for the round before it and for what its inputs had to follow that no round stands
    for (an input with such a wait opens a round of its own: a round that waited on a task which waits on
    the round would wait forever)."""

    def __init__(self, gateway: Gateway, name: str,
                 store: Callable[[list[tuple[Inbound, Admitted]]], Awaitable[None]]) -> None:  # fmt: skip
        self.gateway = gateway
        self.name = name
        self.store = store
        self.open: tuple[asyncio.Task[None], list[tuple[Inbound, Admitted]], set[Barrier]] | None = None
        self.last: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # this kind's rounds not yet done
        self.waiting = 0  # inputs in rounds not yet stored: at most MAX_BESIDE

    def join(self, item: Inbound, admitted: Admitted, holds: list[Barrier], before: set["asyncio.Task[None]"]) -> None:
        """Join the round not yet storing, or open one that waits for the latest round (and ``before``)."""
        outside = before - self.tasks  # the rounds before this one are waited for in turn anyway
        if self.open is None or len(self.open[1]) >= REFERENCE_RUN or outside:
            run: list[tuple[Inbound, Admitted]] = []
            keys: set[Barrier] = set()
            task = asyncio.create_task(self._round(self.last, outside, run), name=self.name)
            self.open = (task, run, keys)
            self.last = task
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            self.gateway._beside.add(task)
            task.add_done_callback(self.gateway._beside.discard)
            task.add_done_callback(lambda done: self.gateway._release(list(keys), done))
            task.add_done_callback(lambda _: self._settled(len(run)))
        task, run, keys = self.open
        run.append((item, admitted))
        self.waiting += 1
        for key in holds:
            keys.add(key)
            self.gateway._last[key] = task  # rounds go one after another: the latest stands for all before it

    def _settled(self, inputs: int) -> None:
        self.waiting -= inputs

    async def _round(self, previous: "asyncio.Task[None] | None", before: set["asyncio.Task[None]"],
                     run: list[tuple[Inbound, Admitted]]) -> None:  # fmt: skip
        try:
            waits = before | ({previous} if previous is not None else set())
            if waits:
                await asyncio.wait(waits)
            if self.open is not None and self.open[1] is run:
                self.open = None  # from here on, new inputs open the next round
            await self.store(list(run))
        except asyncio.CancelledError:
            for item, _ in run:
                _fail(item, RuntimeError("the gateway is shutting down"))
            raise
