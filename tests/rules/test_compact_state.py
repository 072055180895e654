"""What keeps a tracked conveyance small (docs/performance.md) must never let two conveyances or two trips
share what one of them changes, and must not change what a snapshot holds."""

import copy
import pickle

import orjson
import pytest

from sealguard.rules import engine as engine_module
from sealguard.rules.context import cancel_prefixed, cancel_timers
from sealguard.rules.engine import Engine
from sealguard.rules.findings import Finding
from sealguard.rules.state import (
    NO_ENTRIES,
    NO_TIMERS,
    Conveyance,
    Trip,
    TripPlan,
    earliest_due,
    timer_due,
    timer_items,
    with_timer,
)
from sealguard.schemas.decode import decode_event, decode_object
from sealguard.schemas.events import TripPlanned
from tests.helpers import T0, Stream, at


def _plan(trip_id: str, stop: str = "R-1", **extra: object) -> TripPlanned:
    event = decode_event(orjson.dumps({
        "event_id": f"plan-{trip_id}", "kind": "trip.planned", "occurred_at": "2026-11-02T08:00:00Z",
        "conveyance_id": f"TRL-{trip_id}", "trip_id": trip_id, "seal_numbers": ["sg-1"],
        "origin": {"facility_id": "O-1", "center": [-97.0, 32.0], "radius_m": 400},
        "destination": {"facility_id": "D-1", "center": [-96.0, 33.0], "radius_m": 400},
        "approved_stops": [{"facility_id": stop, "center": [-96.5, 32.5], "radius_m": 300}],
        "route": [[-97.0, 32.0], [-96.5, 32.5], [-96.0, 33.0]], **extra,
    }))  # fmt: skip
    assert isinstance(event, TripPlanned)
    return event


def test_the_shared_empty_map_refuses_every_write_and_a_writer_gets_its_own() -> None:
    a, b = Conveyance("acme", "TRL-1"), Conveyance("acme", "TRL-2")
    assert a.heartbeats is NO_ENTRIES and b.conds is NO_ENTRIES
    with pytest.raises(TypeError):
        a.conds["TRK-003"] = (1.0, "key")
    with pytest.raises(TypeError):
        a.conds.setdefault("TRK-003", (1.0, "key"))
    with pytest.raises(TypeError):
        a.heartbeats.update({"seal": (1.0, "e1")})
    with pytest.raises(TypeError):
        a.ended |= {"TRK-001": 1.0}
    assert not NO_ENTRIES  # nothing above got in
    assert copy.deepcopy(a).conds is NO_ENTRIES and pickle.loads(pickle.dumps(NO_ENTRIES)) is NO_ENTRIES
    a.own("heartbeats")["seal"] = (1.0, "e1")
    a.open_cond("TRK-001", 2.0, "key")
    assert a.heartbeats == {"seal": (1.0, "e1")} and b.heartbeats == {} and b.heartbeats is NO_ENTRIES
    assert a.close_cond("TRK-001", 3.0) == "key"
    assert a.conds is NO_ENTRIES and a.ended == {"TRK-001": 3.0} and b.ended is NO_ENTRIES
    # A snapshot and back: empty maps are the shared one again, full ones the conveyance's own.
    back = Conveyance.from_plain(a.to_plain(), {})
    assert back.heartbeats == {"seal": (1.0, "e1")} and back.heartbeats is not a.heartbeats
    assert back.conds is NO_ENTRIES


def test_packed_timers_set_move_cancel_and_snapshot_in_name_order() -> None:
    conv = Conveyance("acme", "TRL-1")
    assert conv.timers is NO_TIMERS and timer_due(conv.timers, "TRK-003") is None
    with pytest.raises(TypeError):
        conv.timers.append("TRK-003")  # the shared empty list refuses writes, as the shared map does
    assert (
        not NO_TIMERS and copy.deepcopy(conv).timers is NO_TIMERS and pickle.loads(pickle.dumps(NO_TIMERS)) is NO_TIMERS
    )
    for name, due in (("TRK-004|T-1", 50.0), ("TRK-003", 30.0), ("ESEAL-001:E1", 40.0), ("TRK-003", 35.0)):
        conv.timers = with_timer(conv.timers, name, due)
    assert list(conv.timers) == ["ESEAL-001:E1", 40.0, "TRK-003", 35.0, "TRK-004|T-1", 50.0]  # moved, not doubled
    assert list(timer_items(conv.timers)) == [("ESEAL-001:E1", 40.0), ("TRK-003", 35.0), ("TRK-004|T-1", 50.0)]
    assert earliest_due(conv.timers) == 35.0 and timer_due(conv.timers, "TRK-004|T-1") == 50.0
    plain = conv.to_plain()
    assert plain["timers"] == {"ESEAL-001:E1": 40.0, "TRK-003": 35.0, "TRK-004|T-1": 50.0}
    back = Conveyance.from_plain({**plain, "timers": {"TRK-004|T-1": 50.0, "TRK-003": 35.0, "ESEAL-001:E1": 40.0}}, {})
    assert back.timers == conv.timers  # a snapshot's order does not matter
    cancel_prefixed(conv, "ESEAL-001:")
    same = conv.timers
    cancel_timers(conv, "TRK-002")  # not set: the same tuple
    assert conv.timers is same and list(same) == ["TRK-003", 35.0, "TRK-004|T-1", 50.0]
    cancel_timers(conv, "TRK-003", "TRK-004|T-1")
    assert not conv.timers and not conv.to_plain()["timers"]


def test_trips_on_one_lane_share_their_approved_places_and_a_plan_snapshots_whole() -> None:
    one, two, other = TripPlan(_plan("T1")), TripPlan(_plan("T2")), TripPlan(_plan("T3", stop="R-9"))
    assert one.approved is two.approved and one.approved is not other.approved
    assert one.approved_ids == ("O-1", "D-1", "R-1") and other.approved_ids == ("O-1", "D-1", "R-9")
    original = _plan("T1", planned_arrival="2026-11-02T12:00:00Z", corridor_m=750, seal_numbers=["SG1"])
    plan = TripPlan(original)
    assert decode_object(plan.to_plain()) == original  # ids, kind, key, seals, arrival come back with the rest
    assert plan._rest == "{}" and plan._rest is TripPlan(_plan("T2", seal_numbers=["SG1"]))._rest  # nothing twice
    # What the held fields would not give back exactly stays in the kept JSON, and comes back as it was.
    for unusual in (
        {"seal_numbers": ["sg-2", "SG1", "sg 1"]},  # unsorted, not normalised, the same seal twice
        {"planned_arrival": "2026-11-02T14:00:00+02:00"},  # an offset: the same instant, not the same text
        {"occurred_at": "2026-11-02T10:00:00.5+02:00"},
        {"planned_arrival": "2026-11-02T12:00:00.000001Z", "tenant": "acme", "conveyance_type": "trailer"},
    ):
        event = _plan("T4", **unusual)
        back = TripPlan(event).to_plain()
        assert decode_object(back) == event
        assert all(back[k] == v for k, v in event.model_dump(mode="json", exclude_none=True).items() if k != "route")


def test_a_seal_on_a_conveyance_is_the_plan_s_own_string_and_an_older_snapshot_s_inspection_restores() -> None:
    conv = Conveyance("default", "TRL-T1")
    plan = TripPlan(_plan("T1"))
    conv.trips = (Trip(plan),)
    seal = "".join(["SG", "-1"]).replace("-", "")  # equal to the plan's, not the same object
    assert seal == plan.seals[0] and seal is not plan.seals[0]
    conv.seal_on(seal)
    assert conv.seals_on[0] is plan.seals[0]
    old = {**conv.to_plain(plans_inline=False), "insp": [5.0, True, "i-1"], "passed_insp": [5.0, "i-1"],
           "fix": [6.0, -97.0, 32.0, "f-1"]}  # fmt: skip
    restored = Conveyance.from_plain(old, {plan.event_id: plan})
    assert restored.passed_insp == (5.0, True, "i-1") and restored.passed_insp is restored.insp
    assert restored.fix == (6.0, -97.0, 32.0, "f-1", None)  # a fix kept before its speed was
    assert restored.trips[0].plan.key is restored.key  # the plan's key is its conveyance's tuple
    assert restored.seals_on is plan.seals  # the seals on it are the planned ones: the plan's tuple
    assert Conveyance.from_plain(restored.to_plain(), {plan.event_id: plan}).to_plain() == restored.to_plain()
    # A trip's arrival and off-route spell are one field each in memory, two keys each in a snapshot.
    trip = restored.trips[0]
    trip.arrival, trip.off = (7.0, "a-1"), (8.0, "o-1")
    plain = trip.to_plain()
    assert (plain["arrived_at"], plain["arrival_event"], plain["off_since"], plain["off_event"]) == (
        7.0,
        "a-1",
        8.0,
        "o-1",
    )
    back = Trip.from_plain(plain, plan)
    assert (back.arrival, back.off, back.arrived_at, back.arrival_event) == ((7.0, "a-1"), (8.0, "o-1"), 7.0, "a-1")


def _fleet_with_a_stale_wake_up_each(engine: Engine, trucks: int) -> list[Finding]:
    """Each truck is planned (its late-arrival timer, hours ahead) and then leaves its origin (its silence
    timer, earlier): the second push leaves the first entry stale in the tenant's heap."""
    findings: list[Finding] = []
    for step in range(2):
        for i in range(trucks):
            s = Stream(f"TRL-{i}")
            s.events = [{}] * (10 * i + step)  # distinct event ids across trucks
            if step == 0:
                s.plan(0, trip_id=f"T-{i}", planned_arrival=at(600))
            else:
                s.fix(10 + i / 1000, 27.6)  # the clock moves: the heap is looked at
            findings += engine.process(decode_object(s.events[-1])).findings
    return findings


def test_the_wake_up_heap_drops_its_stale_entries_and_fires_exactly_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    trucks = 1500
    engine = Engine()
    _fleet_with_a_stale_wake_up_each(engine, trucks)
    heap = engine._heaps["default"]
    # Without compaction the heap would hold two entries a truck; it keeps at most a quarter more than
    # the live ones, and every truck's current wake-up is in it.
    live = {(due, cid) for (_, cid), conv in engine.conveyances.items() if (due := conv.wake) is not None}
    assert len(live) == trucks and live <= set(heap) and len(heap) <= trucks * 5 // 4 + 1
    fired = engine.advance(T0.timestamp() + 24 * 3600)

    monkeypatch.setattr(engine_module, "_HEAP_MIN", 10**9)  # the same stream, never compacted
    never = Engine()
    _fleet_with_a_stale_wake_up_each(never, trucks)
    assert len(never._heaps["default"]) == 2 * trucks
    assert never.advance(T0.timestamp() + 24 * 3600) == fired
    assert {f.rule_id for f in fired} >= {"TRK-003", "TRK-004"}
