"""A worker tells Kafka how far it is for lag monitoring only (its truth is the offset it stores with its
writes), so ``PartitionedConsumer.commit`` tells it at most once every ``ADVISORY_COMMIT_S``, with the
latest offset of each partition it still owns. A stand-in for aiokafka's consumer: this is the pure
bookkeeping; the split roles' tests run the real consumer against tansu."""

from typing import Any, cast

import pytest
from aiokafka import TopicPartition

from sealguard.ingest import kafka
from sealguard.ingest.kafka import KafkaOptions, PartitionedConsumer


class _Consumer:
    def __init__(self, owned: set[int]) -> None:
        self.owned = owned
        self.commits: list[dict[int, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("events", p) for p in self.owned}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append({tp.partition: o for tp, o in offsets.items()})

    def highwater(self, tp: TopicPartition) -> int:
        return 100


async def test_kafka_is_told_at_most_once_a_period_with_the_latest_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = PartitionedConsumer(KafkaOptions("127.0.0.1:1", topic="events"), cast(Any, None), cast(Any, None))
    fake = _Consumer({0, 1})
    reader.consumer = cast(Any, fake)
    await reader.commit({0: 5})
    await reader.commit({0: 7})
    await reader.commit({1: 3, 2: 9})  # partition 2 is not (or no longer) ours
    assert fake.commits == [{0: 5}]  # the first at once, the rest wait for the period
    monkeypatch.setattr(kafka, "ADVISORY_COMMIT_S", 0.0)
    await reader.commit({0: 9})
    assert fake.commits == [{0: 5}, {0: 9, 1: 3}]
    await reader.commit({})
    assert len(fake.commits) == 2  # nothing new: nothing told
    (metric,) = reader.metrics.consumer_lag.collect()
    lag = {s.labels["partition"]: s.value for s in metric.samples}
    assert lag == {"0": 91.0, "1": 97.0}
