"""An engine's incremental checkpoint as rows of ``partition_state``, and back. Pure: no I/O.

Keys: ``t:{tenant}`` a tenant's state, ``c:{tenant}\\x1f{conveyance}`` a conveyance's, ``p:{tenant}\\x1f{plan
event id}`` a trip plan, ``r:{digest}`` a route. A route is written once per partition however many plans
follow it (as it lives once in memory, in its corridor): a plan row names it by ``route_ref``, the
BLAKE2b digest of its points. On a fleet of shared lanes that is most of a checkpoint (a 200-point route
is about 4.6 KB of JSON; every trip on a lane used to carry its own copy). Plan rows written before routes
had rows of their own carry the route inline and still load.
"""

import hashlib
from typing import Any

import orjson

from sealguard.rules.engine import StateChanges

Rows = dict[str, Any]


def conveyance_key(key: tuple[str, str]) -> str:
    return f"c:{key[0]}\x1f{key[1]}"


def plan_key(key: tuple[str, str]) -> str:
    return f"p:{key[0]}\x1f{key[1]}"


def route_key(ref: str) -> str:
    return f"r:{ref}"


def route_ref(route: Any) -> str:
    """The name of a route's row: the digest of its points as JSON (the same points, the same row)."""
    return hashlib.blake2b(orjson.dumps(route), digest_size=16).hexdigest()


def rows_of(changes: StateChanges, written_routes: set[str]) -> tuple[Rows, list[str]]:
    """The rows to upsert and the keys to delete for one chunk of changes. ``written_routes``: the route
    rows this partition already holds (updated here); a route in it is not written again."""
    rows: Rows = {f"t:{tid}": plain for tid, plain in changes.tenants.items()}
    rows |= {conveyance_key(key): plain for key, plain in changes.conveyances.items()}
    for key, plan in changes.plans.items():
        route = plan.get("route")
        if route is None:
            rows[plan_key(key)] = plan
            continue
        ref = route_ref(route)
        if ref not in written_routes:
            rows[route_key(ref)] = route
            written_routes.add(ref)
        rows[plan_key(key)] = {k: v for k, v in plan.items() if k != "route"} | {"route_ref": ref}
    gone = [*map(conveyance_key, changes.gone), *map(plan_key, changes.plans_gone)]
    return rows, gone


def parts_of(rows: Rows) -> tuple[dict[str, Any], list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """A partition's rows as ``Engine.restore_parts`` takes them: tenants, conveyances and trip plans
    (each plan's route put back from its row)."""
    tenants = {key[2:]: data for key, data in rows.items() if key.startswith("t:")}
    conveyances = [data for key, data in sorted(rows.items()) if key.startswith("c:")]
    plans: dict[tuple[str, str], Any] = {}
    for key, data in rows.items():
        if not key.startswith("p:"):
            continue
        ref = data.get("route_ref")
        tenant, _, plan_id = key[2:].partition("\x1f")
        plans[(tenant, plan_id)] = (
            data
            if ref is None
            else ({k: v for k, v in data.items() if k != "route_ref"} | {"route": rows[route_key(ref)]})
        )
    return tenants, conveyances, plans
