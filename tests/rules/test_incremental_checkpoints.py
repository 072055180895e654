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
    changes = engine.changes()
    rows.update({("t", k): v for k, v in changes.tenants.items()})
    rows.update({("c", k): v for k, v in changes.conveyances.items()})
    for key in changes.gone:
        rows.pop(("c", key), None)
    rows["meta"] = changes.meta
    engine.forget_changes(changes)
    return len(changes.conveyances)


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
    assert len(rows) == len(tenants) + len(conveyances) + 1
    restored = Engine.restore_parts(rows["meta"], tenants, conveyances)
    rest = AlertBook.restore(orjson.loads(orjson.dumps(book.snapshot())), retain=True)
    _apply(restored, rest, lines[start:])
    # each alert as last seen: the restored book's view of an alert opened before the restore is the later
    got = {a.alert_id: a.to_json() for a in [*book.alerts, *rest.alerts]}
    assert got == {a.alert_id: a.to_json() for a in whole.alerts}
