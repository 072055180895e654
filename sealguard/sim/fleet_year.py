"""A year of a trailer fleet as stored history, for the compliance figures' tests and benchmark: trips
with their plan, inspection, seal, GPS fixes, arrival VVTT and close, and alerts with the people's
acknowledgements and resolutions (two-person closures among them). Pure and seeded: the same arguments
give the same rows, and ``expected`` counts what the figures must say, from the generator's own choices.

It writes the store's rows directly (``load``), not through the engine: a year of 40,000 trips is a
figures benchmark, not a rules one."""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from sealguard.alerts.audit import chain
from sealguard.schemas.history import HistoryRow
from sealguard.store import bulk
from sealguard.store.alert_rows import utc_iso
from sealguard.store.events import PartitionCache, native_partitions

CARRIERS = ("ACME", "BLUE", "COYO", "DUNE", "EAGL")
FACILITIES = ("DC-1", "DC-2", "DC-3", "DC-4", "DC-5", "DC-6", "DC-7", "DC-8")
POINTS = ("front_wall", "left_side", "right_side", "floor", "ceiling_roof", "inside_outside_doors",
          "outside_undercarriage")  # fmt: skip
TWO_PERSON = ("SEAL-001", "SEAL-003")


@dataclass(slots=True)
class Expected:
    """What the figures over the whole year must say, per origin facility and in total."""

    trips: Counter[str] = field(default_factory=Counter)
    inspected: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    vvtt: Counter[str] = field(default_factory=Counter)
    seal_alerts: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    two_person_resolved: int = 0
    two_person_by_two: int = 0
    ack_seconds: list[float] = field(default_factory=list)


@dataclass(slots=True)
class FleetYear:
    trips: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    expected: Expected = field(default_factory=Expected)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def generate(tenant: str, trailers: int, start: datetime, days: int, *, seed: int = 7, gps_per_trip: int = 12,
             p_late_inspection: float = 0.05, p_failed_inspection: float = 0.03, p_no_vvtt: float = 0.08,
             p_alert: float = 0.12, trips_per_trailer: int | None = None,
             no_vvtt_every: int | None = None) -> FleetYear:  # fmt: skip
    """``trips_per_trailer``: stop each trailer after so many trips (else at the end of ``days``);
    ``no_vvtt_every``: every n-th trip of the fleet has no VVTT at arrival (else by ``p_no_vvtt``)."""
    rng = random.Random(seed)
    out = FleetYear()
    seq = 0
    head: tuple[int, str] | None = None
    end = start + timedelta(days=days)
    for n in range(trailers):
        cid = f"{CARRIERS[n % len(CARRIERS)]}-{n:04d}"
        t = start + timedelta(hours=rng.uniform(0, 72))
        k = 0
        while t < end and (trips_per_trailer is None or k < trips_per_trailer):
            k += 1
            trip_id = f"T-{cid}-{k}"
            origin, dest = rng.sample(FACILITIES, 2)
            hours = rng.uniform(4, 30)
            arrive = t + timedelta(hours=hours)
            plan = {"event_id": f"p-{trip_id}", "kind": "trip.planned", "occurred_at": _iso(t), "tenant": tenant,
                    "conveyance_id": cid, "trip_id": trip_id, "seal_numbers": [f"S{n:04d}{k:03d}"],
                    "origin": {"facility_id": origin, "center": [-98.0, 29.0], "radius_m": 500},
                    "destination": {"facility_id": dest, "center": [-95.0, 29.7], "radius_m": 500}}  # fmt: skip
            late = rng.random() < p_late_inspection
            failed = rng.random() < p_failed_inspection
            points = dict.fromkeys(POINTS, "pass")
            if failed:
                points["floor"] = "fail"
            inspection = {"event_id": f"i-{trip_id}", "kind": "inspection.completed", "tenant": tenant,
                          "occurred_at": _iso(t + timedelta(minutes=40 if late else 10)), "conveyance_id": cid,
                          "inspection_type": "container_7pt", "points": points,
                          "source": {"facility_id": origin}}  # fmt: skip
            affixed = {"event_id": f"a-{trip_id}", "kind": "seal.affixed", "tenant": tenant,
                       "occurred_at": _iso(t + timedelta(minutes=20)), "conveyance_id": cid,
                       "seal_number": f"S{n:04d}{k:03d}", "seal_class": "H", "seal_type": "bolt"}  # fmt: skip
            evs: list[dict[str, Any]] = [plan, inspection, affixed]
            for g in range(gps_per_trip):
                at = t + timedelta(minutes=30) + (arrive - t) * (g / max(1, gps_per_trip))
                evs.append({"event_id": f"g-{trip_id}-{g}", "kind": "gps.position", "occurred_at": _iso(at),
                            "tenant": tenant, "conveyance_id": cid, "lat": 29.0 + g * 0.01, "lon": -98.0 + g * 0.02,
                            "speed_kph": 80.0})  # fmt: skip
            drawn = rng.random() < p_no_vvtt
            no_vvtt = (len(out.trips) + 1) % no_vvtt_every == 0 if no_vvtt_every else drawn
            if not no_vvtt:
                evs.append({"event_id": f"v-{trip_id}", "kind": "seal.verified", "tenant": tenant,
                            "occurred_at": _iso(arrive), "conveyance_id": cid, "seal_number": f"S{n:04d}{k:03d}",
                            "steps": {"view": True, "verify": True, "tug": True, "twist_turn": True}, "intact": True,
                            "source": {"facility_id": dest}})  # fmt: skip
            close = arrive + timedelta(minutes=30)
            evs.append({"event_id": f"c-{trip_id}", "kind": "trip.closed", "occurred_at": _iso(close),
                        "tenant": tenant, "conveyance_id": cid, "trip_id": trip_id})  # fmt: skip
            for e in evs:
                seq += 1
                raw = orjson.dumps(e)
                at = datetime.fromisoformat(e["occurred_at"])
                out.events.append((seq, tenant, e["event_id"], e["kind"], cid, e.get("trip_id"), at, at, "http",
                                   raw.decode(), raw))  # fmt: skip
            out.trips.append((tenant, trip_id, cid, orjson.dumps(plan).decode(), "closed", t, close))
            x = out.expected
            x.trips[origin] += 1
            if not late:
                x.inspected[origin] += 1
                if not failed:
                    x.passed[origin] += 1
            if not no_vvtt:
                x.vvtt[origin] += 1
            if rng.random() < p_alert:
                rule = rng.choice(("SEAL-001", "SEAL-003", "TRK-002", "TRK-001"))
                head = _alert(out, rng, tenant, cid, trip_id, rule, t + timedelta(hours=hours / 2), head)
                x.alerts[origin] += 1
                if rule.startswith("SEAL-"):
                    x.seal_alerts[origin] += 1
            t = close + timedelta(hours=rng.uniform(30, 110))  # about 100 trips a trailer a year
    return out


def _alert(out: FleetYear, rng: random.Random, tenant: str, cid: str, trip_id: str, rule: str, at: datetime,
           head: tuple[int, str] | None) -> tuple[int, str] | None:  # fmt: skip
    alert_id = str(uuid.UUID(int=rng.getrandbits(128)))
    ack_s = rng.uniform(30, 3600)
    res_s = ack_s + rng.uniform(60, 7200)
    acked, resolved = at + timedelta(seconds=ack_s), at + timedelta(seconds=res_s)
    out.alerts.append((alert_id, tenant, rule, "critical" if rule.startswith("SEAL") else "high", cid, trip_id, at,
                       f"{rule} on {cid}", "MSC 6.1", "[]", f"{rule}|{cid}|{trip_id}", "resolved", resolved, acked,
                       "Ana Ops (ana)", "Ben Lead (ben)", resolved))  # fmt: skip
    out.expected.ack_seconds.append(round(ack_s, 6))
    entries: list[tuple[str, str, str, str | None, str, dict[str, Any]]] = [
               (alert_id, "opened", "sealguard", None, utc_iso(at), {"rule_id": rule}),
               (alert_id, "acknowledged", "Ana Ops (ana)", None, utc_iso(acked), {})]  # fmt: skip
    if rule in TWO_PERSON:
        out.expected.two_person_resolved += 1
        second = "Ben Lead (ben)" if rng.random() < 0.8 else "Ana Ops (ana)"  # a few closed by one person
        if second != "Ana Ops (ana)":
            out.expected.two_person_by_two += 1
        entries += [(alert_id, "resolve_requested", "Ana Ops (ana)", "checked", utc_iso(resolved), {}),
                    (alert_id, "resolved", second, "confirmed", utc_iso(resolved), {})]  # fmt: skip
    else:
        entries.append((alert_id, "resolved", "Ana Ops (ana)", "done", utc_iso(resolved), {}))
    rows = chain(tenant, head, entries)
    out.history += rows
    return rows[-1].chain_seq, rows[-1].hash


async def load(conn: psycopg.AsyncConnection[Any], year: FleetYear) -> None:
    """Write the year into the store (the event partitions it needs are made first)."""
    await PartitionCache(await native_partitions(conn)).ensure(conn, sorted({r[6] for r in year.events}))
    await bulk.copy_rows(conn, "trips", ("tenant", "trip_id", "conveyance_id", "plan", "status", "planned_at",
                                         "closed_at"), year.trips)  # fmt: skip
    await bulk.copy_rows(conn, "events", ("seq", "tenant", "event_id", "kind", "conveyance_id", "trip_id",
                                          "occurred_at", "received_at", "source", "payload", "original"),
                         year.events)  # fmt: skip
    await bulk.copy_rows(conn, "event_ids", ("tenant", "event_id", "seq", "occurred_at"),
                         [(r[1], r[2], r[0], r[6]) for r in year.events])  # fmt: skip
    await bulk.copy_rows(conn, "alerts", ("alert_id", "tenant", "rule_id", "severity", "conveyance_id", "trip_id",
                                          "occurred_at", "message", "criterion", "evidence", "dedup_key", "status",
                                          "resolved_at", "acknowledged_at", "acknowledged_by", "resolved_by",
                                          "updated_at"), year.alerts)  # fmt: skip
    await bulk.copy_rows(conn, "alert_history", ("tenant", "chain_seq", "alert_id", "action", "actor", "note", "at",
                                                 "detail", "prev_hash", "hash"),
                         [(h.tenant, h.chain_seq, h.alert_id, h.action, h.actor, h.note, h.at,
                           orjson.dumps(h.detail).decode(), h.prev_hash, h.hash) for h in year.history])  # fmt: skip
    if year.history:
        last = year.history[-1]
        await bulk.chain_head(conn, last.tenant, last.chain_seq, last.hash)


def year_start(year: int = 2025) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)
