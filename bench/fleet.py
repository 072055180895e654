"""A synthetic fleet for benchmarks and the partitioning tests: trips on 200-point routes, 1-minute GPS,
e-seal heartbeats, dock checks, registered facilities, a controlled seal inventory, and a share of
incidents, among them the rules that look across conveyances: stops (some at an unexpected registered
yard), deviations, mismatched seals, seals never issued or issued elsewhere, a seal taken from another
conveyance, and a trip id that belongs to another conveyance.

Deterministic for a given seed; events of all conveyances are interleaved in time order, as a live
stream would deliver them.
"""

import heapq
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
ROUTE_POINTS = 200
STEP_KM = 0.7  # route point spacing: 200 points, 140 km
FIX_KM = 1.5  # one fix a minute at 90 km/h


def _ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _offset(lon: float, lat: float, east_km: float, north_km: float) -> tuple[float, float]:
    return lon + east_km / (111.32 * math.cos(math.radians(lat))), lat + north_km / 110.574


def _route(rng: random.Random) -> list[list[float]]:
    lon, lat = rng.uniform(-104, -90), rng.uniform(26, 34)
    heading = rng.uniform(0, 2 * math.pi)
    route = []
    for _ in range(ROUTE_POINTS):
        route.append([round(lon, 6), round(lat, 6)])
        heading += rng.uniform(-0.05, 0.05)
        lon, lat = _offset(lon, lat, STEP_KM * math.sin(heading), STEP_KM * math.cos(heading))
    return route


@lru_cache(maxsize=100_000)
def _lane_route(lane: int) -> list[list[float]]:
    return _route(random.Random(f"lane-{lane}"))


def _conveyance(i: int, rng: random.Random, lanes: int | None) -> Iterator[tuple[float, dict[str, Any]]]:
    """One conveyance's trip; with ``lanes``, trips run on shared lanes (routes and facilities)."""
    cid = f"TRL-{i:06d}"
    trip = f"T-{i:06d}"
    seal = f"SG{i:07d}"
    route = _route(rng) if lanes is None else _lane_route(i % lanes)
    place = i if lanes is None else i % lanes
    start = rng.uniform(0, 600)
    ev: list[tuple[float, dict[str, Any]]] = []
    n = 0

    def add(minute: float, kind: str, **fields: Any) -> None:
        nonlocal n
        n += 1
        ev.append((minute, {"event_id": f"{cid}-{n}", "kind": kind, "occurred_at": _ts(minute),
                            "conveyance_id": cid, **fields}))  # fmt: skip

    def add_reference(minute: float, kind: str, **fields: Any) -> None:
        nonlocal n
        n += 1
        ev.append((minute, {"event_id": f"{cid}-{n}", "kind": kind, "occurred_at": _ts(minute), **fields}))

    incident = rng.random()
    issue = rng.random()
    if incident < 0.01 and i > 0:  # a trip id that belongs to the previous conveyance: refused
        add(start - 1, "trip.planned", trip_id=f"T-{i - 1:06d}", seal_numbers=[seal],
            origin={"facility_id": f"O-{place}", "center": route[0], "radius_m": 400},
            destination={"facility_id": f"D-{place}", "center": route[-1], "radius_m": 400})  # fmt: skip
    if issue < 0.9:
        add_reference(start + 5, "seal.issued", seal_number=seal, facility_id=f"O-{place}")
    elif issue < 0.95:  # issued to another facility: SEAL-005
        add_reference(start + 5, "seal.issued", seal_number=seal, facility_id=f"O-{place + 1}")

    dest = route[-1]
    add(start, "trip.planned", trip_id=trip, seal_numbers=[seal],
        origin={"facility_id": f"O-{place}", "center": route[0], "radius_m": 400},
        destination={"facility_id": f"D-{place}", "center": dest, "radius_m": 400}, route=route,
        approved_stops=[{"facility_id": f"R-{place}", "center": route[100], "radius_m": 300}],
        planned_arrival=_ts(start + 240))  # fmt: skip
    points = {p: "pass" for p in ("front_wall", "left_side", "right_side", "floor", "ceiling_roof",
                                   "inside_outside_doors", "outside_undercarriage")}  # fmt: skip
    add(start + 10, "inspection.completed", inspection_type="container_7pt", points=points)
    add(start + 20, "seal.affixed", seal_number=seal, seal_class="H", seal_type="electronic",
        source={"facility_id": f"O-{place}"})  # fmt: skip
    if 0.12 <= incident < 0.14 and i > 0:  # the previous conveyance's seal as well: SEAL-006 on one of them
        add(start + 21, "seal.affixed", seal_number=f"SG{i - 1:07d}", seal_class="H", seal_type="bolt",
            source={"facility_id": f"O-{place}"})  # fmt: skip
    minute = start + 30
    # Walk the route at 1.5 km per minute (about 2.14 route steps per fix).
    position = 0.0
    stop_at = 40 if incident < 0.05 else -1
    detour = range(50, 58) if 0.05 <= incident < 0.10 else range(0)
    k = 0
    while position < ROUTE_POINTS - 1:
        j = int(position)
        f = position - j
        a, b = route[j], route[min(j + 1, ROUTE_POINTS - 1)]
        flon, flat = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
        speed = 90.0
        if k in detour:
            flon, flat = _offset(flon, flat, 2.5, 0)
        if k == stop_at:
            if incident < 0.025:  # the stop is inside a registered yard that is no approved place: TRK-006
                add_reference(minute - 1, "facility.registered",
                              place={"facility_id": f"YARD-{i}", "center": [round(flon, 6), round(flat, 6)],
                                     "radius_m": 300})  # fmt: skip
            for s in range(20):
                add(minute + s, "gps.position", lat=round(flat, 6), lon=round(flon, 6), speed_kph=0.0)
            minute += 20
        add(minute, "gps.position", lat=round(flat, 6), lon=round(flon, 6), speed_kph=speed)
        if k % 10 == 0:
            add(minute, "seal.heartbeat", seal_number=seal, battery_pct=80.0, locked=True)
        position += FIX_KM / STEP_KM
        minute += 1
        k += 1
    add(minute, "gps.position", lat=dest[1], lon=dest[0], speed_kph=0.0)
    checked = f"SG{i + 1:07d}" if 0.10 <= incident < 0.12 else seal
    add(minute + 10, "seal.verified", seal_number=checked, steps={"view": True, "verify": True, "tug": True,
        "twist_turn": True}, intact=True, source={"facility_id": f"D-{place}"})  # fmt: skip
    add(minute + 20, "seal.removed", seal_number=seal, reason="delivered")
    add(minute + 30, "trip.closed", trip_id=trip)
    yield from ev


def facilities(count: int, rng: random.Random) -> Iterator[tuple[float, dict[str, Any]]]:
    for f in range(count):
        place = {"facility_id": f"WH-{f:05d}", "center": [rng.uniform(-104, -90), rng.uniform(26, 34)],
                 "radius_m": rng.uniform(100, 800)}  # fmt: skip
        yield (-1.0, {"event_id": f"fac-{f}", "kind": "facility.registered", "occurred_at": _ts(0), "place": place})


def fleet_lines(conveyances: int, facility_count: int = 1000, seed: int = 17, lanes: int | None = None) -> list[bytes]:
    """Every event of the fleet as JSON lines, in time order; ``lanes`` shares routes and facilities."""
    rng = random.Random(seed)
    streams = [facilities(facility_count, rng)] + [_conveyance(i, rng, lanes) for i in range(conveyances)]
    merged = heapq.merge(*streams, key=lambda pair: pair[0])
    return [orjson.dumps(event) for _, event in merged]
