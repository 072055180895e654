"""How a long-running sealguard process sets Python's cycle collector.

Every event makes a few short-lived objects (a decoded model, futures, a record) and almost no cycles:
a replay of 471,665 events (``bench.fleet``, 4,200 conveyances) with the collector off left no cyclic
garbage at all. With the default thresholds (700, 10, 10) the collector still ran over a hundred times a
second, and objects that were merely in flight (a gateway's queued inputs, a worker's batch) were
promoted to the oldest generation and died there, which set off full collections. A full collection
walks every tracked object, including the hundreds of thousands the imports made, so each one held the
event loop for 50-245 ms (``bench.roles_bench``'s in-process gateway: 28 of them, 3.7 s of its run).

Two settings, applied by every process that runs the data path (``up``, the split roles, ``replay``)
and by the benches that stand in for them:

- ``collect_less_often``: the youngest generation is collected every 20,000 allocations, so what is in
  flight has died before it is looked at (one worker draining Kafka: 8.3 CPU s against 9.4 for the same
  records; a gateway alone: 0.2 s of collections against 3.7);
- ``settle``: once started, what the process has made so far (imported modules, their classes and
  schemas, configuration) lives as long as the process; it is moved out of the collector's sight
  (``gc.freeze``), so a full collection walks only what came after. Frozen objects are still freed by
  reference counting; only a cycle among them would outlive its use, and start-up makes none that ends.
"""

import gc

YOUNG_EVERY = 20_000  # allocations between collections of the youngest generation (CPython's default: 700)


def collect_less_often() -> None:
    gc.set_threshold(YOUNG_EVERY, 10, 10)


def settle() -> None:
    """Collect once, then freeze what start-up made (see the module docstring)."""
    gc.collect()
    gc.freeze()
