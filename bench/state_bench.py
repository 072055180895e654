"""Memory per tracked conveyance and checkpoint size and time, measured on this machine (printed, never
asserted). ``python -m bench.state_bench [--conveyances N]``.

Builds N conveyances on an open trip (a 200-point planned route, an inspection, an affixed e-seal, a few
fixes: the generated fleet's first events) in one partitioned-mode engine and one single engine, and
measures with tracemalloc what their state holds per conveyance; then the size and time of a whole
checkpoint of that engine, and what one seal registry entry costs (a single engine keeps a seal's last
use for the horizon; partitioned workers keep seal history in PostgreSQL, not in memory). Figures for
1 M conveyances are these per-conveyance figures times 1 M, said as such.
"""

import argparse
import gc
import time
import tracemalloc

import orjson

from bench.fleet import fleet_lines
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.rules.reference import SharedReference
from sealguard.schemas.decode import decode_event


def _first_events(lines: list[bytes], per: int) -> list[bytes]:
    counts: dict[str, int] = {}
    out = []
    for line in lines:
        cid = str(orjson.loads(line).get("conveyance_id"))
        if counts.get(cid, 0) < per:
            counts[cid] = counts.get(cid, 0) + 1
            out.append(line)
    return out


def measure(events: list[bytes], partitioned: bool) -> tuple[int, int, Engine]:
    decoded = [decode_event(line) for line in events]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Engine(remember_ids=False, shared=SharedReference() if partitioned else None)
    book = AlertBook(retain=False)
    for event in decoded:
        if partitioned and event.kind in ("seal.issued", "facility.registered"):
            continue
        for finding in engine.process(event).findings:
            book.apply(finding)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, len(engine.conveyances), engine


def registry_entry_bytes(n: int = 200_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    registry = {f"SG{i:09d}": (f"TRL-{i % 50_000:06d}", f"T-{i:08d}", False, 1.7e9 + i) for i in range(n)}
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del registry
    return (after - before) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conveyances", type=int, default=5_000)
    args = ap.parse_args()
    lines = _first_events(fleet_lines(args.conveyances, facility_count=0, seed=7), per=8)
    print(f"sealguard state bench: {args.conveyances} conveyances, each on an open trip with a 200-point route")
    for partitioned in (True, False):
        used, n, engine = measure(lines, partitioned)
        mode = "partitioned worker" if partitioned else "single engine"
        started = time.perf_counter()
        body = orjson.dumps(engine.snapshot())
        took = time.perf_counter() - started
        print(f"  {mode}: {used / n:,.0f} bytes of state per tracked conveyance ({used / 2**20:,.1f} MiB for {n});"
              f" 1 M conveyances: {used / n * 1e6 / 2**30:,.1f} GiB; a whole checkpoint {len(body) / n:,.0f} bytes"
              f" per conveyance, written (snapshot + JSON) in {took * 1000 / n * 1000:,.0f} ms per 1,000")  # fmt: skip
    per = registry_entry_bytes()
    print(f"  a seal registry entry (single engine, kept for the horizon): {per:,.0f} bytes; a year of one seal"
          f" a day per conveyance at 1 M conveyances: {per * 365e6 / 2**30:,.0f} GiB (partitioned workers keep"
          f" this in PostgreSQL's seal_facts instead)")  # fmt: skip


if __name__ == "__main__":
    main()
