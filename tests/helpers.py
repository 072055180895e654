"""Builders for events on the standard test lane (lon -99.0, lat 27.5 -> 28.5), as the scenarios use."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sealguard.alerts.book import AlertBook, AlertRecord
from sealguard.rules.engine import Engine
from sealguard.rules.findings import Finding
from sealguard.rules.policy import Policy
from sealguard.schemas import decode_object
from sealguard.schemas.events import INSPECTION_POINTS
from sealguard.stream.replay import replay

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
M_PER_DEG_LAT = 111_000.0  # close enough to place test fixes; rules measure on the ellipsoid


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def circle(fid: str, lat: float, lon: float = -99.0, radius: float = 500.0) -> dict[str, Any]:
    return {"facility_id": fid, "center": [lon, lat], "radius_m": radius}


class Stream:
    """A growing list of event dicts with sequential ids, fed to an engine at the end."""

    def __init__(self, conveyance: str = "TRL-1", tenant: str | None = None) -> None:
        self.conveyance = conveyance
        self.tenant = tenant
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, minute: float, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"e{len(self.events) + 1:05d}",
            "kind": kind,
            "occurred_at": at(minute),
            "conveyance_id": self.conveyance,
        }
        if self.tenant is not None:
            event["tenant"] = self.tenant
        event.update(fields)
        self.events.append(event)
        return event

    def plan(self, minute: float = 0, **fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "trip_id": "T-1",
            "seal_numbers": ["SG123456"],
            "origin": circle("ORIGIN-DC", 27.5),
            "destination": circle("DEST-DC", 28.5),
            "route": [[-99.0, 27.5], [-99.0, 28.5]],
        }
        base.update(fields)
        return self.add("trip.planned", minute, **base)

    def inspect(self, minute: float, failed: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
        points = {p: ("fail" if p in failed else "pass") for p in INSPECTION_POINTS["container_7pt"]}
        fields.setdefault("points", points)
        return self.add("inspection.completed", minute, inspection_type="container_7pt", **fields)

    def affix(self, minute: float, seal: str = "SG123456", **fields: Any) -> dict[str, Any]:
        fields.setdefault("seal_class", "H")
        fields.setdefault("seal_type", "bolt")
        return self.add("seal.affixed", minute, seal_number=seal, **fields)

    def verify(self, minute: float, seal: str = "SG123456", intact: bool = True, **steps: bool) -> dict[str, Any]:
        all_steps = {"view": True, "verify": True, "tug": True, "twist_turn": True} | steps
        return self.add("seal.verified", minute, seal_number=seal, steps=all_steps, intact=intact)

    def fix(self, minute: float, lat: float, lon: float = -99.0, speed: float | None = 90.0) -> dict[str, Any]:
        fields: dict[str, Any] = {"lat": lat, "lon": lon}
        if speed is not None:
            fields["speed_kph"] = speed
        return self.add("gps.position", minute, **fields)

    def drive(self, start: float, end: float, lat0: float, lat1: float, every: float = 1.0) -> float:
        """Fixes every ``every`` minutes moving linearly from lat0 to lat1; returns the last minute."""
        steps = round((end - start) / every)
        for i in range(steps + 1):
            self.fix(start + i * every, lat0 + (lat1 - lat0) * i / steps)
        return end

    def prepared(self, depart: float = 120) -> "Stream":
        """Planned, inspected, sealed, parked at the origin until ``depart``."""
        self.plan(0)
        self.inspect(30)
        self.affix(60)
        self.fix(depart - 1, 27.5, speed=0)
        return self


def run(events: list[dict[str, Any]], policy: Policy | None = None, until: str | None = None) -> list[AlertRecord]:
    import orjson

    lines = [orjson.dumps(e) for e in events]
    end = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp() if until else None
    return replay(lines, Engine(policy), until=end, book=AlertBook()).book.in_order()


def rules_of(alerts: list[AlertRecord]) -> list[str]:
    return [a.rule_id for a in alerts]


def feed(engine: Engine, events: list[dict[str, Any]]) -> list[Finding]:
    findings: list[Finding] = []
    for e in events:
        findings.extend(engine.process(decode_object(e)).findings)
    return findings
