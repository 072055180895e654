"""The in-process handoffs of ``up``'s one path, as pure logic: the log's tail from writer to reader, the
decoded events from gateway to worker, and the worker's verdicts for a waiting sender. Each must fall
back to the table (or to decoding) rather than ever skip or invent a record."""

import asyncio

from sealguard.ingest.inbound import ItemResult
from sealguard.ingest.kafka import PartitionRecord
from sealguard.schemas.decode import decode_event
from sealguard.stream.log import Tail
from sealguard.stream.verdicts import Decoded, Verdicts


def _records(partition: int, offsets: range) -> list[PartitionRecord]:
    return [PartitionRecord(partition, o, None, b"{}", {}, 0) for o in offsets]


def test_the_tail_hands_over_what_continues_where_the_reader_stands() -> None:
    tail = Tail()
    tail.extend(_records(0, range(0, 5)))
    got = tail.take(0, 0, 3)
    assert got is not None and [r.offset for r in got] == [0, 1, 2]
    got = tail.take(0, 3, 100)
    assert got is not None and [r.offset for r in got] == [3, 4]
    assert tail.take(0, 5, 100) == []  # at the head: nothing new, no need to read the table


def test_the_tail_sends_the_reader_to_the_table_when_it_does_not_continue() -> None:
    tail = Tail()
    assert tail.take(0, 0, 10) is None  # never handed anything: the table knows
    tail.extend(_records(0, range(10, 12)))
    assert tail.take(0, 7, 10) is None  # a reader behind the tail (a restore, a seek back)
    assert tail.take(1, 0, 10) is None  # another partition
    tail.extend(_records(0, range(20, 21)))  # a gap in what was handed over: the tail starts again
    assert tail.take(0, 12, 10) is None
    got = tail.take(0, 20, 10)
    assert got is not None and [r.offset for r in got] == [20]


def test_the_tail_drops_what_the_reader_has_passed_and_stays_bounded() -> None:
    tail = Tail(limit=3)
    tail.extend(_records(0, range(0, 10)))
    assert tail.take(0, 0, 10) is None  # the oldest were dropped: read the table from 0
    got = tail.take(0, 8, 10)
    assert got is not None and [r.offset for r in got] == [8, 9]


def test_a_decoded_event_is_taken_once_and_the_cache_is_bounded() -> None:
    raw = b'{"event_id":"e1","kind":"seal.alarm","tenant":"t","occurred_at":"2026-11-02T08:00:00Z",' \
          b'"conveyance_id":"TRL-1","seal_number":"S1","alarm":"tamper"}'  # fmt: skip
    event = decode_event(raw)
    cache = Decoded(limit=2)
    cache.keep(raw, event)
    assert cache.take(raw) is event
    assert cache.take(raw) is None  # the worker decodes what it does not find
    cache.keep(b"a", event)
    cache.keep(b"b", event)
    cache.keep(b"c", event)
    assert cache.take(b"a") is None and cache.take(b"c") is event


def test_a_verdict_reaches_its_sender_and_a_sender_that_gave_up_leaves_nothing() -> None:
    async def run() -> None:
        verdicts = Verdicts()
        waiting = verdicts.expect(("t", "e1"))
        gave_up = verdicts.expect(("t", "e2"))
        gave_up.cancel()
        await asyncio.sleep(0)
        assert verdicts.wants(("t", "e1")) and not verdicts.wants(("t", "e2"))
        verdicts.settle(("t", "e1"), ItemResult("accepted", "e1"))
        assert (await waiting).status == "accepted"
        assert not verdicts.wants(("t", "e1"))

    asyncio.run(run())
