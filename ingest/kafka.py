"""Kafka source and producer (aiokafka).

Records are keyed ``{tenant}:{conveyance_id}`` so one conveyance stays on one partition, in order.
The source commits a batch's offsets only once every record of it is durable in the log, batch after
batch in fetch order (the next batch is handed over meanwhile); if any record could not be handled, the
partition is rewound to it and nothing past it is committed.
"""

import asyncio
import collections
import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from sealguard.ingest.inbound import EventSink, Inbound
from sealguard.ingest.metrics import IngestMetrics
from sealguard.retry import Backoff

log = logging.getLogger("sealguard.kafka")

DEFAULT_TOPIC = "sealguard.events"
ADVISORY_COMMIT_S = 1.0  # how often a worker tells Kafka how far it is (lag monitoring only)
IN_FLIGHT = 4  # fetched batches a source hands over before the oldest of them is durable and committed


@dataclass(frozen=True, slots=True)
class KafkaOptions:
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    group_id: str = "sealguard-workers"
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    sasl_mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = None
    ca_file: str | None = None
    max_records: int = 2000

    def client_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if "SSL" in self.security_protocol:
            args["ssl_context"] = ssl.create_default_context(cafile=self.ca_file)
        if self.sasl_mechanism:
            args.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                        sasl_plain_password=self.sasl_password)  # fmt: skip
        return args


@dataclass(slots=True)
class Fetched:
    """A fetched batch handed over: each record's partition, offset and answer, in fetch order, and
    which fetch it came from (``generation``, counting up)."""

    generation: int
    pending: list[tuple[TopicPartition, int, Any]]

    def answered(self) -> bool:
        return all(f.done() for _, _, f in self.pending)


def settle(batch: Fetched, rewound: dict[TopicPartition, int]) -> tuple[dict[TopicPartition, int],
                                                                       dict[TopicPartition, int]]:  # fmt: skip
    """Once every answer of ``batch`` is in: the offsets to commit, and the partitions to rewind to their
    first record that failed (nothing past it is committed: it comes again). A partition rewound after
    this batch was fetched (``rewound``: partition -> the last generation fetched before the rewind) is
    left alone: those of its records come again from the rewind."""
    commit: dict[TopicPartition, int] = {}
    failed: dict[TopicPartition, int] = {}
    for tp, offset, future in batch.pending:
        if tp in failed or rewound.get(tp, 0) >= batch.generation:
            continue
        if future.cancelled() or future.exception() is not None:
            failed[tp] = offset
        else:
            commit[tp] = offset + 1
    return commit, failed


def record_key(tenant: str, conveyance_id: str | None) -> bytes:
    """The Kafka key of an event: one conveyance stays on one partition, in order. The one definition,
    for the gateway, the producers and the tests that predict partitions."""
    return f"{tenant}:{conveyance_id or ''}".encode()


class KafkaSource:
    def __init__(self, sink: EventSink, options: KafkaOptions, *, metrics: IngestMetrics | None = None) -> None:
        self.sink = sink
        self.metrics = metrics or IngestMetrics()
        self.options = options
        self.connected = False
        self.stopping = False

    def request_stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group."""
        self.stopping = True

    async def run(self) -> None:
        backoff = Backoff()
        while not self.stopping:
            consumer = AIOKafkaConsumer(
                self.options.topic,
                group_id=self.options.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_interval_ms=30 * 60 * 1000,  # a database outage holds a batch; do not leave the group
                metadata_max_age_ms=5000,  # find a topic created after we subscribed within seconds
                fetch_max_wait_ms=20,  # latency: do not let the broker hold a fetch for half a second
                **self.options.client_args(),
            )
            try:
                await consumer.start()
                self._set_connected(True)
                backoff.reset()
                await self._consume(consumer)
            except KafkaError as exc:
                self._set_connected(False)
                delay = backoff.next()
                log.warning("Kafka unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            finally:
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch, hand over, and commit each batch once all of it is durable, in fetch order. The next batch
        is handed over while the one before it is still being made durable (up to ``IN_FLIGHT``): waiting
        for the log's commit and Kafka's before each fetch held every record for the whole previous
        batch's round trips."""
        inflight: collections.deque[Fetched] = collections.deque()
        rewound: dict[TopicPartition, int] = {}
        generation = 0
        while not self.stopping:
            batches = await consumer.getmany(timeout_ms=0 if inflight else 500, max_records=self.options.max_records)
            if batches:
                generation += 1
                inflight.append(Fetched(generation, await self._submit(batches)))
            while inflight and (not batches or len(inflight) > IN_FLIGHT or inflight[0].answered()):
                await self._settle(consumer, inflight.popleft(), rewound, generation)
        while inflight:  # asked to stop: what was handed over is committed once durable
            await self._settle(consumer, inflight.popleft(), rewound, generation)

    async def _submit(self, batches: dict[TopicPartition, list[Any]]) -> list[tuple[TopicPartition, int, Any]]:
        pending = []
        for tp, records in batches.items():
            for r in records:
                origin = {"topic": tp.topic, "partition": tp.partition, "offset": r.offset,
                          "key": r.key.decode(errors="replace") if r.key else None}  # fmt: skip
                pending.append((tp, r.offset, await self.sink.submit(Inbound(r.value or b"", "kafka", origin))))
        return pending

    async def _settle(self, consumer: AIOKafkaConsumer, batch: "Fetched", rewound: dict[TopicPartition, int],
                      generation: int) -> None:  # fmt: skip
        if batch.pending:
            await asyncio.wait([f for _, _, f in batch.pending])
        commit, failed = settle(batch, rewound)
        if commit:
            await consumer.commit(commit)
        for tp, offset in failed.items():
            consumer.seek(tp, offset)
            rewound[tp] = generation  # every batch fetched so far holds this partition's records past it
        for tp in {tp for tp, _, _ in batch.pending}:
            high = consumer.highwater(tp)
            if high is not None and tp in commit:
                self.metrics.consumer_lag.labels("kafka", str(tp.partition)).set(max(0, high - commit[tp]))

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.metrics.broker_up.labels("kafka").set(1 if up else 0)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 4x, once per record
class PartitionRecord:
    """One record of a partition, as a worker needs it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


def _headers(headers: Sequence[tuple[str, bytes | bytearray | memoryview | None]] | None) -> dict[str, bytes]:
    """A record's headers. Kafka allows a header without a value (null): it says nothing, and is left out
    (``bytes(None)`` raised here, so one such record stopped its partition, read again after every reconnect)."""
    return {k: bytes(v) for k, v in headers if v is not None} if headers else {}


OnAssigned = Callable[[list[int]], Awaitable[dict[int, int]]]
OnRevoked = Callable[[list[int]], Awaitable[None]]


class PartitionedConsumer:
    """A consumer-group member that owns whole partitions (a worker). On assignment it asks
    ``on_assigned`` where each new partition resumes (the offset stored beside the partition's state)
    and seeks there; on revocation it tells ``on_revoked`` first. Kafka's own committed offsets are
    written for lag monitoring only, at most once every ``ADVISORY_COMMIT_S``: the truth is the caller's."""

    def __init__(self, options: KafkaOptions, on_assigned: OnAssigned, on_revoked: OnRevoked, *,
                 metrics: IngestMetrics | None = None) -> None:  # fmt: skip
        self.options = options
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.metrics = metrics or IngestMetrics()
        self.consumer: AIOKafkaConsumer | None = None
        self.connected = False
        self._advisory: dict[int, int] = {}  # offsets handled since Kafka was last told
        self._told_at = -math.inf  # the event loop's time when it was

    async def __aenter__(self) -> "PartitionedConsumer":
        consumer = AIOKafkaConsumer(
            group_id=self.options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=30 * 60 * 1000,  # a database outage holds a batch; do not leave the group
            metadata_max_age_ms=5000,
            fetch_max_wait_ms=20,
            **self.options.client_args(),
        )
        consumer.subscribe([self.options.topic], listener=_Listener(self))
        await consumer.start()
        self.consumer = consumer
        self._set_connected(True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        consumer, self.consumer = self.consumer, None
        self._set_connected(False)
        if consumer is not None:
            await consumer.stop()  # leaves the group: on_revoked is called for what it held

    async def fetch(self, timeout_ms: int = 200) -> dict[int, list[PartitionRecord]]:
        """The next records of each owned partition, in offset order (empty after ``timeout_ms``)."""
        assert self.consumer is not None
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.options.max_records)
        out: dict[int, list[PartitionRecord]] = {}
        for tp, records in batches.items():
            out[tp.partition] = [PartitionRecord(tp.partition, r.offset, r.key, r.value or b"", _headers(r.headers),
                                                 r.timestamp) for r in records]  # fmt: skip
        return out

    def seek(self, partition: int, offset: int) -> None:
        assert self.consumer is not None
        self.consumer.seek(TopicPartition(self.options.topic, partition), offset)

    async def commit(self, offsets: dict[int, int]) -> None:
        """Advisory: Kafka's view of progress (lag), after the truth is stored; told at most once every
        ``ADVISORY_COMMIT_S`` (a commit after every batch was a broker round trip in each turn of a worker's
        loop, which at a few thousand events a second handles a batch every few tens of milliseconds)."""
        if self.consumer is None:
            return
        self._advisory.update(offsets)
        now = asyncio.get_running_loop().time()
        if not self._advisory or now - self._told_at < ADVISORY_COMMIT_S:
            return
        self._told_at = now
        offsets, self._advisory = self._advisory, {}
        owned = {tp.partition for tp in self.consumer.assignment()}
        mine = {TopicPartition(self.options.topic, p): o for p, o in offsets.items() if p in owned}
        if mine:
            try:
                await self.consumer.commit(mine)
            except KafkaError as exc:  # a rebalance under way: the stored offsets stay the truth
                log.info("advisory commit skipped: %s", exc)
        for tp, offset in mine.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                self.metrics.consumer_lag.labels("kafka", str(tp.partition)).set(max(0, high - offset))

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self.metrics.broker_up.labels("kafka").set(1 if up else 0)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: PartitionedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        mine = sorted(tp.partition for tp in revoked if tp.topic == self.owner.options.topic)
        if mine:
            await self.owner.on_revoked(mine)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        mine = sorted(tp.partition for tp in assigned if tp.topic == self.owner.options.topic)
        if mine:
            for partition, offset in (await self.owner.on_assigned(mine)).items():
                self.owner.seek(partition, offset)


async def ensure_topic(options: KafkaOptions, partitions: int) -> int:
    """Create the topic with ``partitions`` partitions unless it exists; return how many it has."""
    admin = AIOKafkaAdminClient(**options.client_args())
    await admin.start()
    try:
        # Create first: asking for the metadata of a missing topic lets a broker auto-create it with
        # its default partition count instead.
        try:
            answer = await admin.create_topics([NewTopic(options.topic, num_partitions=partitions,
                                                         replication_factor=1)])  # fmt: skip
            codes = [error[1] for error in getattr(answer, "topic_errors", ())]
            if all(code == 0 for code in codes):
                return partitions
            if any(code not in (0, TopicAlreadyExistsError.errno) for code in codes):
                raise KafkaError(f"cannot create topic {options.topic}: {answer.topic_errors}")
        except TopicAlreadyExistsError:
            pass
        for topic in await admin.describe_topics([options.topic]):
            if topic.get("topic") == options.topic and topic.get("partitions"):
                return len(topic["partitions"])
        return partitions
    finally:
        await admin.close()


async def publish_control(
    options: KafkaOptions,
    verb: str,
    body: dict[str, Any],
    *,
    key: bytes | None = None,
    partitions: list[int] | None = None,
) -> None:
    """A control record for the workers (``release``: in the partition of ``key``; ``advance``: in each
    of ``partitions``), after Kafka has it."""
    producer = AIOKafkaProducer(acks="all", **options.client_args())
    await producer.start()
    try:
        value = orjson.dumps(body)
        headers = [("sealguard-control", verb.encode())]
        if partitions is None:
            await producer.send_and_wait(options.topic, value, key=key, headers=headers)
        else:
            for p in partitions:
                await producer.send_and_wait(options.topic, value, partition=p, headers=headers)
    finally:
        await producer.stop()


class EventProducer:
    """Publishes events keyed ``{tenant}:{conveyance_id}`` (the simulator, a gateway, tests)."""

    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self.producer = AIOKafkaProducer(acks="all", linger_ms=5, **options.client_args())

    async def __aenter__(self) -> "EventProducer":
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, event: dict[str, Any] | bytes, key: bytes | None = None) -> None:
        if isinstance(event, bytes):
            await self.producer.send(self.options.topic, event, key=key)
            return
        await self.producer.send(
            self.options.topic,
            orjson.dumps(event),
            key=key or record_key(str(event.get("tenant") or "default"), event.get("conveyance_id")),
        )

    async def flush(self) -> None:
        await self.producer.flush()


async def end_offsets(options: KafkaOptions) -> dict[int, int]:
    """The topic's end offset per partition: what a consumer has to reach to have read all there is now."""
    consumer = AIOKafkaConsumer(**options.client_args())
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(options.topic) or set()
        tps = [TopicPartition(options.topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: int(o) for tp, o in ends.items()}
    finally:
        await consumer.stop()
