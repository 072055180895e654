"""A live fleet for ``sealguard simulate``: pure and seeded, so a run can be reproduced.

Trucks drive real lanes (Laredo, McAllen, El Paso, Nogales to the inland cities) at about 90 km/h,
with a GPS fix every 30 s, e-seal heartbeats every 5 min, the 7- or 17-point inspection and the seal
before departure, a VVTT at the dock, delivery and closure; then the truck turns around on a new trip.
A share of trips get one incident: an unscheduled stop, a route deviation, a tracking gap, a tamper
alarm, a mismatched seal at the dock, or a failed inspection point.
"""

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sealguard.schemas.events import INSPECTION_POINTS

Point = tuple[float, float]  # (lon, lat)

LANES: dict[str, list[Point]] = {
    "laredo-san-antonio": [(-99.507, 27.506), (-99.30, 28.10), (-98.90, 28.80), (-98.494, 29.424)],
    "laredo-dallas": [(-99.507, 27.506), (-98.494, 29.424), (-97.743, 30.267), (-97.146, 31.549), (-96.797, 32.777)],
    "mcallen-houston": [(-98.230, 26.203), (-97.70, 27.00), (-96.90, 28.60), (-95.370, 29.760)],
    "el-paso-albuquerque": [(-106.485, 31.762), (-106.78, 32.32), (-106.90, 34.06), (-106.650, 35.084)],
    "nogales-phoenix": [(-110.934, 31.340), (-110.974, 32.222), (-111.40, 32.90), (-112.074, 33.448)],
}
INCIDENTS = ("unscheduled_stop", "deviation", "tracking_gap", "tamper", "dock_mismatch", "inspection_defect")
SPEED_KPH = 90.0
GPS_EVERY_S = 30.0
HEARTBEAT_EVERY_S = 300.0


def _km(a: Point, b: Point) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((b[0] - a[0]) * 111.32 * math.cos(lat), (b[1] - a[1]) * 110.574)


def densify(points: list[Point], step_km: float = 5.0) -> list[Point]:
    out: list[Point] = [points[0]]
    for a, b in pairwise(points):
        n = max(1, math.ceil(_km(a, b) / step_km))
        out.extend((a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(1, n + 1))
    return out


def _along(route: list[Point], km: float) -> Point:
    for a, b in pairwise(route):
        d = _km(a, b)
        if km <= d:
            f = km / d if d else 0.0
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        km -= d
    return route[-1]


def _length(route: list[Point]) -> float:
    return sum(_km(a, b) for a, b in pairwise(route))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _place(fid: str, p: Point, radius: float) -> dict[str, Any]:
    return {"facility_id": fid, "center": [round(p[0], 6), round(p[1], 6)], "radius_m": radius}


@dataclass
class Fleet:
    start: float  # event time of the first event (POSIX seconds)
    trucks: int = 12
    incident_rate: float = 0.35
    tenant: str = "default"
    seed: int = 17
    showcase: bool = False  # the first trips get one incident of each kind, so a demo shows them at once

    def events(self) -> Iterator[tuple[float, dict[str, Any]]]:
        """Every event of the fleet in event-time order, forever."""
        yield from ((self.start, e) for e in self._facilities())
        streams = [self._truck(i) for i in range(self.trucks)]
        heap = [(next(s), i) for i, s in enumerate(streams)]
        heapq.heapify(heap)
        while heap:
            (t, _n, event), i = heapq.heappop(heap)
            yield t, event
            heapq.heappush(heap, (next(streams[i]), i))

    def _facilities(self) -> Iterator[dict[str, Any]]:
        for name, points in LANES.items():
            for end, p in (("a", points[0]), ("b", points[-1])):
                fid = f"DC-{name}-{end}".upper()
                event_id = f"sim-{self.seed}-{int(self.start)}-{fid}"
                place = _place(fid, p, 800)
                yield {"event_id": event_id, "kind": "facility.registered", "tenant": self.tenant,
                       "occurred_at": _iso(self.start), "place": place}  # fmt: skip

    def _truck(self, i: int) -> Iterator[tuple[float, int, dict[str, Any]]]:
        rng = random.Random(self.seed * 10_007 + i)
        cid = f"TRK-{self.seed % 100:02d}{i:04d}"  # the same trucks each run; event ids are per run
        lane_name = list(LANES)[i % len(LANES)]
        t = self.start + rng.uniform(0, 5 * 60)
        trip_no = 0
        counter = 0
        reverse = rng.random() < 0.5
        while True:
            trip_no += 1
            points = LANES[lane_name][::-1] if reverse else LANES[lane_name]
            route = densify(points)
            ends = ("b", "a") if reverse else ("a", "b")
            trip = _Trip(self, rng, cid, f"{cid}-T{trip_no}", route, lane_name, ends, t)
            if self.showcase and trip_no == 1 and i < len(INCIDENTS):
                trip.incident, trip.early = INCIDENTS[i], True
            for when, event in trip.events():
                counter += 1
                event["event_id"] = f"sim-{self.seed}-{int(self.start)}-{cid}-{counter}"
                yield when, counter, event
                t = when
            t += rng.uniform(20, 60) * 60  # turnaround
            reverse = not reverse


class _Trip:
    def __init__(self, fleet: Fleet, rng: random.Random, cid: str, trip_id: str, route: list[Point], lane: str,
                 ends: tuple[str, str], t0: float) -> None:  # fmt: skip
        self.f, self.rng, self.cid, self.trip_id, self.route, self.t0 = fleet, rng, cid, trip_id, route, t0
        self.origin = f"DC-{lane}-{ends[0]}".upper()
        self.dest = f"DC-{lane}-{ends[1]}".upper()
        self.seal = f"SG{rng.randrange(10**7, 10**8)}"
        self.kind = "tractor_trailer_17pt" if rng.random() < 0.5 else "container_7pt"
        self.incident = rng.choice(INCIDENTS) if rng.random() < fleet.incident_rate else None
        self.early = False  # the incident comes in the first few kilometres

    def _e(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"kind": kind, "tenant": self.f.tenant, "conveyance_id": self.cid, "trip_id": self.trip_id, **fields}

    def events(self) -> Iterator[tuple[float, dict[str, Any]]]:
        rng, t0, route = self.rng, self.t0, self.route
        length = _length(route)
        drive_s = length / SPEED_KPH * 3600
        depart = t0 + 15 * 60
        stop_km = rng.uniform(3, 8) if self.early else length * rng.uniform(0.3, 0.7)
        rest = _along(route, length * 0.5)
        plan = self._e(
            "trip.planned", seal_numbers=[self.seal], origin=_place(self.origin, route[0], 800),
            destination=_place(self.dest, route[-1], 800), route=[[round(x, 6), round(y, 6)] for x, y in route],
            approved_stops=[_place(f"REST-{self.trip_id}", rest, 600)], planned_departure=_iso(depart),
            planned_arrival=_iso(depart + drive_s * 1.3 + 1800),
            conveyance_type="tractor_trailer" if self.kind == "tractor_trailer_17pt" else "container",
        )  # fmt: skip
        yield t0, {**plan, "occurred_at": _iso(t0)}
        points = dict.fromkeys(INSPECTION_POINTS[self.kind], "pass")
        if self.incident == "inspection_defect":
            points[rng.choice(list(points))] = "fail"
        yield t0 + 300, self._e("inspection.completed", occurred_at=_iso(t0 + 300), inspection_type=self.kind,
                                points=points, inspector_id=f"INSP-{rng.randrange(1, 40)}")  # fmt: skip
        yield t0 + 600, self._e("seal.affixed", occurred_at=_iso(t0 + 600), seal_number=self.seal, seal_class="H",
                                seal_type="electronic", source={"facility_id": self.origin})  # fmt: skip
        t, km, next_beat = depart, 0.0, depart
        stopped = gap_until = 0.0
        while km < length:
            if self.incident == "unscheduled_stop" and not stopped and km >= stop_km:
                stopped = t + 25 * 60
            moving = not (stopped and t < stopped)
            if self.incident == "tracking_gap" and not gap_until and km >= stop_km:
                gap_until = t + 25 * 60
            lon, lat = _along(route, km)
            if self.incident == "deviation" and stop_km <= km <= stop_km + 20:
                d = km - stop_km  # drift out over 5 km, hold, drift back: a road, not a GPS jump
                lon += 3.0 * min(1.0, d / 5, (20 - d) / 5) / (111.32 * math.cos(math.radians(lat)))
            if not (gap_until and t < gap_until):
                yield t, self._e("gps.position", occurred_at=_iso(t), lat=round(lat, 6), lon=round(lon, 6),
                                 speed_kph=SPEED_KPH if moving else 0.0)  # fmt: skip
            if t >= next_beat:
                yield t, self._e("seal.heartbeat", occurred_at=_iso(t), seal_number=self.seal, locked=True,
                                 battery_pct=round(max(25.0, 95 - (t - t0) / 3600), 1))  # fmt: skip
                next_beat = t + HEARTBEAT_EVERY_S
                if self.incident == "tamper" and km >= stop_km and not stopped:
                    stopped = -1.0  # once
                    yield t, self._e("seal.alarm", occurred_at=_iso(t), seal_number=self.seal, alarm="tamper",
                                     lat=round(lat, 6), lon=round(lon, 6))  # fmt: skip
            t += GPS_EVERY_S
            if moving:
                km += SPEED_KPH * GPS_EVERY_S / 3600
        end = route[-1]
        for k in range(3):
            yield t + k * 60, self._e("gps.position", occurred_at=_iso(t + k * 60), lat=round(end[1], 6),
                                      lon=round(end[0], 6), speed_kph=0.0)  # fmt: skip
        dock = t + 5 * 60
        read = self.seal if self.incident != "dock_mismatch" else f"SG{rng.randrange(10**7, 10**8)}"
        steps = {"view": True, "verify": True, "tug": True, "twist_turn": True}
        dock_source = {"facility_id": self.dest, "operator_id": f"DOCK-{rng.randrange(1, 9)}"}
        yield dock, self._e("seal.verified", occurred_at=_iso(dock), seal_number=read, steps=steps, intact=True,
                            source=dock_source)  # fmt: skip
        if read != self.seal:
            yield dock + 120, self._e("seal.verified", occurred_at=_iso(dock + 120), seal_number=self.seal,
                                      steps=steps, intact=True, source={"facility_id": self.dest})  # fmt: skip
        yield dock + 600, self._e("seal.removed", occurred_at=_iso(dock + 600), seal_number=self.seal,
                                  reason="delivered")  # fmt: skip
        yield dock + 900, self._e("trip.closed", occurred_at=_iso(dock + 900))
