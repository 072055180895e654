"""Memory per tracked conveyance, and checkpoint size and time, measured on this machine (printed, never
asserted). ``python -m bench.state_bench [--conveyances N] [--layouts unique,lanes] [--lanes L]``.

Each conveyance is on an open trip: a 200-point planned route with an approved stop, a passed 7-point
inspection, an affixed e-seal and a few fixes along the route (eight events, in time order across the
fleet, one tenant). Two layouts: ``unique`` gives every trip its own route and facilities (the worst
case); ``lanes`` runs the trips on L shared lanes (routes and facilities), as a carrier's trucks run
between the same distribution centres (by default one lane per 200 conveyances: the goal's 1 M on 5,000
lanes, scaled down). Each run is a fresh process holding one partitioned-mode engine
(a worker's: no seal registry, that is in PostgreSQL's ``seal_facts``, to which it hands its seal uses
after each batch, as a worker does) and its alert book.

Memory is the growth of the process's resident set (what the machine pays, allocator slack included)
and, with ``--tracemalloc``, of the Python heap. Checkpoints: a whole one (every conveyance), and an
incremental one after 1 % of the conveyances sent one more fix (what a worker writes per interval).
"""

import argparse
import gc
import multiprocessing
import os
import random
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench import goals
from bench.fleet import _route
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.rules.reference import SharedReference
from sealguard.schemas.decode import decode_event
from sealguard.stream import state_rows

T0 = datetime(2026, 11, 2, tzinfo=UTC)
POINTS = {p: "pass" for p in ("front_wall", "left_side", "right_side", "floor", "ceiling_roof",
                              "inside_outside_doors", "outside_undercarriage")}  # fmt: skip


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _event(i: int, step: int, route: list[list[float]], place: int) -> dict[str, Any]:
    """Step 0 plans the trip on ``route``; steps 3 to 7 are fixes at ``route``'s first points."""
    cid = f"TRL-{i:07d}"
    at = (T0 + timedelta(minutes=step, seconds=i % 60)).isoformat().replace("+00:00", "Z")
    base = {"event_id": f"{cid}-{step}", "occurred_at": at, "conveyance_id": cid}
    if step == 0:
        return {**base, "kind": "trip.planned", "trip_id": f"T-{i:07d}", "seal_numbers": [f"SG{i:08d}"],
                "origin": {"facility_id": f"O-{place}", "center": route[0], "radius_m": 400},
                "destination": {"facility_id": f"D-{place}", "center": route[-1], "radius_m": 400},
                "approved_stops": [{"facility_id": f"R-{place}", "center": route[100], "radius_m": 300}],
                "route": route, "planned_arrival": (T0 + timedelta(hours=4)).isoformat()}  # fmt: skip
    if step == 1:
        return {**base, "kind": "inspection.completed", "inspection_type": "container_7pt", "points": POINTS}
    if step == 2:
        return {**base, "kind": "seal.affixed", "seal_number": f"SG{i:08d}", "seal_class": "H",
                "seal_type": "electronic", "source": {"facility_id": f"O-{place}"}}  # fmt: skip
    lon, lat = route[min(2 * (step - 3), len(route) - 1)]
    return {**base, "kind": "gps.position", "lon": lon, "lat": lat, "speed_kph": 90.0}


def build(conveyances: int, lanes: int | None, heap: bool) -> dict[str, float]:
    """In a fresh process: the state of ``conveyances`` trips, what it costs, and its checkpoints."""
    # What the generator needs is made before measuring: every lane's route, or each unique route's first
    # fixes (a unique route itself is made again for its trip.planned and dropped at once).
    lane_routes = [_route(random.Random(f"lane-{n}")) for n in range(lanes or 0)]
    firsts = [] if lanes else [_route(random.Random(f"conveyance-{i}"))[:9] for i in range(conveyances)]

    def route_of(i: int, step: int) -> list[list[float]]:
        if lanes:
            return lane_routes[i % lanes]
        return _route(random.Random(f"conveyance-{i}")) if step == 0 else firsts[i]

    if heap:
        tracemalloc.start()
    gc.collect()
    rss0, heap0 = _rss(), tracemalloc.get_traced_memory()[0] if heap else 0
    engine = Engine(remember_ids=False, shared=SharedReference())
    book = AlertBook(retain=False)
    started = time.perf_counter()
    for step in range(8):
        for i in range(conveyances):
            event = decode_event(orjson.dumps(_event(i, step, route_of(i, step), i % lanes if lanes else i)))
            for finding in engine.process(event).findings:
                book.apply(finding)
            # A worker hands the seal uses to the seal stage (PostgreSQL's seal_facts) after every batch.
            engine.take_seal_facts()
    took = time.perf_counter() - started
    gc.collect()
    used_rss = _rss() - rss0
    used_heap = tracemalloc.get_traced_memory()[0] - heap0 if heap else 0
    if heap:
        tracemalloc.stop()
    # A whole checkpoint as a worker writes its first one: every conveyance's row, every plan's row and each
    # distinct route's row once (stream.state_rows), in chunks, serialised as the store does, then forgotten
    # once all are.
    started = time.perf_counter()
    whole_bytes = 0
    written = []
    plan_rows, route_rows, route_bytes = 0, 0, 0
    routes: set[str] = set()
    for chunk in engine.changes_in_chunks():
        chunk_rows, _ = state_rows.rows_of(chunk, routes)
        for key, row in chunk_rows.items():
            size = len(orjson.dumps(row))
            whole_bytes += size
            plan_rows += key.startswith("p:")
            if key.startswith("r:"):
                route_rows, route_bytes = route_rows + 1, route_bytes + size
        whole_bytes += len(orjson.dumps(chunk.meta))
        written.append(chunk.keys_only())
    for keys in written:
        engine.forget_changes(keys)
    whole_s = time.perf_counter() - started
    peak = _peak_rss()
    touched = range(0, conveyances, 100)
    for i in touched:
        engine.process(decode_event(orjson.dumps(_event(i, 8, route_of(i, 8), 0))))
    started = time.perf_counter()
    changes = engine.changes()
    rows = [orjson.dumps(c) for c in changes.conveyances.values()]
    incremental_s = time.perf_counter() - started
    return {
        "n": len(engine.conveyances), "events_s": 8 * conveyances / took, "rss": used_rss, "heap": used_heap,
        "whole_bytes": whole_bytes, "whole_s": whole_s, "rows": len(rows),
        "incremental_bytes": sum(map(len, rows)), "incremental_s": incremental_s, "alerts": len(book.open_by_key),
        "peak": peak, "plan_rows": plan_rows, "route_rows": route_rows, "routes": len(routes),
        "route_bytes": route_bytes,
    }  # fmt: skip


def _run(conveyances: int, lanes: int | None, heap: bool) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(build, (conveyances, lanes, heap))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conveyances", type=int, default=20_000)
    ap.add_argument("--layouts", default="unique,lanes")
    ap.add_argument(
        "--lanes",
        type=int,
        default=0,
        help="shared lanes; default one per 200 conveyances, as the goal's 1 M on 5,000 lanes",
    )
    ap.add_argument("--tracemalloc", action="store_true", help="also measure the Python heap (slower)")
    args = ap.parse_args()
    n = args.conveyances
    print(f"sealguard state bench: {n:,} conveyances on open trips (200-point routes), one partitioned engine")
    print("  (a whole checkpoint: every conveyance's row and its trip plan's row; incremental: the changed rows)")
    for layout in args.layouts.split(","):
        lanes = None if layout == "unique" else args.lanes or max(1, n // 200)
        r = _run(n, lanes, args.tracemalloc)
        shown = "every trip its own route" if lanes is None else f"{lanes:,} shared lanes"
        heap = f", Python heap {r['heap'] / n:,.0f}" if args.tracemalloc else ""
        goal = f" {goals.at_most(r['rss'] / n, 2048, ' B on shared lanes')}" if lanes is not None else ""
        print(f"  {shown}: {r['rss'] / n:,.0f} bytes resident per tracked conveyance{heap}{goal}"
              f" ({r['rss'] / 2**20:,.0f} MiB for {r['n']:,.0f}; {r['events_s']:,.0f} events/s building it,"
              f" {r['alerts']:,.0f} open alerts)")  # fmt: skip
        print(f"    whole checkpoint: {r['whole_bytes'] / n:,.0f} bytes per conveyance,"
              f" {r['whole_s'] * 1e6 / n:,.0f} ms per 1,000 ({r['whole_s']:,.1f} s in all);"
              f" peak resident {r['peak'] / 2**30:,.2f} GiB")  # fmt: skip
        shared = goals.at_most(r["route_rows"], r["routes"], " route rows, one per distinct route")
        print(f"    routes in it: {r['plan_rows']:,.0f} plans follow {r['routes']:,.0f} distinct routes, written as"
              f" {r['route_rows']:,.0f} route rows, {r['route_bytes'] / n:,.0f} bytes of route per conveyance"
              f" {shared}")  # fmt: skip
        print(
            f"    incremental checkpoint after 1 % sent a fix: {r['rows']:,.0f} rows,"
            f" {r['incremental_bytes'] / max(1, r['rows']):,.0f} bytes each, {r['incremental_s'] * 1000:,.0f} ms"
        )
    per = registry_entry_bytes()
    print(f"  a seal registry entry (single engine only, kept for the horizon): {per:,.0f} bytes; partitioned"
          " workers keep seal history in PostgreSQL's seal_facts, not in memory")  # fmt: skip


def registry_entry_bytes(n: int = 200_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    registry = {f"SG{i:09d}": (f"TRL-{i % 50_000:06d}", f"T-{i:08d}", False, 1.7e9 + i) for i in range(n)}
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del registry
    return (after - before) / n


if __name__ == "__main__":
    main()
