"""Incremental checkpoints: the engine says what changed since the last checkpoint, so a worker writes
only those rows; an engine put back together from all rows continues exactly as the original."""

from typing import Any

import orjson

from bench.fleet import fleet_lines
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.schemas.decode import decode_event
from sealguard.stream import state_rows


def _apply(engine: Engine, book: AlertBook, lines: list[bytes]) -> None:
    for line in lines:
        for finding in engine.process(decode_event(line)).findings:
            book.apply(finding)


def _checkpoint(engine: Engine, rows: dict[Any, Any]) -> int:
    """Write the changes as a worker does: in chunks (small ones here), forgotten once all are written."""
    written, count = [], 0
    for changes in engine.changes_in_chunks(size=7):
        rows.update({("t", k): v for k, v in changes.tenants.items()})
        rows.update({("c", k): v for k, v in changes.conveyances.items()})
        rows.update({("p", k): v for k, v in changes.plans.items()})
        for key in changes.gone:
            rows.pop(("c", key), None)
        for key in changes.plans_gone:
            rows.pop(("p", key), None)
        if changes.meta:
            rows["meta"] = changes.meta
        written.append(changes.keys_only())
        count += len(changes.conveyances)
    for keys in written:
        engine.forget_changes(keys)
    return count


def test_chunks_hold_exactly_the_changes() -> None:
    engine, book = Engine(), AlertBook()
    _apply(engine, book, fleet_lines(30, facility_count=3, seed=5)[:3000])
    whole = engine.changes()
    chunks = list(engine.changes_in_chunks(size=4))
    assert len(chunks) > 3 and all(len(c.conveyances) <= 4 and len(c.plans) <= 4 for c in chunks)
    assert {k: v for c in chunks for k, v in c.conveyances.items()} == whole.conveyances
    assert {k: v for c in chunks for k, v in c.plans.items()} == whole.plans
    assert chunks[-1].meta == whole.meta and chunks[-1].tenants == whole.tenants
    assert not any(c.meta or c.tenants for c in chunks[:-1])


def test_a_checkpoint_writes_only_what_changed() -> None:
    lines = fleet_lines(40, facility_count=0, seed=2)
    engine, book = Engine(), AlertBook()
    rows: dict[Any, Any] = {}
    _apply(engine, book, lines[:2000])
    assert _checkpoint(engine, rows) == len(engine.conveyances) > 10
    one = next(line for line in lines[2000:] if orjson.loads(line).get("kind") == "gps.position")
    _apply(engine, book, [one])
    changes = engine.changes()
    assert list(changes.conveyances) == [("default", orjson.loads(one)["conveyance_id"])]
    assert list(changes.tenants) == ["default"]
    # the conveyance's row names its plan; the plan (route and all) was written once and is not again
    assert changes.plans == {} and changes.plans_gone == []
    (row,) = changes.conveyances.values()
    assert [set(trip["plan"]) for trip in row["trips"]] == [{"event_id"}]
    assert len(orjson.dumps(row)) < 2_000


def test_plan_rows_follow_the_trips() -> None:
    """A plan row is written when its trip is planned or re-planned and deleted when the trip closes, so
    the rows hold exactly the open trips' plans."""
    lines = fleet_lines(30, facility_count=0, seed=3)
    engine, book = Engine(), AlertBook()
    rows: dict[Any, Any] = {}
    for start in range(0, len(lines), 500):
        _apply(engine, book, lines[start : start + 500])
        _checkpoint(engine, rows)
        held = {k[1] for k in rows if isinstance(k, tuple) and k[0] == "p"}
        open_plans = {(c.tenant, t.plan.event_id) for c in engine.conveyances.values() for t in c.trips}
        assert held == open_plans
    assert not any(c.trips for c in engine.conveyances.values())  # the fleet's trips all closed
    replan = {"event_id": "re-1", "kind": "trip.planned", "occurred_at": "2026-11-03T00:00:00Z",
              "conveyance_id": "TRL-X", "trip_id": "T-X", "seal_numbers": ["SX1"],
              "origin": {"facility_id": "A", "center": [0, 0], "radius_m": 100},
              "destination": {"facility_id": "B", "center": [1, 1], "radius_m": 100}}  # fmt: skip
    _apply(engine, book, [orjson.dumps(replan)])
    _checkpoint(engine, rows)
    _apply(engine, book, [orjson.dumps({**replan, "event_id": "re-2", "occurred_at": "2026-11-03T00:01:00Z"})])
    _checkpoint(engine, rows)
    assert {k[1] for k in rows if isinstance(k, tuple) and k[0] == "p"} == {("default", "re-2")}


def test_an_engine_rebuilt_from_incremental_rows_continues_as_the_original() -> None:
    lines = fleet_lines(60, facility_count=5, seed=4)
    whole_engine, whole = Engine(), AlertBook()
    _apply(whole_engine, whole, lines)

    engine, book = Engine(), AlertBook()
    rows: dict[Any, Any] = {}
    cuts = [len(lines) // 4, len(lines) // 2, 3 * len(lines) // 4]
    start = 0
    for cut in cuts:
        _apply(engine, book, lines[start:cut])
        _checkpoint(engine, rows)
        start = cut
    rows = orjson.loads(orjson.dumps({repr(k): v for k, v in rows.items()})) and rows  # rows are plain JSON
    tenants = {k[1]: v for k, v in rows.items() if isinstance(k, tuple) and k[0] == "t"}
    conveyances = [v for k, v in sorted(rows.items(), key=str) if isinstance(k, tuple) and k[0] == "c"]
    plans = {k[1]: v for k, v in rows.items() if isinstance(k, tuple) and k[0] == "p"}
    assert len(rows) == len(tenants) + len(conveyances) + len(plans) + 1 and plans
    restored = Engine.restore_parts(rows["meta"], tenants, conveyances, plans=plans)
    rest = AlertBook.restore(orjson.loads(orjson.dumps(book.snapshot())), retain=True)
    _apply(restored, rest, lines[start:])
    # each alert as last seen: the restored book's view of an alert opened before the restore is the later
    got = {a.alert_id: a.to_json() for a in [*book.alerts, *rest.alerts]}
    assert got == {a.alert_id: a.to_json() for a in whole.alerts}


def _rows_checkpoint(engine: Engine, rows: dict[str, Any], routes: set[str]) -> None:
    """Write the changes as the worker's checkpoint does (stream.state_rows), routes kept once, and
    route rows no plan names deleted (as partition_log.delete_orphan_routes does)."""
    written = []
    for changes in engine.changes_in_chunks(size=7):
        upsert, gone = state_rows.rows_of(changes, routes)
        rows.update(orjson.loads(orjson.dumps(upsert)))  # as stored: plain JSON
        for key in gone:
            rows.pop(key, None)
        if changes.meta:
            rows["meta"] = changes.meta
        written.append(changes.keys_only())
    named = {plan.get("route_ref") for key, plan in rows.items() if key.startswith("p:")}
    for key in [k for k in rows if k.startswith("r:") and k[2:] not in named]:
        del rows[key]
        routes.discard(key[2:])
    for keys in written:
        engine.forget_changes(keys)


def test_routes_are_written_once_however_many_trips_follow_them() -> None:
    """On shared lanes a checkpoint holds each route once (as memory does), not once per trip."""
    lines = fleet_lines(60, facility_count=0, seed=7, lanes=3)
    engine, book = Engine(), AlertBook()
    rows: dict[str, Any] = {}
    routes: set[str] = set()
    _apply(engine, book, lines[: len(lines) // 2])
    _rows_checkpoint(engine, rows, routes)
    plans = {k: v for k, v in rows.items() if k.startswith("p:")}
    route_rows = {k: v for k, v in rows.items() if k.startswith("r:")}
    assert len(plans) > 10 and 1 <= len(route_rows) <= 3
    assert not any("route" in p for p in plans.values())
    refs = [p["route_ref"] for p in plans.values() if "route_ref" in p]
    assert len(refs) > 10 and all(f"r:{ref}" in route_rows for ref in refs)
    inline = sum(len(orjson.dumps(p)) for p in state_rows.parts_of(rows)[2].values())  # a route in each plan
    shared = sum(len(orjson.dumps(v)) for k, v in rows.items() if k[0] in "pr")
    assert shared * 2 < inline, (shared, inline)
    # the trips close: their plans go, and with the last plan on a route, its row
    _apply(engine, book, lines[len(lines) // 2 :])
    _rows_checkpoint(engine, rows, routes)
    open_plans = {(c.tenant, t.plan.event_id) for c in engine.conveyances.values() for t in c.trips}
    assert {tuple(k[2:].split("\x1f")) for k in rows if k.startswith("p:")} == open_plans
    named = {p["route_ref"] for k, p in rows.items() if k.startswith("p:") and "route_ref" in p}
    assert {k[2:] for k in rows if k.startswith("r:")} == named == routes
    assert len(open_plans) < 3  # (the fleet leaves a trip or two open)


def test_an_engine_rebuilt_from_shared_route_rows_continues_as_the_original() -> None:
    lines = fleet_lines(60, facility_count=5, seed=4, lanes=4)
    whole_engine, whole = Engine(), AlertBook()
    _apply(whole_engine, whole, lines)
    engine, book = Engine(), AlertBook()
    rows: dict[str, Any] = {}
    routes: set[str] = set()
    cut = 2 * len(lines) // 3
    _apply(engine, book, lines[: cut // 2])
    _rows_checkpoint(engine, rows, routes)
    _apply(engine, book, lines[cut // 2 : cut])
    _rows_checkpoint(engine, rows, routes)
    assert any(k.startswith("r:") for k in rows)
    tenants, conveyances, plans = state_rows.parts_of({k: v for k, v in rows.items() if k != "meta"})
    restored = Engine.restore_parts(rows["meta"], tenants, conveyances, plans=plans)
    rest = AlertBook.restore(orjson.loads(orjson.dumps(book.snapshot())), retain=True)
    _apply(restored, rest, lines[cut:])
    got = {a.alert_id: a.to_json() for a in [*book.alerts, *rest.alerts]}
    assert got == {a.alert_id: a.to_json() for a in whole.alerts}


def test_plan_rows_with_the_route_inline_still_load() -> None:
    """Checkpoints written before routes had rows of their own carry each route in its plan row."""
    plan = {"event_id": "p-1", "kind": "trip.planned", "route": [[0.0, 0.0], [1.0, 1.0]]}
    _, _, plans = state_rows.parts_of({"p:default\x1fp-1": plan})
    assert plans == {("default", "p-1"): plan}
