"""The log between the edge and the worker, with its two backends: Kafka (the split roles) and
PostgreSQL (``sealguard up``: nothing to install, as durable as the database). A gateway appends to a
``Log``; a worker reads it through a consumer with the interface of ``ingest.kafka.PartitionedConsumer``
(assigned partitions, ``fetch``, ``seek``, advisory ``commit``), so everything from the log onwards is
one code path whichever backend holds the records.

Both backends answer an append once the record is durable (Kafka ``acks=all``; a committed PostgreSQL
transaction, several appends per transaction), and only then may a transport acknowledge its sender.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import psycopg_pool
from aiokafka import AIOKafkaProducer

from sealguard.errors import SealguardError
from sealguard.ingest.kafka import KafkaOptions, OnAssigned, OnRevoked, PartitionRecord
from sealguard.ingest.metrics import IngestMetrics
from sealguard.retry import Backoff
from sealguard.store import event_log
from sealguard.stream.outage import RETRYABLE
from sealguard.stream.partitioned import partition_for

log = logging.getLogger("sealguard.log")

CONTROL = "sealguard-control"  # header of a control record: its verb (release, advance)
RECEIVED = "sealguard-received"  # the gateway's receipt time (ms), for the receipt-to-stored latency
SOURCE = "sealguard-source"  # the transport the gateway received the event from (mqtt, http, kafka)
ORIGINAL = "sealguard-original"  # the bytes the sender sent, where admission changed them (a tenant filled in)
PARTNER_FORMAT = "sealguard-partner-format"  # an adapter's event: the partner's format (dcsa, owntracks, ...)
PARTNER = "sealguard-partner"  # ... and the SHA-256 of its message (kept once in the store), as evidence
EMBEDDED_TOPIC = "sealguard.log"  # the embedded log's name in the partition tables
ENGINE_LOCK = 0x5EA1_E461  # one reader of the embedded log per database
BATCH = 2000
POLL_S = 0.5  # a NOTIFY wakes the reader at once; the poll is what a missed one costs
TRIM_EVERY_S = 30.0
LINGER_S = 0.02  # what a small batch waits for company (Kafka's consumer waits up to fetch_max_wait_ms)
GROUP_LINGER_S = 0.002  # what an append waits for others to share its commit


class EngineBusy(SealguardError, RuntimeError):
    """Another monitor reads this database's embedded log (and would evaluate it twice)."""


@dataclass(frozen=True, slots=True)
class Append:
    """One record for the log: an event (``event_id`` set: a duplicate is refused where the backend can
    tell) or a control record (``control`` set)."""

    key: bytes | None
    value: bytes
    source: str
    received_ms: int
    tenant: str | None = None
    event_id: str | None = None
    control: str | None = None
    provenance: event_log.Provenance = event_log.NO_PROVENANCE


class Log(Protocol):
    """Where a gateway puts what it admitted. ``append`` waits while the backend is busy and returns a
    future: True once the record is durable, False for a duplicate the backend recognised."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def append(self, record: Append) -> "asyncio.Future[bool]": ...


class KafkaLog:
    """The log on a Kafka topic, partitioned by Kafka's default partitioner on the record key. Kafka
    cannot tell duplicates: the worker that owns the conveyance drops them."""

    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(acks="all", linger_ms=2, **self.options.client_args())
        await producer.start()
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
            self.producer = None

    async def append(self, record: Append) -> "asyncio.Future[bool]":
        assert self.producer is not None
        headers = list(_headers(record.received_ms, record.source, record.control, record.provenance).items())
        sent = await self.producer.send(self.options.topic, record.value, key=record.key, headers=headers)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def delivered(f: "asyncio.Future[Any]") -> None:
            if done.done():
                return
            if f.cancelled() or f.exception() is not None:
                done.set_exception(f.exception() or RuntimeError("cancelled"))
            else:
                done.set_result(True)

        sent.add_done_callback(delivered)
        return done


class Tail:
    """The newest records of the embedded log, handed from the writer to the reader in the same process
    after their commit, so the reader at the head of the log need not read back what was just written.
    The table stays the truth: a reader that is not exactly where the tail continues (a restart, a seek,
    a tail that overflowed) reads the table."""

    def __init__(self, limit: int = 4 * BATCH) -> None:
        self.limit = limit
        self.records: dict[int, list[PartitionRecord]] = {}
        self.next: dict[int, int] = {}  # each partition's offset after the last record handed over
        self.wake = asyncio.Event()

    def extend(self, records: list[PartitionRecord]) -> None:
        for r in records:
            kept = self.records.setdefault(r.partition, [])
            if kept and kept[-1].offset + 1 != r.offset:
                kept.clear()  # never a gap: the reader falls back to the table
            kept.append(r)
            self.next[r.partition] = r.offset + 1
        for kept in self.records.values():
            if len(kept) > self.limit:
                del kept[: len(kept) - self.limit]
        self.wake.set()

    def take(self, partition: int, position: int, limit: int) -> list[PartitionRecord] | None:
        """Records from ``position`` on, if the tail continues there; None when the table must be read."""
        kept = self.records.get(partition, [])
        if kept and kept[0].offset < position:  # what the reader has passed
            del kept[: min(position - kept[0].offset, len(kept))]
        if kept:
            if kept[0].offset != position:
                return None  # a gap before the tail (a restart, a seek back, an overflow)
            out = kept[:limit]
            del kept[: len(out)]
            return out
        return [] if self.next.get(partition) == position else None


def _headers(received_ms: int, source: str, control: str | None,
             provenance: event_log.Provenance = event_log.NO_PROVENANCE) -> dict[str, bytes]:  # fmt: skip
    """What a record carries besides its key and value, as Kafka headers (both backends read them so)."""
    headers = {RECEIVED: str(received_ms).encode(), SOURCE: source.encode()}
    if control is not None:
        headers[CONTROL] = control.encode()
    if provenance.original is not None:
        headers[ORIGINAL] = provenance.original
    if provenance.partner is not None:
        headers[PARTNER_FORMAT] = provenance.partner[0].encode()
        headers[PARTNER] = provenance.partner[1].encode()
    return headers


def provenance_of(headers: dict[str, bytes]) -> event_log.Provenance:
    """What a record's headers say of where its event came from (the worker stores it as evidence)."""
    original, fmt, partner = headers.get(ORIGINAL), headers.get(PARTNER_FORMAT), headers.get(PARTNER)
    if original is None and partner is None:
        return event_log.NO_PROVENANCE
    kept = (fmt.decode(errors="replace"), partner.decode(errors="replace")) if fmt and partner else None
    return event_log.Provenance(original, kept)


def _record(r: event_log.Record) -> PartitionRecord:
    """An embedded log record as the worker reads a Kafka record."""
    return PartitionRecord(r.partition, r.offset, r.key, r.value,
                           _headers(r.received_ms, r.source, r.control, r.provenance), r.received_ms)  # fmt: skip


class PgLog:
    """The embedded log's writer. Appends wait in a queue; one task writes all that wait in one
    transaction (a group commit: one fsync for many devices) and answers each after the commit."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], partitions: int, *, batch: int = BATCH,
                 tail: Tail | None = None) -> None:  # fmt: skip
        self.pool = pool
        self.tail = tail
        self.partitions = partitions
        self.batch = batch
        self.queue: asyncio.Queue[tuple[Append, asyncio.Future[bool]]] = asyncio.Queue(maxsize=4 * batch)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-writer")

    async def stop(self) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), 10)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        while not self.queue.empty():  # never answered: the senders deliver them again
            _, done = self.queue.get_nowait()
            if not done.done():
                done.set_exception(RuntimeError("the log is closing"))

    async def append(self, record: Append) -> "asyncio.Future[bool]":
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self.queue.put((record, done))
        return done

    async def _run(self) -> None:
        while True:
            group = [await self.queue.get()]
            lingered = False
            while len(group) < self.batch:
                if self.queue.empty():
                    if lingered:
                        break
                    # A moment for company: devices that publish one by one share one commit (fsync).
                    lingered = True
                    await asyncio.sleep(GROUP_LINGER_S)
                    continue
                group.append(self.queue.get_nowait())
            try:
                answers = await self._write_holding([r for r, _ in group])
            except Exception as exc:  # refused (not an outage): nothing was appended
                log.warning("could not append %d records to the log (%s); their senders retry", len(group), exc)
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for (_, done), fresh in zip(group, answers, strict=True):
                    if not done.done():
                        done.set_result(fresh)
            for _ in group:
                self.queue.task_done()

    async def _write_holding(self, records: list[Append]) -> list[bool]:
        """While the database is away, hold the group (nothing is acknowledged) and try again; a refusal
        is tried once more (two appenders racing on one event id: the second try sees it)."""
        outage, refused = Backoff(base=0.2, cap=5.0), 0
        while True:
            try:
                return await self._write(records)
            except RETRYABLE as exc:
                log.warning("database unavailable (%s); holding %d records for the log", exc, len(records))
                await asyncio.sleep(outage.next())
            except psycopg.Error:
                refused += 1
                if refused > 1:
                    raise

    async def _write(self, records: list[Append]) -> list[bool]:
        async with self.pool.connection() as conn, conn.transaction():
            keys = [(r.tenant, r.event_id) for r in records if r.tenant is not None and r.event_id is not None]
            taken = await event_log.known(conn, keys)
            answers, entries = [], []
            for r in records:
                if r.tenant is not None and r.event_id is not None:
                    if (r.tenant, r.event_id) in taken:
                        answers.append(False)
                        continue
                    taken.add((r.tenant, r.event_id))  # a second copy in the same group is a duplicate too
                answers.append(True)
                entries.append(event_log.Entry(partition_for(r.key or b"", self.partitions), r.key, r.value,
                                               r.source, r.received_ms, r.tenant, r.event_id, r.control,
                                               r.provenance))  # fmt: skip
            offsets = await event_log.append(conn, entries)
        if self.tail is not None:  # committed: the reader in this process may have them
            self.tail.extend([_record(event_log.Record(e.partition, o, e.key, e.value, e.control, e.source,
                                                       e.received_ms, e.provenance))
                              for e, o in zip(entries, offsets, strict=True)])  # fmt: skip
        return answers


class PgLogConsumer:
    """The embedded log's reader, shaped as a consumer-group member that owns every partition: the worker
    loop cannot tell it from Kafka's. One reader per database (an advisory lock held by a connection of
    its own: ``lock_log``), so no second monitor evaluates the same log."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], conninfo: str, partitions: int,
                 on_assigned: OnAssigned, on_revoked: OnRevoked, *, max_records: int = BATCH,
                 metrics: IngestMetrics | None = None, tail: Tail | None = None) -> None:  # fmt: skip
        self.pool = pool
        self.tail = tail
        self.conninfo = conninfo
        self.partitions = partitions
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.max_records = max_records
        self.metrics = metrics or IngestMetrics()
        self.positions: dict[int, int] = {}
        self.connected = False
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._wake = tail.wake if tail is not None else asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._trimmed = 0.0

    async def __aenter__(self) -> "PgLogConsumer":
        self._conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            await event_log.listen(self._conn)
            self._listener = asyncio.create_task(self._listen(self._conn), name="log-listen")
            # a restore can take a while; a stop meanwhile (a cancel) must not leave the connection open
            self.positions = dict(await self.on_assigned(list(range(self.partitions))))
        except BaseException:
            await self._close()
            raise
        self._set_connected(True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._set_connected(False)
        with contextlib.suppress(Exception):
            await self.on_revoked(sorted(self.positions))
        await self._close()

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for _ in conn.notifies():
            self._wake.set()

    async def fetch(self, timeout_ms: int = 200) -> dict[int, list[PartitionRecord]]:
        """The next records of each partition, in offset order (empty after ``timeout_ms``)."""
        self._wake.clear()
        out = await self._read()
        if out and sum(map(len, out.values())) < self.max_records // 4:
            # A few records: wait a moment for more, so a busy log commits many per transaction.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), LINGER_S)
            for partition, records in (await self._read()).items():
                out.setdefault(partition, []).extend(records)
        if out:
            return out
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(timeout_ms / 1000, POLL_S))
        return await self._read()

    async def _read(self) -> dict[int, list[PartitionRecord]]:
        if self._listener is not None and self._listener.done():
            raise ConnectionError("the embedded log's listener connection ended")
        out: dict[int, list[PartitionRecord]] = {}
        behind = {}
        for partition, position in self.positions.items():
            taken = self.tail.take(partition, position, self.max_records) if self.tail is not None else None
            if taken is None:
                behind[partition] = position
            elif taken:
                out[partition] = taken
                self.positions[partition] = taken[-1].offset + 1
        if not behind:
            return out
        async with self.pool.connection() as conn:
            records = await event_log.read(conn, behind, self.max_records)
        for r in records:
            out.setdefault(r.partition, []).append(_record(r))
            self.positions[r.partition] = r.offset + 1
        return out

    def seek(self, partition: int, offset: int) -> None:
        self.positions[partition] = offset

    async def commit(self, offsets: dict[int, int]) -> None:
        """Advisory, as Kafka's: the lag metric; now and then, the records every restore has passed go."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._trimmed < TRIM_EVERY_S:
            return
        self._trimmed = loop.time()
        async with self.pool.connection() as conn:
            ends = await event_log.heads(conn)
            await event_log.trim(conn, EMBEDDED_TOPIC)
        for partition, offset in offsets.items():
            self.metrics.consumer_lag.labels("log", str(partition)).set(max(0, ends.get(partition, 0) - offset))

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.metrics.broker_up.labels("log").set(1 if up else 0)


ConsumerFactory = Callable[[OnAssigned, OnRevoked], Any]


async def lock_log(conninfo: str) -> psycopg.AsyncConnection[Any]:
    """One reader of a database's embedded log: a second monitor would evaluate the same log twice. The
    lock is held by the returned connection for the life of the process (and dies with it)."""
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    try:
        locked = await event_log.try_reader_lock(conn, ENGINE_LOCK)
    except BaseException:
        await conn.close()
        raise
    if not locked:
        await conn.close()
        raise EngineBusy("another sealguard monitor is running the rule engine on this database")
    return conn
