"""The policy file: defaults, overrides, per-tenant structure and refusals with line numbers."""

import pytest

from sealguard.rules.catalog import RULES
from sealguard.rules.policy import Policy, PolicyError, parse_duration, render
from tests.helpers import Stream, rules_of, run


def test_every_rule_of_the_criteria_is_in_the_catalog() -> None:
    expected = {f"SEAL-{n:03d}" for n in (1, 2, 3, 4, 5, 6, 8, 10, 11)} | {"ESEAL-001", "ESEAL-002"}
    expected |= {f"INSP-{n:03d}" for n in range(1, 5)} | {"AGRI-001", "AGRI-002"}
    expected |= {f"TRK-{n:03d}" for n in range(1, 8)} | {f"COMP-{n:03d}" for n in range(1, 4)}
    assert set(RULES) == expected and len(RULES) == 27


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1h30m", 5400),
        ("PT15M", 900),
        (30, 30),
        ("250ms", 0.25),
        ("1d", 86400),
        ("5 m", 300),
        ("1m30s500ms", 90.5),
        ("P1DT1H", 90000),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    """One grammar for every duration sealguard reads (policy and alerting configuration)."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "5x", "m5", "-5s", "1.5.2h", True, None, "1h-30m"])
def test_not_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  TRK-009: {}\n", 2, "unknown rule id 'TRK-009'"),
        ("rules:\n  TRK-001:\n    duration: -5\n", 3, "negative"),
        ("rules:\n  TRK-001:\n    duration: soon\n", 3, "not a duration"),
        ("rules:\n  TRK-001:\n    corridor_m: wide\n", 3, "must be a number"),
        ("rules:\n  TRK-001:\n    corridor: 5\n", 3, "unknown parameter 'corridor'"),
        ("rules:\n  TRK-001:\n    enabled: maybe\n", 3, "true or false"),
        ("rules:\n  TRK-001:\n    severity: urgent\n", 3, "one of critical"),
        ("alerts: {}\n", 1, "unknown top-level key"),
        ("tenants:\n  acme:\n    rules:\n      NOPE-1: {}\n", 4, "unknown rule id"),
        ("rules: [1\n", 2, "not valid YAML"),
    ],
)
def test_refused_with_line_and_reason(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.parse(text, source="p.yaml")
    assert info.value.line == line and words in str(info.value)
    assert str(info.value).startswith(f"p.yaml:{line}:")


def test_overrides_apply_per_tenant_only() -> None:
    policy = Policy.parse(
        "rules:\n  TRK-003: {window: 20m}\ntenants:\n  acme:\n    rules:\n      TRK-003: {window: 5m}\n"
        "  beta:\n    TRK-003: {enabled: false}\n"
    )
    assert policy.for_tenant("default").param("TRK-003", "window") == 1200
    assert policy.for_tenant("acme").param("TRK-003", "window") == 300
    assert policy.for_tenant("beta").enabled("TRK-003") is False
    assert policy.for_tenant("beta").param("TRK-003", "window") == 1200


def test_disabled_rule_and_severity_override_reach_the_alerts() -> None:
    s = Stream()
    s.affix(10, seal_class="S")
    assert sorted(rules_of(run(s.events))) == ["INSP-001", "SEAL-002"]
    policy = Policy.parse("rules:\n  INSP-001: {enabled: false}\n  SEAL-002: {severity: low}\n")
    alerts = run(s.events, policy=policy)
    assert [(a.rule_id, a.severity) for a in alerts] == [("SEAL-002", "low")]


def test_render_lists_every_rule_and_parameter() -> None:
    text = render(Policy())
    for rule_id, spec in RULES.items():
        assert f"  {rule_id}:" in text
        for name in spec.params:
            assert f"    {name}:" in text
    assert "duration: 3m" in text and "window: 2h" in text
