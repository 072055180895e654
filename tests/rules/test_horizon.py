"""State that does not grow forever: past the engine's horizon, closed trip ids, a seal's last use, event
ids seen and conveyances with nothing open are forgotten, a tenant at a time when its clock enters a new
day, so that when it happens does not change what is forgotten (a restored engine forgets the same)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sealguard.alerts.book import AlertBook
from sealguard.rules.engine import DAY, Engine
from sealguard.rules.policy import Policy, PolicyError, render
from sealguard.schemas import decode_object
from sealguard.stream.replay import replay
from tests.helpers import Stream, feed

HORIZON = 2 * DAY


def _engine() -> Engine:
    return Engine(horizon=HORIZON)


def _rules(engine: Engine, events: list[dict[str, Any]]) -> list[str]:
    return [f.rule_id for f in feed(engine, events) if f.action == "raise"]


def _stream(conveyance: str) -> Stream:
    """A stream whose event ids carry its conveyance (streams number their events alike)."""
    stream = Stream(conveyance)
    add = stream.add

    def tagged(kind: str, minute: float, **fields: Any) -> dict[str, Any]:
        event = add(kind, minute, **fields)
        event["event_id"] = f"{conveyance}-{event['event_id']}"
        return event

    stream.add = tagged  # type: ignore[method-assign]
    return stream


def test_a_seal_reused_within_the_horizon_is_seal_006_and_after_it_is_not() -> None:
    a, b, c = _stream("TRL-1"), _stream("TRL-2"), _stream("TRL-3")
    a.affix(0, "S1")
    b.affix(60, "S1")  # an hour later, another conveyance: reuse
    c.affix(3 * 24 * 60, "S1")  # three days later: beyond the horizon, forgotten
    engine = _engine()
    assert "SEAL-006" in _rules(engine, a.events + b.events)
    assert "SEAL-006" not in _rules(engine, c.events)
    # with the default horizon (400 days) the same affix is a reuse
    default = Engine()
    feed(default, a.events + b.events)
    assert "SEAL-006" in [f.rule_id for f in feed(default, c.events)]


def test_a_closed_trip_cannot_be_planned_again_within_the_horizon_and_can_after_it() -> None:
    s = _stream("TRL-1")
    s.plan(0)
    s.add("trip.closed", 60, trip_id="T-1")
    engine = _engine()
    feed(engine, s.events)
    soon = s.plan(120)
    assert engine.process(decode_object(soon)).status == "rejected"
    later = s.plan(4 * 24 * 60)
    assert engine.process(decode_object(later)).status == "applied"


def test_a_conveyance_with_nothing_open_is_forgotten_and_one_on_a_trip_is_kept() -> None:
    idle, busy, other = _stream("TRL-IDLE"), _stream("TRL-BUSY"), _stream("TRL-OTHER")
    idle.fix(0, 27.5, speed=0)
    busy.prepared()
    other.fix(5 * 24 * 60, 27.5, speed=0)  # the tenant's clock moves five days on
    engine = _engine()
    feed(engine, idle.events + busy.events + other.events)
    known = {cid for _, cid in engine.conveyances}
    assert "TRL-IDLE" not in known and {"TRL-BUSY", "TRL-OTHER"} <= known


def test_event_ids_are_remembered_for_the_horizon_only() -> None:
    s = Stream("TRL-1")
    first = s.fix(0, 27.5)
    engine = _engine()
    feed(engine, s.events)
    assert engine.process(decode_object(first)).status == "duplicate"
    mover = _stream("TRL-2")
    mover.fix(3 * 24 * 60, 27.6)
    feed(engine, mover.events)
    assert engine.process(decode_object(first)).status == "applied"  # forgotten: a new event again


def test_pruning_is_the_same_with_a_restore_in_the_middle() -> None:
    """Replay a stretch of four days in two halves through snapshot and restore: the alerts equal one
    uninterrupted run's, forgetting included."""
    events: list[dict[str, Any]] = []
    for day in range(4):
        s = _stream(f"TRL-{day}")
        s.affix(day * 24 * 60, "S-SHARED")
        s.affix(day * 24 * 60 + 10, f"S-{day}")
        events += s.events
    lines = [orjson.dumps(e) for e in events]
    whole = replay(lines, _engine(), book=AlertBook()).book.in_order()

    half = len(lines) // 2
    engine, book = _engine(), AlertBook()
    replay(lines[:half], engine, book=book, until=_at(events[half - 1]))
    data = orjson.loads(orjson.dumps({"engine": engine.snapshot(), "book": book.snapshot()}))
    restored = Engine.restore(data["engine"], horizon=HORIZON)
    rest_book = AlertBook.restore(data["book"], retain=True)
    second = replay(lines[half:], restored, book=rest_book).book.alerts
    got = {a.alert_id for a in book.alerts} | {a.alert_id for a in second}
    assert got == {a.alert_id for a in whole}
    assert sum(a.rule_id == "SEAL-006" for a in whole) == 3  # each day reuses the day before's seal


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).astimezone(UTC).timestamp()


def test_a_snapshot_from_before_the_horizon_restores() -> None:
    """Version 2 snapshots written before this change (closed trips as a list, registry triples, event ids
    without their time) still restore."""
    s = Stream("TRL-1")
    s.plan(0)
    s.affix(10, "S1")
    s.add("trip.closed", 60, trip_id="T-1")
    engine = Engine()
    feed(engine, s.events)
    data = orjson.loads(orjson.dumps(engine.snapshot()))
    for tenant in data["tenants"].values():
        tenant["closed_trips"] = sorted(tenant["closed_trips"])
        tenant["registry"] = {k: v[:3] for k, v in tenant["registry"].items()}
    data["seen"] = [s[:2] for s in data["seen"]]
    data.pop("pruned_day")
    old = Engine.restore(data)
    assert "T-1" in old.tenants["default"].closed_trips
    assert old.tenants["default"].registry["S1"][:3] == ("TRL-1", "T-1", False)
    assert ("default", s.events[0]["event_id"]) in old.seen


def test_the_horizon_is_set_by_the_policy_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("horizon: 2d\nrules:\n  TRK-002: {enabled: false}\n")
    policy = Policy.load(good)
    assert Engine(policy).horizon == HORIZON
    assert "horizon: 2d  #" in render(policy)
    bad = tmp_path / "bad.yaml"
    bad.write_text("horizon: 3h\n")
    with pytest.raises(PolicyError, match="at least a day"):
        Policy.load(bad)
    a, b = _stream("TRL-1"), _stream("TRL-2")
    a.affix(0, "S1")
    b.affix(3 * 24 * 60, "S1")
    assert "SEAL-006" not in _rules(Engine(policy), a.events + b.events)
    assert "SEAL-006" in _rules(Engine(), a.events + b.events)


def test_clocks_before_1970_are_pruned_by_day_as_any_other() -> None:
    """The engine skips the pruning check until a tenant's clock enters its next day; a tenant never pruned
    has no such day yet, whatever its first event's time (a negative epoch time included)."""
    engine = _engine()
    stream = Stream("TRL-OLD")
    first = stream.fix(0, 27.5)
    first["occurred_at"] = "1969-12-30T06:00:00Z"
    later = stream.fix(1, 27.5)
    later["occurred_at"] = "1969-12-31T06:00:00Z"
    feed(engine, [first])
    assert engine.take_pruned() == [("default", -2 * DAY - HORIZON)]
    feed(engine, [later])
    assert engine.take_pruned() == [("default", -DAY - HORIZON)]
    feed(engine, [stream.fix(2, 27.5)])  # 2026: the next day of its clock, pruned once more
    assert len(engine.take_pruned()) == 1


def test_a_trip_keeps_its_route_stride_across_a_snapshot_and_an_older_row_has_none() -> None:
    from sealguard.rules.state import Trip

    s = Stream("TRL-1")
    s.plan(0)
    engine = Engine()
    for event in s.events:
        engine.process(decode_object(event))
    (conv,) = engine.conveyances.values()
    trip = conv.trips[0]
    trip.route_hint, trip.route_stride = 7, 2
    plain = trip.to_plain()
    assert plain["route_stride"] == 2
    assert Trip.from_plain(plain, trip.plan).route_stride == 2
    del plain["route_stride"]  # a checkpoint written before the stride was kept
    restored = Trip.from_plain(plain, trip.plan)
    assert (restored.route_hint, restored.route_stride) == (7, 0)


def test_findings_of_an_event_whose_rule_raised_are_not_handed_to_the_next_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sealguard.rules import tracking

    s = Stream("TRL-1")
    s.plan(0)
    s.fix(1, 27.52)  # out of the origin: in transit, so every fix is checked against the corridor
    engine = Engine()
    for event in s.events:
        engine.process(decode_object(event))

    def broken(ctx: Any, conv: Any, trip: Any, lon: float, lat: float, t: float, eid: str) -> None:
        ctx.out.raise_("TRK-001", conv.conveyance_id, trip.trip_id, t, "found, then the rule broke", (eid,))
        raise RuntimeError("a rule broke")

    with monkeypatch.context() as patched:
        patched.setattr(tracking, "_corridor", broken)
        s.fix(2, 27.53)
        with pytest.raises(RuntimeError):
            engine.process(decode_object(s.events[-1]))
    s.fix(3, 27.54)
    assert engine.process(decode_object(s.events[-1])).findings == []
