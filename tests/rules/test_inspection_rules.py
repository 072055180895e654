"""INSP-*, AGRI-*."""

import pytest

from tests.helpers import Stream, rules_of, run


def test_insp_001_sealed_without_passed_inspection() -> None:
    none = Stream()
    none.affix(10)
    alerts = run(none.events)
    assert [(a.rule_id, a.severity) for a in alerts] == [("INSP-001", "critical")]
    failed = Stream()
    failed.inspect(0, failed=("floor",))
    failed.affix(10)
    assert rules_of(run(failed.events)) == ["INSP-003", "INSP-001"]
    passed_after_fail = Stream()
    passed_after_fail.inspect(0, failed=("floor",))
    passed_after_fail.inspect(5)
    passed_after_fail.affix(10)
    assert rules_of(run(passed_after_fail.events)) == ["INSP-003"]


def test_insp_002_incomplete() -> None:
    s = Stream()
    s.add("inspection.completed", 0, inspection_type="reefer_8pt", points={"front_wall": "pass"})
    alerts = run(s.events)
    assert rules_of(alerts) == ["INSP-002"]
    assert "fan_housing" in alerts[0].message


@pytest.mark.parametrize(
    ("agri", "expected"),
    [
        ({"pest_contamination": True}, ["AGRI-001"]),
        ({"wood_packaging_unmarked": True}, ["AGRI-002"]),
        ({"pest_contamination": False, "wood_packaging_unmarked": False}, []),
    ],
)
def test_agri(agri: dict[str, bool], expected: list[str]) -> None:
    s = Stream()
    s.inspect(0, agricultural=agri)
    assert rules_of(run(s.events)) == expected


def test_agricultural_finding_means_not_passed() -> None:
    s = Stream()
    s.inspect(0, agricultural={"pest_contamination": True})
    s.affix(10)
    assert rules_of(run(s.events)) == ["AGRI-001", "INSP-001"]


@pytest.mark.parametrize(("age_min", "fires"), [(24 * 60 - 1, False), (24 * 60, True), (30 * 60, True)])
def test_insp_004_inspection_too_old(age_min: int, fires: bool) -> None:
    s = Stream()
    s.inspect(0)
    s.affix(age_min)
    assert rules_of(run(s.events)) == (["INSP-004"] if fires else [])


def test_late_report_of_older_inspection_does_not_replace_latest() -> None:
    s = Stream()
    s.inspect(10)
    s.inspect(0, failed=("floor",))  # arrives late, happened earlier
    s.affix(20)
    assert rules_of(run(s.events)) == ["INSP-003"]
