"""Incremental checkpoints: the engine says what changed since the last checkpoint, so a worker writes
only those rows; an engine put back together from all rows continues exactly as the original."""

from typing import Any

import orjson

from bench.fleet import fleet_lines
from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import Engine
from sealguard.schemas.decode import decode_event


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
