"""COMP-001..003."""

from tests.helpers import Stream, rules_of, run
from tests.rules.driving import STEP, _detour, drive


def _stopped(s: Stream, start: int, minutes: int, lat: float) -> None:
    for i in range(minutes):
        s.fix(start + i, lat, speed=0)


def test_comp_001_alarm_during_unscheduled_stop() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    _stopped(s, 131, 20, lat)
    s.add("seal.alarm", 150, seal_number="SG123456", alarm="tamper")
    assert sorted(rules_of(run(s.events))) == ["COMP-001", "SEAL-003", "TRK-002"]


def test_comp_001_window_after_stop_ended() -> None:
    def case(after: int) -> list[str]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        _stopped(s, 131, 20, lat)
        s.verify(140)  # verified during the stop, so COMP-002 stays quiet
        end = drive(s, 151, 151 + after, lat0=lat)
        s.add("seal.alarm", 151 + after, seal_number="SG123456", alarm="tamper", lat=end, lon=-99.0)
        return sorted(set(rules_of(run(s.events))) - {"SEAL-003", "TRK-002"})

    assert case(30) == ["COMP-001"]
    assert case(31) == []


def test_comp_002_verification_during_stop_prevents_it() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    _stopped(s, 131, 20, lat)
    s.verify(148)
    drive(s, 151, 160, lat0=lat)
    assert rules_of(run(s.events)) == ["TRK-002"]


def test_comp_003_alarm_in_tracking_gap_window() -> None:
    def case(after_gap: int) -> list[str]:
        s = Stream().prepared()
        lat = drive(s, 120, 130)
        end = drive(s, 160, 160 + after_gap, lat0=lat + STEP * 30)  # gap 130..160: TRK-003 at 145
        s.add("seal.removed", 160 + after_gap, seal_number="SG123456", reason="other", lat=end, lon=-99.0)
        return sorted(set(rules_of(run(s.events))) - {"SEAL-003", "TRK-003"})

    assert case(30) == ["COMP-003"]
    assert case(31) == []


def test_comp_003_mismatch_while_off_route() -> None:
    s = Stream().prepared()
    lat = drive(s, 120, 130)
    _detour(s, 131, lat, 6)
    s.verify(136, seal="ZZ-1")
    assert sorted(rules_of(run(s.events))) == ["COMP-003", "SEAL-001", "TRK-001"]
