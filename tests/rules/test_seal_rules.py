"""SEAL-*, ESEAL-*: for each rule the case that fires, the one that must not, and the threshold edge."""

from tests.helpers import Stream, at, rules_of, run
from tests.rules.driving import STEP, drive


def test_seal_001_fires_on_unlisted_seal_and_normalises_numbers() -> None:
    s = Stream().prepared()
    s.verify(100, seal="SG999999")
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-001"]
    assert alerts[0].severity == "critical" and "SG999999" in alerts[0].message
    ok = Stream().prepared()
    ok.verify(100, seal="sg-123 456")  # same seal, different spelling
    assert run(ok.events) == []


def test_seal_001_needs_an_open_trip() -> None:
    s = Stream()
    s.inspect(0)
    s.affix(10, seal="ANY-1")
    s.verify(20, seal="OTHER")
    assert run(s.events) == []


def test_seal_001_on_heartbeat_alarm_and_removal_share_one_alert_per_seal() -> None:
    s = Stream().prepared()
    s.add("seal.heartbeat", 100, seal_number="X1", battery_pct=90.0, locked=True)
    s.add("seal.heartbeat", 101, seal_number="X1", battery_pct=90.0, locked=True)
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-001"]
    assert alerts[0].dedup_key == "default:SEAL-001:TRL-1:T-1:X1"


def test_seal_002_below_class_h_but_not_for_electronic() -> None:
    s = Stream()
    s.inspect(0)
    s.affix(10, seal="A1", seal_class="S", seal_type="cable")
    s.affix(11, seal="A2", seal_class="I", seal_type="electronic")
    s.affix(12, seal="A3", seal_class="H", seal_type="bar")
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-002"]
    assert alerts[0].severity == "high" and "A1" in alerts[0].dedup_key


def test_seal_003_alarm_outside_destination_not_inside() -> None:
    s = Stream().prepared()
    drive(s, 120, 130)
    s.add("seal.alarm", 131, seal_number="SG123456", alarm="opened")
    s.add("seal.alarm", 132, seal_number="SG123456", alarm="cut", lat=28.5, lon=-99.0)  # at destination
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-003"]
    assert alerts[0].to_json()["occurred_at"] == at(131)
    assert "opened" in alerts[0].message


def test_seal_003_removal_outside_destination_unless_government() -> None:
    s = Stream().prepared()
    drive(s, 120, 130)
    s.add("seal.removed", 131, seal_number="SG123456", reason="government_inspection", authority_ref="CBP-1")
    assert rules_of(run(s.events)) == []
    bad = Stream().prepared()
    drive(bad, 120, 130)
    bad.add("seal.removed", 131, seal_number="SG123456", reason="carrier_inspection")
    assert rules_of(run(bad.events)) == ["SEAL-003"]


def test_seal_004_steps_high_intact_critical_one_alert() -> None:
    s = Stream().prepared()
    s.verify(100, tug=False)
    alerts = run(s.events)
    assert [(a.rule_id, a.severity) for a in alerts] == [("SEAL-004", "high")]
    s.verify(101, intact=False)
    alerts = run(s.events)
    assert [(a.rule_id, a.severity) for a in alerts] == [("SEAL-004", "critical")]
    assert len(alerts[0].evidence) == 2


def test_seal_005_inventory() -> None:
    def case(issued_to: str | None, affixed_at: str | None, seal: str = "S1") -> list[str]:
        s = Stream()
        s.inspect(0)
        if issued_to is not None:
            s.add("seal.issued", 1, seal_number="S1", facility_id=issued_to)
        source = {"source": {"facility_id": affixed_at}} if affixed_at else {}
        s.affix(10, seal=seal, **source)
        return rules_of(run(s.events))

    assert case(None, "F1", seal="S9") == []  # no inventory recorded: nothing to compare with
    assert case("F1", "F1") == []
    assert case("F1", None) == []
    assert case("F1", "F2") == ["SEAL-005"]
    assert case("F1", "F1", seal="S9") == ["SEAL-005"]


def test_seal_006_reuse() -> None:
    s = Stream(conveyance="TRL-A")
    s.inspect(0)
    s.affix(10, seal="R1")
    s.affix(11, seal="R1")  # the same seal scanned twice on the same conveyance: fine
    assert run(s.events) == []
    other = Stream(conveyance="TRL-B")
    other.events = list(s.events)
    other.inspect(20)
    other.affix(30, seal="R1")
    alerts = run(other.events)
    assert rules_of(alerts) == ["SEAL-006"] and alerts[0].conveyance_id == "TRL-B"
    s.add("seal.removed", 40, seal_number="R1", reason="other")
    s.affix(50, seal="R1")
    assert rules_of(run(s.events)) == ["SEAL-006"]


def test_seal_008_reseal_needs_government_removal_within_window() -> None:
    def case(removal_gap: float | None) -> list[str]:
        s = Stream().prepared()
        drive(s, 120, 130)
        if removal_gap is not None:
            s.add(
                "seal.removed", 300 - removal_gap, seal_number="SG123456", reason="government_inspection",
                authority_ref="CBP-1",
            )  # fmt: skip
        s.fix(300, 27.5 + STEP * 10, speed=0)
        s.affix(300, seal="NEW-1")
        # The long quiet stop also opens tracking alerts and their correlations; only SEAL-008/001 matter here.
        return sorted(r for r in set(rules_of(run(s.events))) if r.startswith("SEAL"))

    assert case(60) == []
    assert case(120) == []  # exactly at the window: inclusive
    assert case(121) == ["SEAL-001", "SEAL-008"]
    assert case(None) == ["SEAL-001", "SEAL-008"]


def _arrive(s: Stream) -> float:
    """Depart at 120 and drive into the destination; returns the arrival minute."""
    drive(s, 120, 194)
    return 194


def test_seal_010_window_after_arrival() -> None:
    s = Stream().prepared()
    arrival = _arrive(s)
    alerts = run(s.events, until=at(arrival + 60))
    assert rules_of(alerts) == ["SEAL-010"]
    assert alerts[0].occurred_at == run(s.events, until=at(arrival + 30))[0].occurred_at
    ok = Stream().prepared()
    _arrive(ok)
    ok.verify(arrival + 30)  # exactly at the deadline: the timer fired first (inclusive durations)
    assert rules_of(run(ok.events)) == ["SEAL-010"]
    inside = Stream().prepared()
    _arrive(inside)
    inside.verify(arrival + 29)
    assert run(inside.events, until=at(arrival + 120)) == []


def test_seal_010_delivered_or_closed_before_verification() -> None:
    s = Stream().prepared()
    arrival = _arrive(s)
    s.add("seal.removed", arrival + 5, seal_number="SG123456", reason="delivered")
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-010"]
    assert alerts[0].to_json()["occurred_at"] == at(arrival + 5)  # the delivered removal, not the window
    c = Stream().prepared()
    _arrive(c)
    c.add("trip.closed", arrival + 10, trip_id="T-1")
    assert rules_of(run(c.events)) == ["SEAL-010"]


def test_seal_011_departed_unsealed() -> None:
    s = Stream()
    s.plan(0)
    s.inspect(30)
    drive(s, 120, 125)
    alerts = run(s.events)
    assert rules_of(alerts) == ["SEAL-011"]
    sealed_before_plan = Stream()
    sealed_before_plan.inspect(0)
    sealed_before_plan.affix(5)
    sealed_before_plan.plan(10)
    drive(sealed_before_plan, 120, 125)
    assert run(sealed_before_plan.events) == []


def _eseal(s: Stream, minute: float, battery: float = 90.0, seal: str = "SG123456") -> None:
    s.add("seal.heartbeat", minute, seal_number=seal, battery_pct=battery, locked=True)


def test_eseal_001_silence_counted_from_departure_and_resolved_by_heartbeat() -> None:
    s = Stream().prepared()
    _eseal(s, 100)
    drive(s, 120, 170)
    alerts = run(s.events)
    assert rules_of(alerts) == ["ESEAL-001"]
    assert alerts[0].to_json()["occurred_at"] == at(151)  # 30 min after departure (121), not after 100
    _eseal(s, 171)
    alerts = run(s.events)
    assert alerts[0].status == "resolved"
    assert alerts[0].to_json()["resolved_at"] == at(171)
    ok = Stream().prepared()
    _eseal(ok, 100)
    drive(ok, 120, 140)
    _eseal(ok, 149)
    drive(ok, 141, 178, lat0=27.5 + STEP * 21)
    assert run(ok.events) == []


def test_eseal_002_battery_one_alert_while_low() -> None:
    s = Stream().prepared()
    _eseal(s, 100, battery=20.0)
    assert run(s.events) == []
    _eseal(s, 101, battery=19.9)
    _eseal(s, 102, battery=15.0)
    alerts = run(s.events)
    assert [(a.rule_id, a.severity, a.status) for a in alerts] == [("ESEAL-002", "medium", "open")]
    _eseal(s, 103, battery=20.0)
    assert run(s.events)[0].status == "resolved"
