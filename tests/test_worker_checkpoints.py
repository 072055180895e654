"""Which partition the worker checkpoints between two batches (roles.worker.due_checkpoint): one at a time,
the longest-waiting first, so that partitions assigned together do not hold the records behind them for
all their checkpoints at once."""

from typing import Any, cast

from sealguard.roles.worker import OwnedPartition, due_checkpoint


def _part(number: int, *, since: int, at: float, position: int = 10, next_offset: int = 10) -> OwnedPartition:
    return OwnedPartition(number, cast(Any, None), next_offset, position, 0, [], since_checkpoint=since,
                          checkpoint_mono=at)  # fmt: skip


def _drain(parts: list[OwnedPartition], now: float) -> list[int]:
    """Checkpoint what is due, one per turn of the loop, as the worker does; the order they were written."""
    order = []
    while (part := due_checkpoint(parts, now, 50_000, 60.0)) is not None:
        order.append(part.number)
        part.since_checkpoint, part.checkpoint_mono = 0, now
    return order


def test_partitions_due_together_are_checkpointed_one_per_turn_longest_waiting_first() -> None:
    parts = [_part(0, since=5, at=2.0), _part(1, since=5, at=1.0), _part(2, since=5, at=2.0)]
    assert due_checkpoint(parts, 61.5, 50_000, 60.0) is parts[1]
    assert _drain(parts, 62.5) == [1, 0, 2]
    assert due_checkpoint(parts, 62.5, 50_000, 60.0) is None


def test_what_is_not_due() -> None:
    parts = [
        _part(0, since=0, at=0.0),  # nothing changed since its last checkpoint
        _part(1, since=5, at=10.0),  # changed, but not long enough ago
        _part(2, since=5, at=0.0, position=4),  # catching up: its state is behind its stored offset
    ]
    assert due_checkpoint(parts, 65.0, 50_000, 60.0) is None
    busy = _part(3, since=50_000, at=60.0)  # enough records, however recent
    assert due_checkpoint([*parts, busy], 65.0, 50_000, 60.0) is busy
