"""TRK-001..007 and the trip state machine."""

from tests.helpers import Stream, at, circle, rules_of, run
from tests.rules.driving import STEP, _detour, drive


def test_trk_001_needs_full_duration_off_corridor() -> None:
    def case(off_fixes: int) -> list[tuple[str, str, str]]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        _detour(s, 131, lat, off_fixes)
        return [(a.rule_id, a.to_json()["occurred_at"], a.status) for a in run(s.events)]  # type: ignore[misc]

    assert case(3) == []  # off at 132, 133, 134: 2 minutes
    assert case(4) == [("TRK-001", at(135), "resolved")]  # the 135 fix completes 3 minutes


def test_trk_001_corridor_override_and_approved_stop() -> None:
    s = Stream()
    s.plan(0, corridor_m=5000)
    s.inspect(30)
    s.affix(60)
    lat = drive(s, 120, 130)
    _detour(s, 131, lat, 6)
    assert run(s.events) == []  # 1.4 km off is inside a 5 km corridor
    t = Stream()
    t.plan(0, approved_stops=[circle("FUEL", 27.5 + STEP * 14, lon=-98.986, radius=3000)])
    t.inspect(30)
    t.affix(60)
    lat = drive(t, 120, 130)
    _detour(t, 131, lat, 6)
    assert run(t.events) == []  # off the corridor, but inside an approved stop


def test_trk_002_unscheduled_stop_threshold_and_resolution() -> None:
    def case(stop_minutes: int) -> list[tuple[str, str, str]]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        for i in range(1, stop_minutes + 1):
            s.fix(130 + i, lat, speed=0)  # the stop begins at 131
        s.verify(130 + stop_minutes)  # a passing VVTT during the stop keeps COMP-002 out of this test
        drive(s, 131 + stop_minutes, 140 + stop_minutes, lat0=lat)
        return [(a.rule_id, a.to_json()["occurred_at"], a.status) for a in run(s.events)]  # type: ignore[misc]

    assert case(14) == []  # moving again at 145: stopped 14 minutes
    # Moving again at 146, but the timer due at 131 + 15 = 146 fires before that fix is applied.
    assert case(15) == [("TRK-002", at(146), "resolved")]


def test_trk_002_at_exactly_the_duration() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    for i in range(1, 17):
        s.fix(130 + i, lat, speed=0)  # 131..146: the timer at 131 + 15 = 146 fires before the 146 fix
    alerts = run(s.events)
    assert [(a.rule_id, a.to_json()["occurred_at"], a.status) for a in alerts] == [("TRK-002", at(146), "open")]


def test_trk_002_not_at_approved_stop_and_derived_speed() -> None:
    s = Stream()
    s.plan(0, approved_stops=[circle("REST", 27.5 + STEP * 10)])
    s.inspect(30)
    s.affix(60)
    lat = drive(s, 120, 130)
    for i in range(1, 30):
        s.fix(130 + i, lat, speed=0)
    assert run(s.events) == []
    derived = Stream().prepared()
    lat = drive(derived, 120, 130)
    for i in range(1, 20):
        derived.fix(130 + i, lat, speed=None)  # no speed: derived from the previous fix (0 km/h)
    assert rules_of(run(derived.events)) == ["TRK-002"]


def test_trk_003_gap_inclusive() -> None:
    def case(gap: int) -> list[str]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        drive(s, 130 + gap, 140 + gap, lat0=lat + STEP * gap)
        return rules_of(run(s.events))

    assert case(14) == []
    assert case(15) == ["TRK-003"]


def test_trk_004_late_arrival_and_resolution_on_arrival() -> None:
    s = Stream()
    s.plan(0, planned_arrival=at(150))
    s.inspect(30)
    s.affix(60)
    s.fix(119, 27.5, speed=0)
    drive(s, 120, 194)
    s.verify(195)
    alerts = run(s.events)
    assert [(a.rule_id, a.severity, a.to_json()["occurred_at"], a.status) for a in alerts] == [
        ("TRK-004", "medium", at(180), "resolved")
    ]
    early = Stream()
    early.plan(0, planned_arrival=at(170))
    early.inspect(30)
    early.affix(60)
    drive(early, 120, 194)
    early.verify(195)
    assert run(early.events) == []  # arrived at 194 <= 170 + 30


def test_trk_005_impossible_movement() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    s.fix(131, lat + 0.2)  # 22 km in one minute
    assert "TRK-005" in rules_of(run(s.events))
    same = Stream().prepared()
    lat = drive(same, 120, 130)
    same.fix(130, lat + 0.01)  # about 1.1 km at the same instant
    assert "TRK-005" in rules_of(run(same.events))
    ok = Stream().prepared()
    lat = drive(ok, 120, 130)
    ok.fix(131, lat + 0.02)  # 2.2 km in a minute: 133 km/h
    assert "TRK-005" not in rules_of(run(ok.events))


def test_trk_006_stop_at_unexpected_facility() -> None:
    def case(stop_minutes: int) -> list[str]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        s.add("facility.registered", 1, place=circle("OTHER-WH", lat, radius=300))
        for i in range(1, stop_minutes + 1):
            s.fix(130 + i, lat, speed=0)  # stopped from 131, moving again at 131 + stop_minutes
        s.verify(130 + stop_minutes)
        drive(s, 131 + stop_minutes, 135 + stop_minutes, lat0=lat)
        return rules_of(run(s.events))

    assert case(4) == []
    assert case(5) == ["TRK-006"]
    assert case(20) == ["TRK-006", "TRK-002"]


def test_facility_with_approved_id_counts_as_approved() -> None:
    s = Stream()
    s.plan(0, approved_stops=[circle("REST", 10.0)])  # the plan's geometry is elsewhere
    s.inspect(30)
    s.affix(60)
    lat = drive(s, 120, 130)
    s.add("facility.registered", 2, conveyance_id=None, place=circle("REST", lat, radius=300))
    for i in range(1, 25):
        s.fix(130 + i, lat, speed=0)
    assert run(s.events) == []


def test_trk_007_movement_without_trip() -> None:
    s = Stream()
    s.fix(0, 27.5)
    s.fix(1, 27.5 + 0.004)  # ~440 m
    assert run(s.events) == []
    s.fix(2, 27.5 + 0.005)  # ~550 m
    alerts = run(s.events)
    assert [(a.rule_id, a.trip_id) for a in alerts] == [("TRK-007", None)]


def test_closing_trip_resolves_tracking_alerts() -> None:
    s = Stream().prepared()
    drive(s, 120, 130)
    s.add("trip.closed", 160, trip_id="T-1")
    alerts = run(s.events)
    # Closed in transit before any passing VVTT: SEAL-010 stays open for a person to look at.
    assert [(a.rule_id, a.status) for a in alerts] == [("TRK-003", "resolved"), ("SEAL-010", "open")]


def test_older_fix_is_ignored_by_tracking() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    s.fix(125, lat + 1.0)  # late and far away: not a jump, not a deviation
    drive(s, 131, 135, lat0=lat + STEP)
    assert run(s.events) == []
