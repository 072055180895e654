"""One clock per tenant (contract.md): one tenant's events never fire, delay or re-stamp another's
timers; a fix far behind its tenant's clock is backfill, kept but not judged."""

from datetime import timedelta
from typing import Any

import pytest

from sealguard.rules.engine import Engine
from sealguard.schemas import decode_object
from tests.helpers import T0, Stream, feed, rules_of, run
from tests.rules.driving import STEP, drive

DAY_MIN = 24 * 60


def _in_transit(tenant: str, conveyance: str = "TRL-1") -> tuple[Stream, float]:
    s = Stream(conveyance, tenant=tenant).prepared()
    return s, drive(s, 120, 130)


def test_another_tenants_future_fix_fires_nothing_here() -> None:
    a, lat = _in_transit("acme")
    b = Stream("TRL-9", tenant="globex")
    b.fix(130 + 3 * DAY_MIN, 27.5, speed=0)  # three days ahead
    events: list[dict[str, Any]] = a.events + b.events
    drive(a, 131, 140, lat0=lat)  # acme keeps driving on its own time
    for i, e in enumerate(a.events[-10:]):
        e["event_id"] = f"late-{i}"
    events += a.events[-10:]
    engine = Engine()
    findings = feed(engine, events)
    assert [f.rule_id for f in findings if f.action == "raise"] == []  # no TRK-003 nor TRK-004 for acme
    assert engine.clock_of("acme") == (T0 + timedelta(minutes=140)).timestamp()
    assert engine.clock_of("globex") == (T0 + timedelta(minutes=130 + 3 * DAY_MIN)).timestamp()
    # acme's own silence still fires, on acme's time, stamped with acme's deadline.
    gap = engine.advance((T0 + timedelta(minutes=160)).timestamp(), "acme")
    assert [(f.rule_id, f.at) for f in gap] == [("TRK-003", (T0 + timedelta(minutes=155)).timestamp())]


def test_advancing_every_tenant_fires_in_due_order() -> None:
    a, _ = _in_transit("acme")
    b, _ = _in_transit("globex")
    engine = Engine()
    feed(engine, a.events + b.events)
    fired = engine.advance((T0 + timedelta(minutes=200)).timestamp())
    assert [(f.rule_id, f.tenant) for f in fired if f.action == "raise"] == [
        ("TRK-003", "acme"),
        ("TRK-003", "globex"),
    ]


def test_replay_ends_every_tenant_at_the_latest_time_in_the_input() -> None:
    a, _ = _in_transit("acme")
    b = Stream("TRL-9", tenant="globex")
    b.fix(300, 27.5, speed=0)
    assert rules_of(run(a.events + b.events)) == ["TRK-003"]  # contract: --until defaults to the latest


def _silent_then_backfill(backfill_after: float) -> list[dict[str, Any]]:
    """TRL-1 goes silent at 130 while TRL-2 of the same tenant keeps the clock moving; later TRL-1
    uploads its buffered fixes, among them a 30-minute stop away from any approved place."""
    x, lat = _in_transit("acme", "TRL-1")
    y = Stream("TRL-2", tenant="acme")
    for e in y.events:
        e["event_id"] = "y" + e["event_id"]
    events = list(x.events)
    for m in range(131, 131 + int(backfill_after)):
        events.append(y.fix(m, 27.5, speed=0) | {"event_id": f"y{m}"})
    buffered = Stream("TRL-1", tenant="acme")
    for m in range(131, 160):
        buffered.fix(m, lat + STEP * (m - 130))
    stop_lat = lat + STEP * 29
    for m in range(160, 190):
        buffered.fix(m, stop_lat, speed=0)
    for m in range(190, 200):
        buffered.fix(m, stop_lat + STEP * (m - 189))
    for i, e in enumerate(buffered.events):
        e["event_id"] = f"buf{i}"
        events.append(e)
        # TRL-2 reports between the uploaded fixes, as a live fleet does.
        events.append(y.fix(131 + backfill_after + i / 100, 27.5, speed=0) | {"event_id": f"y-late{i}"})
    return events


def test_buffered_fixes_far_behind_the_clock_page_nothing() -> None:
    events = _silent_then_backfill(backfill_after=6 * 60)
    alerts = run(events)
    # The silence itself was noticed; the hours-old stop in the upload is history, not a page.
    assert rules_of(alerts) == ["TRK-003"]


def test_fixes_within_the_window_are_still_judged() -> None:
    # The same upload only 10 minutes behind the clock (inside TRK-003's 15-minute window) is judged:
    # its 30-minute stop is an unscheduled stop.
    events = _silent_then_backfill(backfill_after=10)
    assert "TRK-002" in rules_of(run(events))


def test_snapshot_round_trips_clocks_and_reads_version_1() -> None:
    a, _ = _in_transit("acme")
    b = Stream("TRL-9", tenant="globex")
    b.fix(500, 27.5, speed=0)
    engine = Engine()
    feed(engine, a.events + b.events)
    data = engine.snapshot()
    restored = Engine.restore(data)
    assert restored.clocks == engine.clocks
    later = (T0 + timedelta(minutes=600)).timestamp()
    assert restored.advance(later) == engine.advance(later)
    old = dict(data, version=1, clock=engine.clock)
    del old["clocks"]
    legacy = Engine.restore(old)
    assert set(legacy.clocks) == {"acme", "globex"}
    assert set(legacy.clocks.values()) == {engine.clock}


def test_a_timer_whose_rule_raises_is_dropped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in one timer's rule must not hold its tenant's clock, nor dead-letter every later event."""
    from sealguard.rules import tracking

    original = tracking.fire

    def fire(ctx: Any, conv: Any, name: str, due: float) -> None:
        if conv.tenant == "acme" and name == "TRK-003":
            raise ZeroDivisionError("a rule bug")
        original(ctx, conv, name, due)

    monkeypatch.setattr(tracking, "fire", fire)
    a, _ = _in_transit("acme")
    b, _ = _in_transit("globex")
    engine = Engine()
    feed(engine, a.events + b.events)
    fired = engine.advance((T0 + timedelta(minutes=200)).timestamp())
    assert [(f.rule_id, f.tenant) for f in fired if f.action == "raise"] == [("TRK-003", "globex")]
    assert [(t, c, n) for t, c, n, _, _ in engine.timer_failures] == [("acme", "TRL-1", "TRK-003")]
    late = Stream("TRL-1", tenant="acme")
    late.fix(201, 27.9)
    assert engine.process(decode_object(late.events[0] | {"event_id": "late"})).status == "applied"
