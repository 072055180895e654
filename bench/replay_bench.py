"""``make bench``: replay a large synthetic fleet and report what it costs.

Reports events/s for the whole ``sealguard replay`` process, the in-process pipeline rate, per-event
latency percentiles (decode + rules + alert book), peak memory, engine state per conveyance, and the
floor: pydantic's own ``validate_json`` over the same lines, with the ratio. Figures are printed, never
asserted: they depend on the machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import goals
from bench.fleet import fleet_lines
from sealguard import collector
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.schemas.decode import _ADAPTER, decode_event
from sealguard.stream.replay import replay


def _deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of an object graph (slots, dicts, sets, tuples), counting each object once."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(_deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    return size


def _percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conveyances", type=int, default=4200)
    parser.add_argument("--facilities", type=int, default=1000)
    args = parser.parse_args(argv)

    t = time.perf_counter()
    lines = fleet_lines(args.conveyances, args.facilities)
    print(f"fleet: {len(lines):,} events, {args.conveyances:,} conveyances, {args.facilities:,} facilities, "
          f"200-point routes (generated in {time.perf_counter() - t:.1f} s)")  # fmt: skip

    # As ``sealguard replay`` runs (sealguard.collector), for the floor and the pipeline alike.
    collector.collect_less_often()
    collector.settle()

    # The floor: pydantic alone.
    t = time.perf_counter()
    for line in lines:
        _ADAPTER.validate_json(line)
    floor = len(lines) / (time.perf_counter() - t)
    print(f"floor   pydantic validate_json: {floor:>10,.0f} events/s")

    # The in-process pipeline: decode, dedupe, rules, alert book.
    engine = Engine()
    t = time.perf_counter()
    report = replay(lines, engine, book=AlertBook())
    rate = len(lines) / (time.perf_counter() - t)
    alerts = report.book.alerts
    print(f"replay  in-process pipeline:   {rate:>10,.0f} events/s  ({rate / floor:.2f} of the floor"
          f" {goals.at_least(rate / floor, 0.3, ' of the floor')}), {len(alerts):,} alerts")  # fmt: skip
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a.rule_id] = by_rule.get(a.rule_id, 0) + 1
    print("        alerts by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(by_rule.items())))

    # Latency of one event through the pipeline.
    engine, book = Engine(), AlertBook()
    samples: list[float] = []
    clock = time.perf_counter_ns
    for line in lines:
        start = clock()
        outcome = engine.process(decode_event(line))
        for finding in outcome.findings:
            book.apply(finding)
        samples.append((clock() - start) / 1000)
    samples.sort()
    marks = "  ".join(f"p{p:g} {_percentile(samples, p):.1f}" for p in (50, 90, 99, 99.9))
    print(f"latency per event (us): {marks}  max {samples[-1]:.0f}")

    # State per conveyance: mutable tracking state apart from the plans (reference data) it points to.
    convs = list(engine.conveyances.values())
    seen: set[int] = set()
    for c in convs:
        for trip in c.trips:
            seen.add(id(trip.plan))
    state = sum(_deep_size(c, seen) for c in convs) / len(convs)
    snap = len(orjson.dumps(engine.snapshot()["conveyances"])) / len(convs)
    ids = _deep_size(engine.seen, set()) / max(1, len(engine.seen))
    print(f"state   {state:,.0f} B per conveyance (all {len(convs):,}, trips closed at the end); "
          f"snapshot {snap:,.0f} B per conveyance as JSON; dedupe index {ids:,.0f} B per event id")  # fmt: skip
    mid_engine = Engine()
    replay(lines[: len(lines) // 2], mid_engine, book=AlertBook())
    mid = [c for c in mid_engine.conveyances.values() if c.trips]
    seen = {id(t.plan) for c in mid for t in c.trips}
    mid_state = sum(_deep_size(c, seen) for c in mid) / max(1, len(mid))
    plan = sum(_deep_size(t.plan, set()) for c in mid for t in c.trips) / max(1, len(mid))
    print(f"        mid-stream: {len(mid):,} conveyances on an open trip: {mid_state:,.0f} B of state each, "
          f"plus {plan:,.0f} B of trip plan")  # fmt: skip
    print("        (the plan is reference data; Python objects only: GEOS memory of the shapely line is not counted)")

    # The whole process, as users run it.
    del engine, book, samples, mid_engine
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        cmd = [sys.executable, "-m", "bench._child", "replay", str(path), "--out", os.devnull, "--no-progress"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak_kib = int(proc.stderr.rsplit("peak_rss_kib=", 1)[1])
    print(f"process sealguard replay:      {len(lines) / wall:>10,.0f} events/s  ({wall:.1f} s wall, "
          f"peak RSS {peak_kib / 1024:,.0f} MiB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
