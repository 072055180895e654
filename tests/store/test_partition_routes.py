"""A partition's checkpoint keeps each route once (``r:`` rows named by the plans' ``route_ref``) in
PostgreSQL: written with the plans, read back into whole plans, and deleted with the last plan that
follows it (``partition_log.delete_orphan_routes``), never while one does."""

from typing import Any

import psycopg

from sealguard.roles.monitor import migrate_url
from sealguard.rules.engine import StateChanges
from sealguard.store import partition_log
from sealguard.stream import state_rows

ROUTE_A = [[-98.49, 29.42], [-97.74, 30.27]]
ROUTE_B = [[-95.37, 29.76], [-96.8, 32.78]]


def _plan(event_id: str, route: list[list[float]]) -> dict[str, Any]:
    return {"event_id": event_id, "kind": "trip.planned", "trip_id": "T-" + event_id, "route": route}


def _changes(plans: dict[str, dict[str, Any]], gone: tuple[str, ...] = ()) -> StateChanges:
    return StateChanges(meta={}, tenants={}, conveyances={}, gone=[],
                        plans={("acme", k): v for k, v in plans.items()},
                        plans_gone=[("acme", k) for k in gone])  # fmt: skip


async def test_routes_are_kept_once_and_go_with_their_last_plan(database_url: str) -> None:
    await migrate_url(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        routes: set[str] = set()
        rows, gone = state_rows.rows_of(_changes({"p1": _plan("p1", ROUTE_A), "p2": _plan("p2", ROUTE_A),
                                                  "p3": _plan("p3", ROUTE_B)}), routes)  # fmt: skip
        await partition_log.write_state(conn, "events", 0, rows, gone)
        stored = await partition_log.load_state(conn, "events", 0)
        assert sorted(k[:2] for k in stored) == ["p:", "p:", "p:", "r:", "r:"]
        _, _, plans = state_rows.parts_of(stored)
        assert plans == {("acme", "p1"): _plan("p1", ROUTE_A), ("acme", "p2"): _plan("p2", ROUTE_A),
                         ("acme", "p3"): _plan("p3", ROUTE_B)}  # fmt: skip
        # another partition's rows are its own
        await partition_log.write_state(conn, "events", 1, rows, gone)
        # p1 and p3 close: route B has no plan left, route A still has p2
        rows, gone = state_rows.rows_of(_changes({}, ("p1", "p3")), routes)
        await partition_log.write_state(conn, "events", 0, rows, gone)
        deleted = await partition_log.delete_orphan_routes(conn, "events", 0)
        assert deleted == [state_rows.route_ref(ROUTE_B)]
        stored = await partition_log.load_state(conn, "events", 0)
        assert state_rows.parts_of(stored)[2] == {("acme", "p2"): _plan("p2", ROUTE_A)}
        assert len(await partition_log.load_state(conn, "events", 1)) == 5  # untouched
        # the last plan on A closes: A goes too
        rows, gone = state_rows.rows_of(_changes({}, ("p2",)), routes)
        await partition_log.write_state(conn, "events", 0, rows, gone)
        assert await partition_log.delete_orphan_routes(conn, "events", 0) == [state_rows.route_ref(ROUTE_A)]
        assert await partition_log.load_state(conn, "events", 0) == {}
