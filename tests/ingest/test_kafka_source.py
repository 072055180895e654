"""The Kafka source hands the next fetched batch over while the one before it is still being made
durable, and commits each batch once all of it is durable, in fetch order; a record the log refused
rewinds its partition, and nothing of that partition from batches fetched before the rewind is committed
(those records come again). A stand-in consumer and sink: this is the bookkeeping; the live tests run
aiokafka against tansu (``tests/live/test_transports.py``, ``test_dead_letters.py``)."""

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import TopicPartition

from sealguard.ingest.inbound import Inbound
from sealguard.ingest.kafka import KafkaOptions, KafkaSource

TP0, TP1 = TopicPartition("events", 0), TopicPartition("events", 1)


@dataclass
class _Record:
    offset: int
    key: bytes | None = None
    value: bytes = b"{}"


class _Sink:
    """Answers every record a moment later; the offsets in ``refuse`` fail once."""

    def __init__(self, refuse: set[tuple[int, int]] = frozenset()) -> None:  # type: ignore[assignment]
        self.refuse = set(refuse)
        self.futures: list[asyncio.Future[Any]] = []

    async def submit(self, item: Inbound) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key = (item.origin["partition"], item.origin["offset"])
        if key in self.refuse:
            self.refuse.discard(key)
            asyncio.get_running_loop().call_later(0.02, future.set_exception, RuntimeError("refused"))
        else:
            asyncio.get_running_loop().call_later(0.02, future.set_result, None)
        self.futures.append(future)
        return future


class _Consumer:
    """Gives ``script``'s batches in turn (a batch marked ``after_seek`` only once a partition was
    rewound), then asks the source to stop."""

    def __init__(self, source: KafkaSource, sink: _Sink, script: list[tuple[bool, dict[TopicPartition, list[int]]]]):
        self.source, self.sink, self.script = source, sink, script
        self.commits: list[dict[int, int]] = []
        self.seeks: list[tuple[int, int]] = []
        self.unanswered_at_fetch: list[int] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[_Record]]:
        self.unanswered_at_fetch.append(sum(not f.done() for f in self.sink.futures))
        if not self.script:
            self.source.stopping = True
            return {}
        after_seek, batch = self.script[0]
        if after_seek and not self.seeks:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self.script.pop(0)
        return {tp: [_Record(o) for o in offsets] for tp, offsets in batch.items()}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append({tp.partition: o for tp, o in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.partition, offset))

    def highwater(self, tp: TopicPartition) -> int:
        return 100


async def _run(script: list[tuple[bool, dict[TopicPartition, list[int]]]], sink: _Sink) -> _Consumer:
    source = KafkaSource(cast(Any, sink), KafkaOptions("127.0.0.1:1", topic="events"))
    consumer = _Consumer(source, sink, script)
    await asyncio.wait_for(source._consume(cast(Any, consumer)), 10)
    return consumer


async def test_the_next_batch_is_handed_over_before_the_last_is_durable_and_commits_keep_their_order() -> None:
    sink = _Sink()
    consumer = await _run([(False, {TP0: [0, 1]}), (False, {TP0: [2, 3], TP1: [0]})], sink)
    assert consumer.unanswered_at_fetch[1] == 2  # the first batch was still in flight at the second fetch
    assert consumer.commits == [{0: 2}, {0: 4, 1: 1}]
    assert consumer.seeks == []


async def test_a_refused_record_rewinds_its_partition_past_batches_already_fetched() -> None:
    sink = _Sink(refuse={(0, 1)})
    script = [
        (False, {TP0: [0, 1, 2]}),  # offset 1 is refused
        (False, {TP0: [3, 4], TP1: [0, 1]}),  # fetched before the rewind: partition 0's part comes again
        (True, {TP0: [1, 2, 3, 4]}),  # what the rewind reads again
    ]
    consumer = await _run(script, sink)
    assert consumer.seeks == [(0, 1)]
    assert consumer.commits == [{0: 1}, {1: 2}, {0: 5}]
